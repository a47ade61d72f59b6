#pragma once

// The order machine as its actor drives it, without actors: one order's
// record and its refunds, the call in flight, the clock, and what WeChat has
// really said (ghost state the properties are checked against). The
// exhaustive model check (order_model_check_test.cpp) and the libFuzzer
// target (tests/fuzz/order_machine_fuzz.cpp) both feed inputs through
// `apply` and check `violation` after every step.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/order_machine.hpp"

namespace paycoord::model {

/// Every input an order can see, in the actor's terms. Results of calls are
/// legal only while that call is in flight (as in the actor).
enum class input_kind : uint8_t {
  create,
  prepay_ok,
  prepay_failed,
  notify_paid,          ///< verified TRANSACTION.SUCCESS, matching amount
  notify_mismatch,      ///< verified TRANSACTION.SUCCESS, another amount
  notify_refund,        ///< verified REFUND.SUCCESS (not a payment)
  notify_not_success,   ///< a payment event whose trade_state is not SUCCESS
  timer,                ///< the armed timer fires (time jumps to next_due)
  query_success,
  query_success_mismatch,
  query_notpay,
  query_userpaying,
  query_closed,
  query_refund,
  query_not_found,      ///< 404 ORDER_NOT_EXIST
  query_retry_later,    ///< 429, 5xx, 202, timeout, refused by our pool
  query_failed,         ///< 400/401/403
  query_unknown_state,  ///< a trade_state this build does not know
  close_ok,             ///< 204
  close_refused,        ///< a 4xx: ORDERPAID, or 404 for an unknown id
  close_retry_later,    ///< 5xx, 202, 429, timeout
  forward_ack,
  forward_fail,
  op_verify,
  op_forward,
  op_retry,
  op_resolve,
  crash_respawn,        ///< the actor dies; the registry respawns it
  crash_fault,          ///< the actor dies once too often: FAULTED
  // Refunds (appended, so that the fuzz corpus keeps its meaning). Two
  // numbers of 60 each on an order of 100: the second is refused with
  // REFUND_EXCEEDS_PAID unless the first ended CLOSED.
  refund_request_1,     ///< the merchant asks R1 for 60 (again: the same refund)
  refund_request_2,     ///< the merchant asks R2 for 60
  // Results of the apply in flight (its refund, its own amount):
  refund_apply_processing,
  refund_apply_success,
  refund_apply_closed,
  refund_apply_abnormal,
  refund_apply_retry_later, ///< 5xx, 429, timeout
  refund_apply_refused,     ///< a 4xx with a code (NOT_ENOUGH)
  // Results of the refund query in flight:
  refund_query_processing,
  refund_query_success,
  refund_query_success_mismatch, ///< SUCCESS for another amount (the order's total)
  refund_query_closed,
  refund_query_abnormal,
  refund_query_not_found,   ///< 404 RESOURCE_NOT_EXISTS
  refund_query_retry_later,
  // Verified REFUND.* notifications (is_refund, parsed):
  refund_notify_success,    ///< R1 refunded, its own amount
  refund_notify_closed,     ///< R1
  refund_notify_abnormal,   ///< R1
  refund_notify_unknown,    ///< REFUND.SUCCESS for a refund paycoord never asked for
  // Results of the refund delivery in flight:
  refund_deliver_ack,
  refund_deliver_fail,
  op_refund_verify,         ///< the first refund not final (else the first, else R1)
  op_refund_resolve,        ///< the first refund that needs a person (else R1)
  count_,
};

/// The inputs that exist because of refunds (the order-only exploration
/// leaves them out; see order_model_check_test.cpp).
bool is_refund_input(input_kind k);

const char* to_string(input_kind k);

struct input {
  input_kind kind = input_kind::timer;
  /// Peer text carried by the input (an error message, a notification id,
  /// a resource): any bytes.
  std::string text;
};

/// Texts every text-carrying input is tried with: long multi-byte, cut in
/// the middle of a character, invalid bytes, quotes and control characters.
const std::vector<std::string>& hostile_texts();

/// The call the actor has out (at most one).
enum class call : uint8_t {
  none,
  prepay,
  query,
  close,
  forward,
  refund_apply,
  refund_query,
  refund_deliver,
};

/// The two refund numbers the model uses, each for this much of the order's
/// 100 (model_order_total).
constexpr const char* refund_1 = "R1MODEL0001";
constexpr const char* refund_2 = "R2MODEL0002";
constexpr const char* refund_unknown = "RXMODEL0099";
constexpr int64_t model_order_total = 100;
constexpr int64_t model_refund_amount = 60;

/// What really happened to one refund number (ghost state).
struct refund_ghost {
  /// A verified fact said SUCCESS for it, with its own amount, while the
  /// order had it.
  bool said_success = false;
  /// The last event the business server acknowledged for it ("" for none).
  std::string last_acked;
};

struct world {
  std::shared_ptr<const order_machine> machine;
  std::optional<order_record> record;
  /// The order's refunds as synced (merged by out_refund_no).
  refund_list refunds;
  call in_flight = call::none;
  /// A refund call's refund, and a delivery's event (taken when it starts,
  /// as the actor does).
  std::string in_flight_refund;
  std::string in_flight_event;
  int64_t now_ms = 0;
  // -- ghost state: what really happened ------------------------------------
  bool verified_success = false; ///< a verified SUCCESS (any amount) came in
  bool matching_success = false; ///< ... with the order's amount
  std::map<std::string, refund_ghost> refund_ghosts; ///< by out_refund_no
  uint32_t calls = 0;            ///< WeChat and business calls started
  uint32_t steps = 0;
};

/// The rules every model run uses: a compressed schedule (verify 5 s, 30 s,
/// then every minute; expiry 3 min; close not before 1 min).
order_rules model_rules();

/// A fresh world at `t0` with no order yet.
world initial_world(std::shared_ptr<const order_machine> machine);

/// Whether `in` can happen in `w` (a call's result only while that call is
/// out, a timer only when the store's index has one for the order and no
/// call is out, nothing while the prepay is awaited).
bool enabled(const world& w, input_kind k);

/// Feeds `in` to the machine the way the actor does and adopts the
/// decision (as if the store synced it). Returns a description of a broken
/// property, or "" when every property holds after the step. Never throws:
/// an exception from the machine is itself reported as a violation.
std::string apply(world& w, const input& in);

/// True when the order is terminal or parked (or there is none and nothing
/// is in flight): nothing more will happen by itself. Refunds aside: see
/// refunds_settled.
bool settled(const world& w);

/// True when no call is out and every refund is final with nothing left to
/// deliver (action none): no refund will ever need the order again.
bool refunds_settled(const world& w);

/// A byte string that identifies `w` for the exploration: the record and
/// its refunds without their bookkeeping (event numbers, update times,
/// counters no decision reads), the call in flight, the clock and the ghost
/// state.
std::string state_key(const world& w);

} // namespace paycoord::model
