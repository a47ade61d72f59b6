#include "net/callback_signature.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace paycoord::net {

std::string callback_signature(std::string_view secret,
                               std::string_view timestamp,
                               std::string_view body) {
  std::string message;
  message.reserve(timestamp.size() + 1 + body.size());
  message += timestamp;
  message += '.';
  message += body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
       mac, &len);
  static constexpr char hex[] = "0123456789abcdef";
  std::string result = "v1=";
  for (unsigned int i = 0; i < len; ++i) {
    result += hex[mac[i] >> 4];
    result += hex[mac[i] & 0x0f];
  }
  return result;
}

bool verify_callback_signature(std::string_view secret,
                               std::string_view timestamp,
                               std::string_view body,
                               std::string_view header_value) {
  auto expected = callback_signature(secret, timestamp, body);
  return expected.size() == header_value.size()
         && CRYPTO_memcmp(expected.data(), header_value.data(),
                          expected.size())
              == 0;
}

} // namespace paycoord::net
