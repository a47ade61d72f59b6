#pragma once

#include <string>
#include <string_view>

#include "common/expected.hpp"
#include "net/wechatpay/error.hpp"
#include "net/wechatpay/models.hpp"

namespace paycoord::wechatpay {

/// The only `resource.algorithm` WeChat Pay v3 uses.
inline constexpr std::string_view aead_algorithm = "AEAD_AES_256_GCM";

/// AES-256-GCM with a 12-byte nonce and a 16-byte tag, as WeChat Pay uses it:
/// key = the 32-byte APIv3 key, output base64(ciphertext ‖ tag). Fails with
/// bad_apiv3_key or decryption_failed (wrong nonce size, or OpenSSL fails).
expected<std::string, protocol_error> aead_encrypt(std::string_view apiv3_key,
                                                   std::string_view nonce,
                                                   std::string_view associated_data,
                                                   std::string_view plaintext);

/// The inverse of `aead_encrypt`. Fails with bad_apiv3_key, bad_base64,
/// or decryption_failed (a tag mismatch: tampered data, wrong key, nonce or
/// associated data; or too short, or a nonce not 12 bytes). Never returns
/// unauthenticated plaintext.
expected<std::string, protocol_error> aead_decrypt(std::string_view apiv3_key,
                                                   std::string_view nonce,
                                                   std::string_view associated_data,
                                                   std::string_view ciphertext_base64);

/// Decrypts a notification's (or certificate's) resource after checking its
/// algorithm is AEAD_AES_256_GCM (unsupported_algorithm); otherwise as
/// `aead_decrypt`.
expected<std::string, protocol_error> decrypt_resource(std::string_view apiv3_key,
                                                       const encrypted_resource& resource);

/// Encrypts `plaintext` into a resource the way WeChat Pay does (our sandbox
/// sends real encrypted notifications). `nonce` must be 12 bytes.
expected<encrypted_resource, protocol_error> encrypt_resource(std::string_view apiv3_key,
                                                              std::string original_type,
                                                              std::string associated_data,
                                                              std::string nonce,
                                                              std::string_view plaintext);

} // namespace paycoord::wechatpay
