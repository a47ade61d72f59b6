#pragma once

#include <string>
#include <string_view>

#include "common/expected.hpp"
#include "net/http_server.hpp"
#include "net/wechatpay/error.hpp"
#include "net/wechatpay/keys.hpp"
#include "net/wechatpay/signed_headers.hpp"

namespace paycoord::sim {

/// Signs as WeChat Pay: the sandbox platform key named by its public-key id.
/// Immutable; safe to use from any number of threads.
class sandbox_signer {
public:
  sandbox_signer(wechatpay::private_key platform_key, std::string key_id);

  /// The `Wechatpay-*` headers for `body` at `now` with a fresh nonce; with
  /// `probe`, the signature is a `WECHATPAY/SIGNTEST/` probe instead (what
  /// WeChat sends to check that merchants verify).
  expected<wechatpay::signed_headers, wechatpay::protocol_error> sign(std::string_view body,
                                                                      bool probe) const;

  /// Adds the signature headers of `response`'s body (signing it as is).
  /// Signing fails only if OpenSSL does; then the response is a plain 500.
  void sign(net::http_response& response, bool probe) const;

  const std::string& key_id() const {
    return key_id_;
  }

private:
  wechatpay::private_key platform_key_;
  std::string key_id_;
};

} // namespace paycoord::sim
