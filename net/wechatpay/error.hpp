#pragma once

#include <string>
#include <utility>
#include <variant>

#include "common/expected.hpp"

namespace paycoord::wechatpay {

/// Why a WeChat Pay protocol step failed. One code per failure a caller may
/// want to tell apart (answer 401 vs 400, alert vs retry).
enum class wechatpay_error {
  // -- response and notification signatures ---------------------------------
  missing_header,             ///< detail: which header
  bad_header,                 ///< a header present but malformed (e.g. timestamp)
  unsupported_signature_type, ///< Wechatpay-Signature-Type not RSA2048
  unknown_serial,             ///< Wechatpay-Serial not in the key set
  stale_timestamp,            ///< outside the replay window
  signature_probe,            ///< WeChat's deliberate WECHATPAY/SIGNTEST/ probe
  signature_invalid,          ///< does not verify (or is not base64)
  signing_failed,             ///< OpenSSL refused to sign
  bad_authorization,          ///< malformed Authorization request header
  // -- encrypted resources -----------------------------------------------------
  bad_base64,
  unsupported_algorithm,      ///< resource.algorithm not AEAD_AES_256_GCM
  decryption_failed,          ///< GCM tag mismatch, wrong key, wrong nonce size
  bad_apiv3_key,              ///< not exactly 32 bytes
  // -- JSON models -----------------------------------------------------------
  malformed_json,             ///< not JSON, not an object, too large or deep
  missing_field,              ///< detail: the field's path
  invalid_field,              ///< wrong type or out of range; detail: path
  // -- keys and credentials --------------------------------------------------
  key_file_unreadable,
  key_parse_failed,
  key_is_merchant_own,        ///< WeChat's key slot holds the merchant's key
  duplicate_key_id,
  no_platform_keys,
};

/// The identifier of `code`, e.g. "stale_timestamp". Never null.
const char* to_string(wechatpay_error code);

/// True for the codes `verify_response` gives: the message's origin is not
/// proven (answer a notification 401; treat a response as not received).
/// False for everything after verification (bad JSON, decryption, keys).
bool is_signature_failure(wechatpay_error code);

/// An error value: the code to branch on and a human detail for logs and
/// operators (which header, which serial arrived, the clock skew...). The
/// detail never contains secrets.
struct protocol_error {
  wechatpay_error code;
  std::string detail;

  /// "code: detail", or just the code when there is no detail.
  std::string message() const;
};

/// Shorthand for building the error alternative of an `expected`.
inline unexpected<protocol_error> fail(wechatpay_error code,
                                       std::string detail = {}) {
  return make_unexpected(protocol_error{code, std::move(detail)});
}

/// The result of a check that yields nothing on success.
using check_result = expected<std::monostate, protocol_error>;

/// The success value of a `check_result`.
inline check_result check_passed() {
  return std::monostate{};
}

} // namespace paycoord::wechatpay
