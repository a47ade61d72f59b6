#pragma once

#include <string>
#include <string_view>

#include "common/expected.hpp"
#include "common/time.hpp"
#include "net/wechatpay/error.hpp"
#include "net/wechatpay/key_set.hpp"
#include "net/wechatpay/keys.hpp"
#include "net/wechatpay/models.hpp"
#include "net/wechatpay/signed_headers.hpp"

namespace paycoord::wechatpay {

/// A notification that verified and decrypted.
struct opened_notification {
  notification envelope;
  std::string plaintext; ///< the decrypted resource: branch on
                         ///< `classify_event(envelope.event_type)` before parsing
};

/// Everything between receiving a notification and reading its resource, in
/// the order that keeps forgeries cheap: `verify_response` over the raw body
/// (its errors: answer 401), then `parse_notification` (malformed_json,
/// missing_field, invalid_field: answer 400), then `decrypt_resource`
/// (unsupported_algorithm, bad_base64, decryption_failed: answer 400).
expected<opened_notification, protocol_error>
open_notification(const key_set& keys, const signed_headers& headers, std::string_view raw_body,
                  timestamp now, duration max_skew, std::string_view apiv3_key);

/// A notification as WeChat Pay would send it (for our sandbox).
struct sealed_notification {
  std::string body;
  signed_headers headers;
};

/// Encrypts `plaintext` into `envelope.resource` (using its original_type,
/// associated_data and 12-byte nonce; setting algorithm and ciphertext),
/// serialises the envelope and signs it with `platform_key` named `serial`.
/// Fails as `encrypt_resource` or `sign_response`.
expected<sealed_notification, protocol_error>
seal_notification(const private_key& platform_key, std::string_view serial,
                  std::string_view apiv3_key, notification envelope,
                  std::string_view plaintext, timestamp now, std::string_view header_nonce);

} // namespace paycoord::wechatpay
