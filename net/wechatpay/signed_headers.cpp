#include "net/wechatpay/signed_headers.hpp"

#include "common/text.hpp"
#include "net/wechatpay/signing.hpp"

namespace paycoord::wechatpay {

namespace {

// Header values come from the network: bound what ends up in messages.
std::string quoted_for_log(std::string_view value) {
  constexpr size_t max_shown = 80;
  return "'" + log_text(value, max_shown) + "'";
}

std::string known_ids_text(const key_set& keys) {
  std::string out;
  for (const auto& id : keys.known_ids()) {
    if (!out.empty())
      out += ", ";
    out += id;
  }
  return out.empty() ? "none" : out;
}

} // namespace

check_result verify_response(const key_set& keys, const signed_headers& headers,
                             std::string_view raw_body, timestamp now, duration max_skew) {
  const std::pair<std::string_view, const std::string*> required[] = {
    {timestamp_header, &headers.timestamp},
    {nonce_header, &headers.nonce},
    {signature_header, &headers.signature},
    {serial_header, &headers.serial},
  };
  for (const auto& [name, value] : required)
    if (value->empty())
      return fail(wechatpay_error::missing_header, std::string{name});
  if (!headers.signature_type.empty() && headers.signature_type != signature_scheme)
    return fail(wechatpay_error::unsupported_signature_type,
                std::string{signature_type_header} + " " + quoted_for_log(headers.signature_type)
                  + ", only " + std::string{signature_scheme} + " is supported");
  const public_key* key = keys.find(headers.serial);
  if (key == nullptr)
    return fail(wechatpay_error::unknown_serial,
                std::string{serial_header} + " " + quoted_for_log(headers.serial)
                  + " is not a configured key (known: " + known_ids_text(keys) + ")");
  if (auto fresh = check_signed_time(timestamp_header, headers.timestamp, now, max_skew); !fresh)
    return fresh;
  return verify_sha256_rsa(
    *key, response_signature_message(headers.timestamp, headers.nonce, raw_body),
    headers.signature);
}

expected<signed_headers, protocol_error> sign_response(const private_key& key,
                                                       std::string_view serial, timestamp now,
                                                       std::string_view nonce,
                                                       std::string_view body) {
  auto seconds = unix_seconds_text(now);
  auto signature = sign_sha256_rsa(key, response_signature_message(seconds, nonce, body));
  if (!signature)
    return make_unexpected(signature.error());
  return signed_headers{std::move(seconds), std::string{nonce}, std::move(*signature),
                        std::string{serial}, std::string{signature_scheme}};
}

} // namespace paycoord::wechatpay
