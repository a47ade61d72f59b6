#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "actors/messages.hpp"
#include "config/config.hpp"
#include "storage/order_record.hpp"
#include "storage/refund_record.hpp"

namespace paycoord {

/// What the order machine needs to know about the merchant and the schedule.
struct order_rules {
  std::string mchid;
  std::string appid;
  schedule_config schedule;
  /// Close calls per order at most. Past its `time_expire` WeChat takes no
  /// payment, so an order whose query still says "not paid" after this many
  /// closes ends CLOSED instead of closing forever (each loop of calls ends).
  uint32_t max_close_attempts = 5;
};

/// Longest operator note kept (CONTRACTS.md §11: 1-500 characters).
constexpr size_t max_note_bytes = 2000;

/// Error texts come from peers (WeChat's messages are often long Chinese):
/// events and records keep at most this many bytes of them, cut on a
/// character boundary.
constexpr size_t max_error_text = 512;

/// A side effect the actor performs after the decision is durable.
enum class order_effect : uint8_t {
  none,
  query,   ///< query WeChat for the trade state
  close,   ///< close the order at WeChat
  forward, ///< deliver the paid order to the business server
  // A refund's (`order_decision::refund_no` names it):
  refund_apply,   ///< ask WeChat to refund (same out_refund_no on every try)
  refund_query,   ///< ask WeChat how the refund stands
  refund_deliver, ///< deliver its oldest undelivered event
};

/// What the order's one timer does next: the order's own action or its
/// earliest refund's ("refund_apply", "refund_query", "refund_deliver"),
/// and when; empty `action` when nothing is scheduled.
struct next_step {
  std::string action;
  int64_t due_ms = 0;
};

next_step next_step_of(const order_record& x, const std::vector<refund_record>& refunds);

/// CONTRACTS.md §10: at most this many refunds per order (WeChat's limit).
constexpr size_t max_refunds_per_order = 50;

const char* to_string(order_effect x);

/// The outcome of feeding one input to the machine.
struct order_decision {
  /// False: the input is illegal in this state; it was refused, nothing is
  /// applied, and `refusal` says why (the actor logs it).
  bool legal = true;
  std::string refusal;
  /// True when `record` changed and must be written (with `events`) before
  /// anyone is answered or any effect runs.
  bool persist = false;
  order_record record;
  std::vector<order_event> events;
  order_effect effect = order_effect::none;
  /// Refunds the decision changed (their new values; written with `record`,
  /// whose `refund_due_ms` and events follow them).
  refund_list refunds;
  /// The refund a refund effect is for.
  std::string refund_no;
  /// A refused refund request: its CONTRACTS.md §10 code (ORDER_NOT_PAID,
  /// REFUND_EXCEEDS_PAID, TOO_MANY_REFUNDS, REFUND_CONFLICT,
  /// INVALID_REQUEST) and the HTTP status (409, 400).
  std::string code;
  unsigned status = 0;
};

/// The order lifecycle of DESIGN.md as pure functions over a record: no
/// actors, no I/O, no clock (time is an argument), so every (state, input)
/// pair can be tested from a table. Randomness (backoff jitter) comes from an
/// injected function returning a uniform value in [0, 1).
class order_machine {
public:
  using uniform_fn = std::function<double()>;

  explicit order_machine(order_rules rules, uniform_fn uniform = nullptr);

  const order_rules& rules() const {
    return rules_;
  }

  /// A new PENDING order from a validated create request.
  order_decision create(const create_order& req, int64_t now_ms) const;

  /// True when `req` describes the same order as `x` (compared by value).
  static bool same_order(const order_record& x, const create_order& req);

  /// Outcome of the JSAPI prepay call for a PENDING order.
  order_decision on_prepay(const order_record& x, const call_result& r,
                           int64_t now_ms) const;

  /// A verified notification (payment or other event).
  order_decision on_notify(const order_record& x,
                           const verified_notification& n,
                           int64_t now_ms) const;

  /// A verified payment for an order paycoord never saw: an ORPHAN record.
  /// Anything else is refused: a non-payment event for an unknown order is
  /// kept as an orphan event (write_set::orphan_events) and blocks no id.
  order_decision orphan(const verified_notification& n, int64_t now_ms) const;

  /// The armed timer fired: which effect runs now.
  order_decision on_timer(const order_record& x, int64_t now_ms) const;

  /// Result of a query started by the timer or by an operator.
  order_decision on_query(const order_record& x, const query_result& r,
                          int64_t now_ms) const;

  /// Result of a close call.
  order_decision on_close(const order_record& x, const call_result& r,
                          int64_t now_ms) const;

  /// Result of a delivery attempt to the business server (the "ack").
  order_decision on_forward(const order_record& x, const forward_result& r,
                            int64_t now_ms) const;

  /// Operator actions from the inspector.
  order_decision on_operator_verify(const order_record& x,
                                    int64_t now_ms) const;
  order_decision on_operator_forward(const order_record& x,
                                     int64_t now_ms) const;
  /// FAULTED only (CONTRACTS.md §11): back to the state before it was
  /// parked with its next step due now; a payment held meanwhile is applied.
  order_decision on_operator_retry(const order_record& x, int64_t now_ms) const;
  /// The same, for an order with refunds: their deadlines count again.
  order_decision on_operator_retry(const order_record& x, const refund_list& refunds,
                                   int64_t now_ms) const;
  /// ANOMALY, ORPHAN or FAULTED, not yet resolved: marks it handled by a
  /// person. The state stays. `note` is validated by the caller.
  order_decision on_operator_resolve(const order_record& x,
                                     const std::string& note,
                                     int64_t now_ms) const;

  // -- refunds (order_machine_refunds.cpp) -----------------------------------
  //
  // The order owns its refunds: every function gets the order and all its
  // refunds, and returns the changed refunds with the order record (its
  // events and `refund_due_ms`). A refund's one deadline (`action`,
  // `next_due_ms`) folds into the order's timer.

  /// A merchant's refund request: a new REQUESTED refund (apply due now), the
  /// same refund again (`legal`, nothing to persist), or a refusal with
  /// `code`.
  order_decision request_refund(const order_record& x, const refund_list& refunds,
                                const create_refund& req, int64_t now_ms) const;

  /// Result of an apply of refund `out_refund_no`.
  order_decision on_refund_apply(const order_record& x, const refund_list& refunds,
                                 const std::string& out_refund_no, const refund_result& r,
                                 int64_t now_ms) const;

  /// Result of a query of refund `out_refund_no`.
  order_decision on_refund_query(const order_record& x, const refund_list& refunds,
                                 const std::string& out_refund_no, const refund_result& r,
                                 int64_t now_ms) const;

  /// A verified REFUND.* notification (`n.is_refund`) for this order. One
  /// for a refund the order does not have is an orphan event on its
  /// timeline: it changes no refund and blocks nothing.
  order_decision on_refund_notify(const order_record& x, const refund_list& refunds,
                                  const verified_notification& n, int64_t now_ms) const;

  /// Result of delivering `event` of refund `out_refund_no`.
  order_decision on_refund_delivered(const order_record& x, const refund_list& refunds,
                                     const std::string& out_refund_no,
                                     const std::string& event, const forward_result& r,
                                     int64_t now_ms) const;

  /// Operator: query the refund now (any state).
  order_decision on_operator_refund_verify(const order_record& x, const refund_list& refunds,
                                           const std::string& out_refund_no,
                                           int64_t now_ms) const;

  /// Operator: an ABNORMAL refund no person resolved yet is marked handled.
  order_decision on_operator_refund_resolve(const order_record& x,
                                            const refund_list& refunds,
                                            const std::string& out_refund_no,
                                            const std::string& note, int64_t now_ms) const;

  /// The order's timer fired: the order's own action if it is due, else the
  /// refund due earliest (`refund_no`). Refused when nothing is due.
  order_decision on_timer(const order_record& x, const refund_list& refunds,
                          int64_t now_ms) const;

  /// Parks an order whose actor crashed too often, remembering its state.
  order_decision fault(const order_record& x, const std::string& reason,
                       int64_t now_ms) const;

  /// When an order is closed at WeChat at the earliest.
  int64_t close_not_before_ms(const order_record& x) const;

  /// Full-jitter exponential backoff for the n-th failed delivery (n >= 1).
  int64_t forward_backoff_ms(uint32_t failures) const;

  /// Delay before asking again after the n-th query in a row that got no
  /// answer (n >= 1): userpaying_retry doubling, capped at the smaller of
  /// verify_every and 5 minutes, uniform in [half, all] of it.
  int64_t query_retry_ms(uint32_t failures) const;

private:
  order_decision refuse(const order_record& x, std::string why) const;
  order_decision accept_payment(const order_record& x, const payment_fact& f,
                                paid_via via, int64_t now_ms,
                                std::string source) const;
  void schedule_next_verify(order_record& x, int64_t now_ms) const;
  void set_state(order_decision& d, order_state to, int64_t now_ms,
                 std::string why) const;
  void add_event(order_decision& d, int64_t now_ms, std::string kind,
                 const nlohmann::json& detail) const;
  // Refund helpers (order_machine_refunds.cpp).
  refund_record& change(order_decision& d, const refund_list& refunds,
                        const refund_record& r) const;
  void finish_refunds(order_decision& d, const refund_list& refunds, int64_t now_ms) const;
  void adopt(order_decision& d, refund_record& r, const refund_fact& f, int64_t now_ms,
             const char* source) const;
  void schedule_refund_query(refund_record& r, int64_t now_ms) const;
  void after_delivery(refund_record& r, int64_t now_ms) const;

  order_rules rules_;
  uniform_fn uniform_;
};

} // namespace paycoord
