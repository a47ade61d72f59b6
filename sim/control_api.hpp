#pragma once

#include "net/http_server.hpp"
#include "net/router.hpp"
#include "sim/notifier.hpp"
#include "sim/sim_state.hpp"

namespace paycoord::sim {

/// The test harness's handle on paysim (sim/README.md lists the routes): the
/// customer's side (pay, pay-before-close, refund), WeChat's people (resolving
/// an ABNORMAL refund), faults at run time, the
/// business server's up/down switch, and reports of what each side saw.
/// Bodies are strict JSON (unknown keys are 400 naming them); an empty body
/// means "no options". Handlers never block: the state's lock is short and
/// notifications are queued, not sent.
///
/// The routes refer to this object: it must outlive the server serving them.
class control_api {
public:
  control_api(sim_state& state, notifier& notifications);

  net::router routes();

private:
  void on_pay(net::request_context ctx, bool before_close);
  void on_refund(net::request_context ctx);
  void on_get_refund(net::request_context ctx);
  void on_resolve_refund(net::request_context ctx);
  void on_order(net::request_context ctx);
  void on_report(net::request_context ctx);
  void on_get_faults(net::request_context ctx);
  void on_set_faults(net::request_context ctx);
  void on_business(net::request_context ctx);
  void on_reset(net::request_context ctx);

  /// Sends the answer; queues the notification first (503 when the queue is full).
  void finish(const net::responder& respond, control_outcome outcome);

  sim_state& state_;
  notifier& notifier_;
};

} // namespace paycoord::sim
