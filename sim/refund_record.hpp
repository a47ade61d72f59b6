#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/time.hpp"
#include "net/wechatpay/models.hpp"

namespace paycoord::sim {

// -- refund states and the business events about them -----------------------------

/// A refund's `status` at WeChat (wechatpay-v3.md §7).
enum class refund_status { processing, success, closed, abnormal };

/// The wire spelling: "PROCESSING", "SUCCESS", "CLOSED", "ABNORMAL".
const char* to_string(refund_status status);

/// The `event` of a refund's business callback (CONTRACTS.md §10).
enum class refund_callback_event { succeeded, closed, abnormal };

inline constexpr std::size_t refund_callback_events = 3;

/// "refund.succeeded", "refund.closed", "refund.abnormal".
const char* to_string(refund_callback_event event);

/// The event for its spelling; nullopt for anything else (order.paid too).
std::optional<refund_callback_event> refund_callback_event_from(std::string_view text);

/// Whether `text` may be an out_refund_no: 1 to 64 of `[A-Za-z0-9_|*@-]`
/// (WeChat's rule; it also keeps hostile ids out of logs and reports).
bool valid_out_refund_no(std::string_view text);

// -- one refund ------------------------------------------------------------------------

/// One refund as WeChat keeps it, with what paysim saw of its notifications and
/// of the business deliveries about it. Plain data: `sim_state` guards it.
///
/// The status moves lazily: the outcome and the deadline are drawn when the
/// refund is accepted, and a refund is PROCESSING until `due`, then `outcome`.
/// So any read after the deadline sees the outcome whether or not the timer
/// that sends the notification has run (`view_at`).
struct refund_record {
  std::string out_refund_no;
  std::string out_trade_no;
  std::string refund_id;
  std::string transaction_id;
  /// Asked for through the API; false for one made at WeChat directly (the
  /// control API's refund), which paycoord never asked for.
  bool requested = true;
  // -- the apply, kept to recognise a repeat ------------------------------------------
  std::string reason;
  std::string notify_url; ///< as applied; "" = the order's
  int64_t refund = 0;     ///< fen
  int64_t total = 0;      ///< the order's paid total, fen
  std::string currency;
  // -- its course ----------------------------------------------------------------------
  timestamp created_at;
  std::chrono::steady_clock::time_point due;
  timestamp due_at; ///< the wall-clock twin of `due`: a SUCCESS outcome's success_time
  refund_status status = refund_status::processing; ///< as last stored
  refund_status outcome = refund_status::success;   ///< what PROCESSING becomes at `due`
  std::optional<timestamp> success_time;            ///< stored once SUCCESS is stored
  std::optional<timestamp> resolved_at;             ///< fixed by a person (control resolve)
  bool was_abnormal = false;      ///< ABNORMAL before a person resolved it
  bool outcome_notified = false;  ///< the outcome's notification was built
  uint64_t queries = 0;
  // -- notifications -------------------------------------------------------------------
  std::vector<std::string> notification_ids;
  uint64_t notifications_sent = 0; ///< queued for sending (not dropped, not refused)
  uint64_t notifications_dropped = 0;
  uint64_t notify_attempts = 0;
  uint64_t notify_answered_2xx = 0;
  // -- business deliveries -------------------------------------------------------------
  std::array<uint64_t, refund_callback_events> deliveries{}; ///< by refund_callback_event
  uint64_t duplicate_deliveries = 0;
  uint64_t wrong_deliveries = 0;
};

/// A refund as seen at one instant.
struct refund_view {
  refund_status status = refund_status::processing;
  std::optional<timestamp> success_time;
};

/// `record` at `now`: PROCESSING turns into the outcome at `due`.
refund_view view_at(const refund_record& record, std::chrono::steady_clock::time_point now);

/// Stores `view_at(record, now)` into the record.
void settle(refund_record& record, std::chrono::steady_clock::time_point now);

/// Whether `request` repeats the apply that created `record` (WeChat
/// dedupes on out_refund_no, and refuses the same number with other
/// parameters).
bool same_apply(const refund_record& record, const wechatpay::refund_request& request);

/// The refund object of the apply and query answers.
wechatpay::refund_object to_refund_object(const refund_record& record, const refund_view& view);

/// The plaintext of the refund's notification.
wechatpay::refund_event to_refund_event(const refund_record& record, const refund_view& view,
                                        std::string_view mchid);

/// `REFUND.SUCCESS`, `REFUND.CLOSED` or `REFUND.ABNORMAL` (PROCESSING has none).
const char* notification_event_type(refund_status status);
/// The envelope's `summary` for `status`, as WeChat writes it.
const char* notification_summary(refund_status status);

/// The refund's entry in its order's report row (sim/README.md).
nlohmann::json report_json(const refund_record& record, const refund_view& view);

} // namespace paycoord::sim
