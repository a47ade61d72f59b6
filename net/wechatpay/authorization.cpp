#include "net/wechatpay/authorization.hpp"

#include <array>

#include "net/wechatpay/signing.hpp"

namespace paycoord::wechatpay {

namespace {

unexpected<protocol_error> bad(std::string detail) {
  return fail(wechatpay_error::bad_authorization, std::move(detail));
}

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

void skip_spaces(std::string_view text, size_t& pos) {
  while (pos < text.size() && is_space(text[pos]))
    ++pos;
}

} // namespace

expected<std::string, protocol_error>
authorization_header(std::string_view mchid, std::string_view serial_no, const private_key& key,
                     std::string_view method, std::string_view url, std::string_view body,
                     timestamp now, std::string_view nonce) {
  auto seconds = unix_seconds_text(now);
  auto signature = sign_sha256_rsa(key, request_signature_message(method, url, seconds, nonce, body));
  if (!signature)
    return signature;
  std::string header{signature_scheme};
  header += " mchid=\"";
  header += mchid;
  header += "\",nonce_str=\"";
  header += nonce;
  header += "\",signature=\"";
  header += *signature;
  header += "\",timestamp=\"";
  header += seconds;
  header += "\",serial_no=\"";
  header += serial_no;
  header += '"';
  return header;
}

expected<authorization, protocol_error> parse_authorization(std::string_view header) {
  if (header.size() > 4096)
    return bad("longer than 4096 bytes");
  if (!header.starts_with(signature_scheme) || header.size() == signature_scheme.size()
      || !is_space(header[signature_scheme.size()]))
    return bad("scheme is not " + std::string{signature_scheme});
  authorization result;
  std::array<std::pair<std::string_view, std::string*>, 5> fields{{
    {"mchid", &result.mchid},
    {"nonce_str", &result.nonce_str},
    {"timestamp", &result.timestamp},
    {"serial_no", &result.serial_no},
    {"signature", &result.signature},
  }};
  std::array<bool, 5> seen{};
  size_t pos = signature_scheme.size();
  skip_spaces(header, pos);
  while (pos < header.size()) {
    auto eq = header.find('=', pos);
    if (eq == std::string_view::npos)
      return bad("expected key=\"value\" at offset " + std::to_string(pos));
    auto name = header.substr(pos, eq - pos);
    if (eq + 1 >= header.size() || header[eq + 1] != '"')
      return bad("value of '" + std::string{name} + "' is not quoted");
    auto close = header.find('"', eq + 2);
    if (close == std::string_view::npos)
      return bad("value of '" + std::string{name} + "' has no closing quote");
    auto value = header.substr(eq + 2, close - eq - 2);
    for (size_t i = 0; i < fields.size(); ++i) {
      if (fields[i].first != name)
        continue;
      if (seen[i])
        return bad("'" + std::string{name} + "' appears twice");
      seen[i] = true;
      *fields[i].second = value;
    }
    pos = close + 1;
    skip_spaces(header, pos);
    if (pos < header.size()) {
      if (header[pos] != ',')
        return bad("expected ',' at offset " + std::to_string(pos));
      ++pos;
      skip_spaces(header, pos);
    }
  }
  for (size_t i = 0; i < fields.size(); ++i)
    if (!seen[i])
      return bad("'" + std::string{fields[i].first} + "' is missing");
  return result;
}

check_result verify_request(const public_key& merchant_key, const authorization& auth,
                            std::string_view method, std::string_view url,
                            std::string_view body, timestamp now, duration max_skew) {
  if (auto fresh = check_signed_time("Authorization timestamp", auth.timestamp, now, max_skew);
      !fresh)
    return fresh;
  return verify_sha256_rsa(
    merchant_key, request_signature_message(method, url, auth.timestamp, auth.nonce_str, body),
    auth.signature);
}

} // namespace paycoord::wechatpay
