#include "net/wechatpay/jsapi.hpp"

#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>
#include <openssl/rand.h>

#include "net/wechatpay/signing.hpp"

namespace paycoord::wechatpay {

std::string jsapi_signature_message(std::string_view app_id, std::string_view time_stamp,
                                    std::string_view nonce_str, std::string_view package) {
  return signature_message({app_id, time_stamp, nonce_str, package});
}

expected<jsapi_pay_params, protocol_error> make_jsapi_pay_params(const private_key& merchant_key,
                                                                 std::string_view appid,
                                                                 std::string_view prepay_id,
                                                                 timestamp now,
                                                                 std::string nonce_str) {
  jsapi_pay_params params;
  params.app_id = appid;
  params.time_stamp = unix_seconds_text(now);
  params.nonce_str = std::move(nonce_str);
  params.package = "prepay_id=" + std::string{prepay_id};
  params.sign_type = "RSA";
  auto signature = sign_sha256_rsa(merchant_key,
                                   jsapi_signature_message(params.app_id, params.time_stamp,
                                                           params.nonce_str, params.package));
  if (!signature)
    return make_unexpected(signature.error());
  params.pay_sign = std::move(*signature);
  return params;
}

std::string to_json(const jsapi_pay_params& value) {
  nlohmann::json out{{"appId", value.app_id},         {"timeStamp", value.time_stamp},
                     {"nonceStr", value.nonce_str},   {"package", value.package},
                     {"signType", value.sign_type},   {"paySign", value.pay_sign}};
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string make_nonce(size_t length) {
  constexpr char digits[] = "0123456789ABCDEF";
  std::string random((length + 1) / 2, '\0');
  if (!random.empty()
      && RAND_bytes(reinterpret_cast<unsigned char*>(random.data()),
                    static_cast<int>(random.size()))
           != 1) {
    std::fputs("paycoord: RAND_bytes failed; refusing to make a predictable nonce\n", stderr);
    std::abort();
  }
  std::string nonce;
  nonce.reserve(length);
  for (size_t i = 0; i < length; ++i) {
    auto byte = static_cast<unsigned char>(random[i / 2]);
    nonce += digits[i % 2 == 0 ? byte >> 4 : byte & 0x0f];
  }
  return nonce;
}

} // namespace paycoord::wechatpay
