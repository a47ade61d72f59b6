#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/expected.hpp"
#include "common/time.hpp"
#include "net/wechatpay/error.hpp"
#include "net/wechatpay/keys.hpp"

namespace paycoord::wechatpay {

/// What the mobile page passes to `WeixinJSBridge.invoke('getBrandWCPayRequest', ...)`.
struct jsapi_pay_params {
  std::string app_id;     ///< appId
  std::string time_stamp; ///< timeStamp, unix seconds
  std::string nonce_str;  ///< nonceStr
  std::string package;    ///< "prepay_id=..."
  std::string sign_type;  ///< "RSA"
  std::string pay_sign;   ///< paySign
};

/// `appId\ntimeStamp\nnonceStr\npackage\n`: what paySign signs.
std::string jsapi_signature_message(std::string_view app_id, std::string_view time_stamp,
                                    std::string_view nonce_str, std::string_view package);

/// The pay parameters for `prepay_id`, signed with the merchant key at `now`.
/// Fails with signing_failed only if OpenSSL does.
expected<jsapi_pay_params, protocol_error> make_jsapi_pay_params(const private_key& merchant_key,
                                                                 std::string_view appid,
                                                                 std::string_view prepay_id,
                                                                 timestamp now,
                                                                 std::string nonce_str);

/// `{"appId","timeStamp","nonceStr","package","signType","paySign"}` with
/// exactly the names the mobile page expects.
std::string to_json(const jsapi_pay_params& value);

/// A fresh random nonce of `length` upper-case hex characters (4 bits each)
/// from OpenSSL's CSPRNG. Aborts if the CSPRNG fails: a predictable nonce is
/// never an acceptable fallback, and RAND_bytes does not fail on a working
/// system.
std::string make_nonce(size_t length = 32);

} // namespace paycoord::wechatpay
