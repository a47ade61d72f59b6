#pragma once

#include <string>
#include <string_view>

#include "common/expected.hpp"
#include "common/time.hpp"
#include "net/wechatpay/error.hpp"
#include "net/wechatpay/key_set.hpp"
#include "net/wechatpay/keys.hpp"

namespace paycoord::wechatpay {

// -- header names (HTTP header names compare case-insensitively) --------------

inline constexpr std::string_view timestamp_header = "Wechatpay-Timestamp";
inline constexpr std::string_view nonce_header = "Wechatpay-Nonce";
inline constexpr std::string_view signature_header = "Wechatpay-Signature";
inline constexpr std::string_view serial_header = "Wechatpay-Serial";
inline constexpr std::string_view signature_type_header = "Wechatpay-Signature-Type";

/// The signature headers of a WeChat Pay response or notification, as
/// received. An empty string means the header was absent.
struct signed_headers {
  std::string timestamp;
  std::string nonce;
  std::string signature;
  std::string serial;
  std::string signature_type; ///< absent means WECHATPAY2-SHA256-RSA2048
};

/// Decides whether a response or notification really comes from WeChat Pay.
/// Checks, in order: all headers present (missing_header naming it), the
/// signature type (unsupported_signature_type), the serial is in `keys`
/// (unknown_serial, naming the serial and the known ones), the timestamp
/// lies strictly within `max_skew` of `now` (bad_header, stale_timestamp with
/// the skew), then the signature over `timestamp\nnonce\nraw_body\n`
/// (signature_probe, signature_invalid). `raw_body` must be the bytes as
/// received: never re-serialised JSON.
check_result verify_response(const key_set& keys, const signed_headers& headers,
                             std::string_view raw_body, timestamp now, duration max_skew);

/// The headers WeChat Pay would send with `body` (our sandbox's side):
/// signed with `key` at `now`, naming `serial` as the key id. Fails with
/// signing_failed only if OpenSSL does.
expected<signed_headers, protocol_error> sign_response(const private_key& key,
                                                       std::string_view serial, timestamp now,
                                                       std::string_view nonce,
                                                       std::string_view body);

} // namespace paycoord::wechatpay
