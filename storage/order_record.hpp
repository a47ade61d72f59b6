#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/expected.hpp"
#include "storage/store_error.hpp"

namespace paycoord {

// -- order state -------------------------------------------------------------

/// The states of CONTRACTS.md §3. CONFIRMED and CLOSED are terminal; ANOMALY,
/// ORPHAN and FAULTED are parked (no timer moves them, nothing is forwarded
/// until an operator acts).
enum class order_state : uint8_t {
  pending,
  paid,
  confirmed,
  closed,
  anomaly,
  orphan,
  faulted,
};

/// Upper-case contract name: "PENDING", "PAID", ...
const char* to_string(order_state x);

std::optional<order_state> parse_order_state(std::string_view text);

bool is_terminal(order_state x);

bool is_parked(order_state x);

/// True for states that own a live schedule (PENDING, PAID).
inline bool is_active(order_state x) {
  return x == order_state::pending || x == order_state::paid;
}

// -- next action -------------------------------------------------------------

/// What the order's single armed timer does when it fires.
enum class next_action : uint8_t {
  none,          ///< nothing armed (terminal or parked)
  verify,        ///< PENDING: scheduled verification query
  expire_query,  ///< PENDING: expiry reached, final query before closing
  close,         ///< PENDING: close at WeChat
  close_confirm, ///< PENDING: query after a close call (confirms CLOSED or
                 ///< finds the payment that made WeChat refuse it)
  forward,       ///< PAID: deliver (or retry delivering) to the business server
};

const char* to_string(next_action x);

std::optional<next_action> parse_next_action(std::string_view text);

// -- the record --------------------------------------------------------------

/// How a payment became known.
enum class paid_via : uint8_t { none, notify, query };

const char* to_string(paid_via x);

/// A verified payment that arrived while the order was FAULTED: kept here so
/// that an operator's retry applies it (CONTRACTS.md §11). Empty
/// `transaction_id`: none arrived.
struct held_payment {
  std::string transaction_id;
  int64_t total = 0;
  int64_t payer_total = 0;
  std::string currency;
  int64_t paid_at_ms = 0;
  paid_via via = paid_via::none;
};

/// The durable state of one order: the value of key `o/<out_trade_no>`.
/// Times are wall-clock milliseconds since the Unix epoch (0 = unset).
struct order_record {
  /// Version written by this build; older versions are upgraded on read.
  static constexpr int current_version = 1;

  std::string out_trade_no;
  order_state state = order_state::pending;

  // What the merchant asked for (compared by value on a re-create).
  std::string description;
  int64_t amount_total = 0; // fen
  std::string currency = "CNY";
  std::string payer_openid;
  std::string attach;
  int64_t requested_expire_at_ms = 0; // 0 = not given by the client
  int64_t expire_at_ms = 0;           // effective deadline
  std::string prepay_id;              // empty while the prepay call failed

  // Verified payment facts.
  std::string transaction_id;
  int64_t payer_total = 0;
  int64_t paid_at_ms = 0;
  paid_via via = paid_via::none;
  bool late = false; // paid after paycoord closed it at WeChat
  /// When paycoord synced the verified payment as PAID (its own clock; the
  /// start of notify-to-ack latency). 0 for records written before it existed.
  int64_t paid_recorded_at_ms = 0;

  // Lifecycle timestamps.
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  int64_t confirmed_at_ms = 0;

  // The schedule: exactly one armed action, persisted so that it survives a
  // crash of the actor, of the timers service or of the process.
  next_action action = next_action::none;
  int64_t next_due_ms = 0;
  uint32_t verify_step = 0;       // index into schedule.verify already done
  int64_t last_query_at_ms = 0;
  bool closed_at_wechat = false;  // a close call succeeded
  uint32_t close_attempts = 0;    // close calls made (bounded, see order_machine)
  uint32_t queries = 0;           // WeChat queries spent on this order
  uint32_t query_failures = 0;    // in a row without an answer (429, 5xx, ...)
  uint32_t forward_attempts = 0;
  int64_t first_forward_failure_ms = 0;
  bool stuck = false;

  /// Why the order is parked (ANOMALY/ORPHAN/FAULTED), for the operator.
  std::string parked_reason;
  /// FAULTED: the state it had before (an operator's retry returns it
  /// there); FAULTED itself when the order is not faulted.
  order_state faulted_from = order_state::faulted;
  /// FAULTED: a verified payment that arrived meanwhile.
  held_payment held;
  /// A person marked the parked order handled (CONTRACTS.md §11): it
  /// leaves the "needs a person" count; the state stays.
  int64_t resolved_at_ms = 0;
  std::string resolved_note;

  /// Sequence number of the last event written for this order.
  uint64_t event_seq = 0;

  /// The earliest deadline among the order's refunds (0: none is due), kept
  /// with every refund change: the order's one timer covers it, whatever
  /// the order's own state (a CONFIRMED order may be refunding).
  int64_t refund_due_ms = 0;
};

bool operator==(const order_record& x, const order_record& y);

// -- what the store's index and counters read of a record -------------------

/// A PAID order whose delivery has failed for `stuck_after`.
bool counts_as_stuck(const order_record& x);

/// A parked order no person has resolved (CONTRACTS.md §11).
bool needs_a_person(const order_record& x);

/// The few facts of a record that the store's timer index and per-state
/// counters depend on. A writer passes the facts of the durable version it
/// replaces (see order_store::commit), so the store never reads it back.
struct order_facts {
  order_state state = order_state::pending;
  bool stuck = false;      ///< counts_as_stuck
  bool unresolved = false; ///< needs_a_person
  /// Due time of the order's index entry `t/<due>/<out_trade_no>`: the
  /// earlier of its own next action (while active) and its refunds'; -1
  /// when nothing is scheduled.
  int64_t timer_due_ms = -1;

  bool has_timer() const {
    return timer_due_ms >= 0;
  }
};

bool operator==(const order_facts& x, const order_facts& y);

order_facts facts_of(const order_record& x);

/// Encodes the record with its version. Never fails.
std::string encode(const order_record& x);

/// Decodes a stored record; `key` names the LevelDB key in errors. Corrupt
/// bytes and unknown versions are errors, never exceptions.
expected<order_record, store_error> decode_order(std::string_view key,
                                                 std::string_view bytes);

// -- events ------------------------------------------------------------------

/// One entry of an order's audit trail (`e/<out_trade_no>/<seq:020>`).
struct order_event {
  uint64_t seq = 0;
  int64_t at_ms = 0;
  std::string kind;   ///< created, prepay, notify, query, close, forward,
                      ///< state, operator, refund, fault, ...
  std::string detail; ///< a JSON object as text
};

bool operator==(const order_event& x, const order_event& y);

std::string encode(const order_event& x);

expected<order_event, store_error> decode_event(std::string_view key,
                                                std::string_view bytes);

} // namespace paycoord
