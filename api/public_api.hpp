#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <caf/all.hpp>

#include "actors/metrics.hpp"
#include "common/time.hpp"
#include "net/router.hpp"
#include "net/wechatpay/credentials.hpp"

namespace paycoord::api {

/// What the public routes need: the actors they talk to and the merchant's
/// WeChat Pay identity. Shared, immutable after start.
struct api_context {
  caf::actor_system* system = nullptr;
  caf::actor registry;
  caf::actor store;
  /// Rendering that costs CPU (the JSAPI RSA signature) runs here, never on
  /// CAF's scheduler threads.
  boost::asio::io_context* io = nullptr;
  std::string mchid;
  std::string appid;
  std::string apiv3_key;
  duration max_clock_skew{300'000};
  std::string notify_path = "/v1/wechatpay/notify";
  std::shared_ptr<const wechatpay::credentials> credentials;
  std::function<timestamp()> now = [] { return wall_clock::now(); };
  /// False until recovery re-armed every order: then 503 NOT_READY.
  const std::atomic<bool>* ready = nullptr;
  /// Every notification is counted by outcome; the inspector reads the order
  /// counts. Never null (a test that does not care gets its own).
  std::shared_ptr<paycoord::metrics> metrics = std::make_shared<paycoord::metrics>();
  /// api.token (CONTRACTS.md §8): when set, the order routes need it as a
  /// bearer token; the notify route never does.
  std::string api_token;
};

/// Body limit of the public routes (CONTRACTS.md §3: 64 KiB on notify).
inline constexpr size_t public_body_limit = 64 * 1024;

/// Adds `POST /v1/orders` and `GET /v1/orders/{out_trade_no}` (CONTRACTS.md
/// §3), behind `ctx->api_token` when it is set.
void add_order_routes(net::router& routes, std::shared_ptr<const api_context> ctx);

/// Adds `POST {notify_path}`, WeChat's notification (CONTRACTS.md §3); it
/// takes no token (WeChat's signature is its proof).
void add_notify_route(net::router& routes, std::shared_ptr<const api_context> ctx);

/// Both, on one listener (listen.notify unset).
void add_public_routes(net::router& routes,
                       std::shared_ptr<const api_context> ctx);

} // namespace paycoord::api
