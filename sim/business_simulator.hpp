#pragma once

#include <string>

#include <boost/asio/io_context.hpp>

#include "common/time.hpp"
#include "net/http_server.hpp"
#include "net/router.hpp"
#include "sim/sim_state.hpp"

namespace paycoord::sim {

/// The merchant's business server as paycoord calls it (CONTRACTS.md §5, and
/// §10 for refunds): checks `X-Paycoord-Timestamp` (within `max_clock_skew`)
/// and the HMAC in `X-Paycoord-Signature` (401, counted, when either fails),
/// dedupes on `Idempotency-Key` and records every accepted delivery in
/// `sim_state`: an `order.paid` by its out_trade_no, a refund event
/// (`refund.succeeded|closed|abnormal`) by `{out_refund_no}:{event}` on the
/// refund. Any other `event` is 400.
/// Answers 200 `{"ok": true, "duplicate": bool}` unless a fault says
/// otherwise: down (503 before anything is checked), the error rate (500,
/// not recorded) and latency (the delivery is recorded at once, the answer
/// waits on an asio timer).
///
/// The routes refer to this object: it must outlive the server serving them.
class business_simulator {
public:
  struct options {
    std::string path = "/orders/paid";
    std::string secret;
    duration max_clock_skew = std::chrono::minutes{5};
  };

  business_simulator(options opts, sim_state& state, boost::asio::io_context& io);

  net::router routes();

private:
  void on_callback(net::request_context ctx);

  const options options_;
  sim_state& state_;
  boost::asio::io_context& io_;
};

} // namespace paycoord::sim
