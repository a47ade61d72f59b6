#include "net/wechatpay/aead.hpp"

#include <climits>
#include <memory>
#include <optional>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "common/text.hpp"
#include "net/wechatpay/base64.hpp"
#include "net/wechatpay/credentials.hpp"

namespace paycoord::wechatpay {

namespace {

constexpr size_t nonce_bytes = 12;
constexpr size_t tag_bytes = 16;
// One EVP update takes an int length; notifications are far smaller anyway.
constexpr size_t max_aead_bytes = 16 << 20;

struct cipher_ctx_deleter {
  void operator()(EVP_CIPHER_CTX* ctx) const {
    EVP_CIPHER_CTX_free(ctx);
  }
};

using cipher_ctx_ptr = std::unique_ptr<EVP_CIPHER_CTX, cipher_ctx_deleter>;

const unsigned char* bytes_of(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

unsigned char* bytes_of(std::string& s) {
  return reinterpret_cast<unsigned char*>(s.data());
}

int int_size(std::string_view s) {
  return static_cast<int>(s.size());
}

// The checks both directions share; nullopt when the inputs are usable.
std::optional<protocol_error> check_inputs(std::string_view apiv3_key, std::string_view nonce,
                                           std::string_view associated_data,
                                           std::string_view data) {
  if (auto key = validate_apiv3_key(apiv3_key); !key)
    return key.error();
  if (nonce.size() != nonce_bytes)
    return protocol_error{wechatpay_error::decryption_failed,
                          "nonce is " + std::to_string(nonce.size()) + " bytes, must be 12"};
  if (associated_data.size() > max_aead_bytes || data.size() > max_aead_bytes)
    return protocol_error{wechatpay_error::decryption_failed, "input larger than 16 MiB"};
  return std::nullopt;
}

unexpected<protocol_error> openssl_failure(const char* what) {
  ERR_clear_error();
  return fail(wechatpay_error::decryption_failed, what);
}

} // namespace

expected<std::string, protocol_error> aead_encrypt(std::string_view apiv3_key,
                                                   std::string_view nonce,
                                                   std::string_view associated_data,
                                                   std::string_view plaintext) {
  if (auto bad = check_inputs(apiv3_key, nonce, associated_data, plaintext))
    return make_unexpected(std::move(*bad));
  cipher_ctx_ptr ctx{EVP_CIPHER_CTX_new()};
  std::string sealed(plaintext.size() + tag_bytes, '\0');
  int length = 0;
  int final_length = 0;
  if (!ctx
      || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, bytes_of(apiv3_key),
                            bytes_of(nonce))
           != 1
      || EVP_EncryptUpdate(ctx.get(), nullptr, &length, bytes_of(associated_data),
                           int_size(associated_data))
           != 1
      || EVP_EncryptUpdate(ctx.get(), bytes_of(sealed), &length, bytes_of(plaintext),
                           int_size(plaintext))
           != 1
      || EVP_EncryptFinal_ex(ctx.get(), bytes_of(sealed) + length, &final_length) != 1
      || EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag_bytes),
                             bytes_of(sealed) + plaintext.size())
           != 1)
    return openssl_failure("AES-256-GCM encryption failed");
  return base64_encode(sealed);
}

expected<std::string, protocol_error> aead_decrypt(std::string_view apiv3_key,
                                                   std::string_view nonce,
                                                   std::string_view associated_data,
                                                   std::string_view ciphertext_base64) {
  if (auto bad = check_inputs(apiv3_key, nonce, associated_data, ciphertext_base64))
    return make_unexpected(std::move(*bad));
  auto sealed = base64_decode(ciphertext_base64);
  if (!sealed)
    return fail(wechatpay_error::bad_base64, "ciphertext is not base64");
  if (sealed->size() < tag_bytes)
    return fail(wechatpay_error::decryption_failed,
                "ciphertext shorter than the 16-byte tag");
  std::string_view body{sealed->data(), sealed->size() - tag_bytes};
  std::string tag = sealed->substr(body.size());
  std::string plaintext(body.size(), '\0');
  cipher_ctx_ptr ctx{EVP_CIPHER_CTX_new()};
  int length = 0;
  int final_length = 0;
  if (!ctx
      || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, bytes_of(apiv3_key),
                            bytes_of(nonce))
           != 1
      || EVP_DecryptUpdate(ctx.get(), nullptr, &length, bytes_of(associated_data),
                           int_size(associated_data))
           != 1
      || EVP_DecryptUpdate(ctx.get(), bytes_of(plaintext), &length, bytes_of(body),
                           int_size(body))
           != 1
      || EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag_bytes),
                             tag.data())
           != 1)
    return openssl_failure("AES-256-GCM decryption failed");
  // The tag is checked here; before it succeeds the plaintext is untrusted.
  if (EVP_DecryptFinal_ex(ctx.get(), bytes_of(plaintext) + length, &final_length) != 1)
    return openssl_failure(
      "authentication tag mismatch: tampered data, or a wrong APIv3 key, nonce or "
      "associated_data");
  return plaintext;
}

expected<std::string, protocol_error> decrypt_resource(std::string_view apiv3_key,
                                                       const encrypted_resource& resource) {
  if (resource.algorithm != aead_algorithm)
    return fail(wechatpay_error::unsupported_algorithm,
                "resource.algorithm '" + log_text(resource.algorithm, 64) + "', expected "
                  + std::string{aead_algorithm});
  return aead_decrypt(apiv3_key, resource.nonce, resource.associated_data, resource.ciphertext);
}

expected<encrypted_resource, protocol_error> encrypt_resource(std::string_view apiv3_key,
                                                              std::string original_type,
                                                              std::string associated_data,
                                                              std::string nonce,
                                                              std::string_view plaintext) {
  auto ciphertext = aead_encrypt(apiv3_key, nonce, associated_data, plaintext);
  if (!ciphertext)
    return make_unexpected(ciphertext.error());
  return encrypted_resource{std::move(original_type), std::string{aead_algorithm},
                            std::move(*ciphertext), std::move(associated_data),
                            std::move(nonce)};
}

} // namespace paycoord::wechatpay
