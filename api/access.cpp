#include "api/access.hpp"

#include <string>

#include <openssl/crypto.h>

#include "net/http_server.hpp"

namespace paycoord::api {

bool bearer_matches(std::string_view header, std::string_view token) {
  constexpr std::string_view prefix = "Bearer ";
  if (token.empty() || header.size() != prefix.size() + token.size()
      || header.substr(0, prefix.size()) != prefix)
    return false;
  return CRYPTO_memcmp(header.data() + prefix.size(), token.data(), token.size()) == 0;
}

bool authorized(const net::request_context& rc, std::string_view token, std::string_view key) {
  auto i = rc.request.find(boost::beast::http::field::authorization);
  std::string_view header;
  if (i != rc.request.end())
    header = std::string_view{i->value().data(), i->value().size()};
  if (bearer_matches(header, token))
    return true;
  rc.respond.send_error(401, "UNAUTHORIZED",
                        "Authorization: Bearer <" + std::string{key} + "> required");
  return false;
}

} // namespace paycoord::api
