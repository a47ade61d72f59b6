#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/expected.hpp"
#include "storage/store_error.hpp"

namespace paycoord {

// -- refund state --------------------------------------------------------------

/// CONTRACTS.md §10. SUCCESS and CLOSED are final; ABNORMAL is parked (a
/// person acts through WeChat) but still queried, so a fix made there is
/// noticed.
enum class refund_state : uint8_t {
  requested,  ///< durable, not yet accepted by WeChat
  processing, ///< accepted, not refunded yet
  success,
  closed,
  abnormal,
};

/// Upper-case contract name: "REQUESTED", "PROCESSING", ...
const char* to_string(refund_state x);

std::optional<refund_state> parse_refund_state(std::string_view text);

inline bool is_final(refund_state x) {
  return x == refund_state::success || x == refund_state::closed;
}

/// The business callback event of a state that is delivered (final, or
/// ABNORMAL): "refund.succeeded", "refund.closed", "refund.abnormal"; null
/// for the others.
const char* delivery_event(refund_state x);

/// What a refund's deadline does when it comes.
enum class refund_action : uint8_t {
  none,    ///< nothing scheduled (final and delivered)
  apply,   ///< REQUESTED: ask WeChat to refund (again, same out_refund_no)
  query,   ///< PROCESSING or ABNORMAL: ask WeChat how it stands
  deliver, ///< an event waits for the business server's ack
};

const char* to_string(refund_action x);

std::optional<refund_action> parse_refund_action(std::string_view text);

// -- the record ----------------------------------------------------------------

/// One refund of an order: the value of `r/<out_trade_no>/<out_refund_no>`.
/// It belongs to its order (one aggregate: the order actor owns both, and
/// they are written in the same batches; its events are on the order's
/// timeline). Times are wall-clock Unix milliseconds (0 = unset).
struct refund_record {
  static constexpr int current_version = 1;

  std::string out_refund_no;
  std::string out_trade_no;
  refund_state state = refund_state::requested;

  // What the merchant asked for (compared by value on a repeat).
  int64_t amount_refund = 0; ///< fen
  int64_t amount_total = 0;  ///< the order's total, fen
  std::string currency = "CNY";
  std::string reason;

  // What WeChat said.
  std::string refund_id;
  int64_t succeeded_at_ms = 0; ///< WeChat's success_time
  int64_t accepted_at_ms = 0;  ///< when WeChat accepted the apply (the query schedule counts from it)
  /// The last failure of an apply or a query, for the merchant: its code
  /// (WeChat's, or ours: TIMEOUT, ...) and message; empty once it worked.
  std::string last_error_code;
  std::string last_error_message;

  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;

  // The schedule: one deadline per refund; the order arms its one timer for
  // the earliest of its own and its refunds'.
  refund_action action = refund_action::none;
  int64_t next_due_ms = 0;
  uint32_t apply_attempts = 0;
  uint32_t verify_step = 0;     ///< steps of schedule.refund_verify done
  uint32_t queries = 0;
  uint32_t failures = 0;        ///< calls in a row without an answer

  /// Business events not yet acknowledged, oldest first (delivered in that
  /// order, each retried until a 2xx: never given up).
  std::vector<std::string> undelivered;
  uint32_t delivery_attempts = 0;          ///< of the first undelivered one
  int64_t first_delivery_failure_ms = 0;

  /// ABNORMAL: a person marked it handled (CONTRACTS.md §11).
  int64_t resolved_at_ms = 0;
  std::string resolved_note;
};

bool operator==(const refund_record& x, const refund_record& y);

/// An order's refunds.
using refund_list = std::vector<refund_record>;

/// The refund of `refunds` named `out_refund_no`, or null.
const refund_record* find_refund(const refund_list& refunds, std::string_view out_refund_no);

/// A refund that still needs its timer (something is due for it).
inline bool needs_timer(const refund_record& x) {
  return x.action != refund_action::none;
}

/// An ABNORMAL refund no person has resolved.
inline bool needs_a_person(const refund_record& x) {
  return x.state == refund_state::abnormal && x.resolved_at_ms == 0;
}

std::string encode(const refund_record& x);

expected<refund_record, store_error> decode_refund(std::string_view key, std::string_view bytes);

/// What the store's refund counters read of a record (see order_counts).
struct refund_facts {
  refund_state state = refund_state::requested;
  bool unresolved = false;
};

inline refund_facts refund_facts_of(const refund_record& x) {
  return refund_facts{x.state, needs_a_person(x)};
}

} // namespace paycoord
