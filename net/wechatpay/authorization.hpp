#pragma once

#include <string>
#include <string_view>

#include "common/expected.hpp"
#include "common/time.hpp"
#include "net/wechatpay/error.hpp"
#include "net/wechatpay/keys.hpp"

namespace paycoord::wechatpay {

/// The parameters of a merchant request's `Authorization` header.
struct authorization {
  std::string mchid;
  std::string nonce_str;
  std::string timestamp;
  std::string serial_no; ///< the merchant certificate serial
  std::string signature;
};

/// The `Authorization` header value for a merchant request:
/// `WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",timestamp="…",serial_no="…"`,
/// signed over `request_signature_message(method, url, unix seconds of now,
/// nonce, body)`. `url` is the path and query exactly as sent. Fails with
/// signing_failed only if OpenSSL does.
expected<std::string, protocol_error>
authorization_header(std::string_view mchid, std::string_view serial_no, const private_key& key,
                     std::string_view method, std::string_view url, std::string_view body,
                     timestamp now, std::string_view nonce);

/// Parses an `Authorization` header: the scheme, then `key="value"` pairs
/// separated by commas (optional spaces around them), in any order. All five
/// parameters are required; unknown ones are ignored, repeated ones refused.
/// Fails with bad_authorization saying what is wrong.
expected<authorization, protocol_error> parse_authorization(std::string_view header);

/// Verifies a merchant request the way WeChat Pay does (used by our
/// sandbox): the signed time within `max_skew` of `now` (stale_timestamp,
/// bad_header), then the signature over the raw `body` with the merchant's
/// public key (signature_invalid). Does not check mchid or serial_no: the
/// caller knows which merchant it expects.
check_result verify_request(const public_key& merchant_key, const authorization& auth,
                            std::string_view method, std::string_view url,
                            std::string_view body, timestamp now, duration max_skew);

} // namespace paycoord::wechatpay
