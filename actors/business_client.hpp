#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "actors/metrics.hpp"
#include "common/time.hpp"
#include "config/config.hpp"
#include "net/http_client.hpp"

namespace paycoord {

/// The body of the paid-order callback (CONTRACTS.md §5), fields in the
/// documented order: `{"event":"order.paid","out_trade_no","transaction_id",
/// "amount":{"total","payer_total","currency"},"paid_at","late"}` with
/// `paid_at` in RFC 3339.
std::string callback_body(const forward_request& request);

/// The body of a refund callback (CONTRACTS.md §10), fields in the
/// documented order: `{"event","out_trade_no","out_refund_no","refund_id",
/// "amount":{"refund","total","currency"},"succeeded_at"}` (`succeeded_at`
/// RFC 3339, null unless the refund succeeded).
std::string callback_body(const refund_delivery& request);

/// Blocking delivery of the paid-order callback to the business server:
/// `POST business.callback_url` with the body above and the headers
/// `Idempotency-Key: out_trade_no`, `X-Paycoord-Timestamp: unix seconds`,
/// `X-Paycoord-Signature: v1=HMAC` (net/callback_signature.hpp). Any 2xx
/// within `business.timeout` is the ack; anything else is a `forward_result`
/// that is not acked (status 0 when no HTTP answer came), which the order
/// actor retries with backoff.
///
/// Not thread-safe (it owns one HTTP client): one instance per worker thread.
class business_client {
public:
  /// `now` is the wall clock of the signature timestamp (empty: the system
  /// clock).
  business_client(business_config config, std::function<timestamp()> now,
                  net::http_client_options http = {});

  forward_result deliver(const forward_request& request);

  /// A refund event, with `Idempotency-Key: out_refund_no:event`.
  forward_result deliver(const refund_delivery& request);

private:
  /// Signs and posts one callback body.
  forward_result post(std::string body, const std::string& idempotency_key);

  business_config config_;
  std::function<timestamp()> now_;
  net::http_client http_;
};

/// What the `business` pool is made of.
struct business_pool_config {
  /// `concurrency` is the number of worker threads (deliveries at once).
  business_config business;
  /// Deliveries waiting for a worker; beyond it: not acked, "overloaded".
  size_t queue_limit = 10'000;
  /// Wall clock for the signature timestamp; empty means the system clock.
  std::function<timestamp()> now;
  /// Transport settings; `timeout` is replaced by `business.timeout`.
  net::http_client_options http;
  /// Counts every delivery by outcome (optional).
  std::shared_ptr<paycoord::metrics> metrics;
};

/// Spawns the `business` pool. Protocol (what the order actors call):
/// `(forward_atom, forward_request)` and `(forward_atom, refund_delivery)`
/// -> `forward_result`. An exit message
/// stops it and its workers.
caf::actor spawn_business_pool(caf::actor_system& system, business_pool_config config);

} // namespace paycoord
