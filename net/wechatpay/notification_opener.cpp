#include "net/wechatpay/notification_opener.hpp"

#include "net/wechatpay/aead.hpp"

namespace paycoord::wechatpay {

expected<opened_notification, protocol_error>
open_notification(const key_set& keys, const signed_headers& headers, std::string_view raw_body,
                  timestamp now, duration max_skew, std::string_view apiv3_key) {
  if (auto verified = verify_response(keys, headers, raw_body, now, max_skew); !verified)
    return make_unexpected(verified.error());
  auto envelope = parse_notification(raw_body);
  if (!envelope)
    return make_unexpected(envelope.error());
  auto plaintext = decrypt_resource(apiv3_key, envelope->resource);
  if (!plaintext)
    return make_unexpected(plaintext.error());
  return opened_notification{std::move(*envelope), std::move(*plaintext)};
}

expected<sealed_notification, protocol_error>
seal_notification(const private_key& platform_key, std::string_view serial,
                  std::string_view apiv3_key, notification envelope,
                  std::string_view plaintext, timestamp now, std::string_view header_nonce) {
  auto& resource = envelope.resource;
  auto sealed = encrypt_resource(apiv3_key, std::move(resource.original_type),
                                 std::move(resource.associated_data), std::move(resource.nonce),
                                 plaintext);
  if (!sealed)
    return make_unexpected(sealed.error());
  resource = std::move(*sealed);
  auto body = to_json(envelope);
  auto headers = sign_response(platform_key, serial, now, header_nonce, body);
  if (!headers)
    return make_unexpected(headers.error());
  return sealed_notification{std::move(body), std::move(*headers)};
}

} // namespace paycoord::wechatpay
