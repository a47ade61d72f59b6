#pragma once

// The order machine as its actor drives it, without actors: one order's
// record, the call in flight, the clock, and what WeChat has really said
// (ghost state the properties are checked against). The exhaustive model
// check (order_model_check_test.cpp) and the libFuzzer target
// (tests/fuzz/order_machine_fuzz.cpp) both feed inputs through `apply` and
// check `violation` after every step.

#include <cstdint>
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
  count_,
};

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
enum class call : uint8_t { none, prepay, query, close, forward };

struct world {
  std::shared_ptr<const order_machine> machine;
  std::optional<order_record> record;
  call in_flight = call::none;
  int64_t now_ms = 0;
  // -- ghost state: what really happened ------------------------------------
  bool verified_success = false; ///< a verified SUCCESS (any amount) came in
  bool matching_success = false; ///< ... with the order's amount
  uint32_t calls = 0;            ///< WeChat and business calls started
  uint32_t steps = 0;
};

/// The rules every model run uses: a compressed schedule (verify 5 s, 30 s,
/// then every minute; expiry 3 min; close not before 1 min).
order_rules model_rules();

/// A fresh world at `t0` with no order yet.
world initial_world(std::shared_ptr<const order_machine> machine);

/// Whether `in` can happen in `w` (a call's result only while that call is
/// out, a timer only when one is armed, nothing while the prepay is awaited).
bool enabled(const world& w, input_kind k);

/// Feeds `in` to the machine the way the actor does and adopts the
/// decision (as if the store synced it). Returns a description of a broken
/// property, or "" when every property holds after the step. Never throws:
/// an exception from the machine is itself reported as a violation.
std::string apply(world& w, const input& in);

/// True when the order is terminal or parked (or there is none and nothing
/// is in flight): nothing more will happen by itself.
bool settled(const world& w);

/// A byte string that identifies `w` for the exploration: the record
/// without its bookkeeping (event numbers, update times), the call in
/// flight, the clock and the ghost state.
std::string state_key(const world& w);

} // namespace paycoord::model
