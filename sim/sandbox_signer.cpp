#include "sim/sandbox_signer.hpp"

#include <spdlog/spdlog.h>

#include "net/wechatpay/jsapi.hpp"
#include "net/wechatpay/signing.hpp"

namespace paycoord::sim {

sandbox_signer::sandbox_signer(wechatpay::private_key platform_key, std::string key_id)
  : platform_key_(std::move(platform_key)), key_id_(std::move(key_id)) {
}

expected<wechatpay::signed_headers, wechatpay::protocol_error>
sandbox_signer::sign(std::string_view body, bool probe) const {
  auto headers = wechatpay::sign_response(platform_key_, key_id_, wall_clock::now(),
                                          wechatpay::make_nonce(), body);
  if (headers && probe)
    // WeChat's probes are not base64 at all: the prefix then some text.
    headers->signature = std::string{wechatpay::signature_probe_prefix}
                         + wechatpay::make_nonce(24);
  return headers;
}

void sandbox_signer::sign(net::http_response& response, bool probe) const {
  auto headers = sign(response.body(), probe);
  if (!headers) {
    spdlog::error("paysim event=sign_failed error=\"{}\"", headers.error().message());
    response = net::json_error(500, "SYSTEM_ERROR", "sandbox could not sign");
    return;
  }
  auto put = [&](std::string_view name, const std::string& value) {
    response.set(boost::beast::string_view{name.data(), name.size()}, value);
  };
  put(wechatpay::timestamp_header, headers->timestamp);
  put(wechatpay::nonce_header, headers->nonce);
  put(wechatpay::signature_header, headers->signature);
  put(wechatpay::serial_header, headers->serial);
  put(wechatpay::signature_type_header, headers->signature_type);
}

} // namespace paycoord::sim
