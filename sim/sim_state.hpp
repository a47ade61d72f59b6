#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/time.hpp"
#include "net/wechatpay/models.hpp"
#include "sim/faults.hpp"
#include "sim/refund_record.hpp"

namespace paycoord::sim {

// -- what the state hands to the HTTP sides ------------------------------------

/// An answer of the WeChat API or the control API: status and JSON body
/// (a 204 has none).
struct sim_answer {
  unsigned status = 200;
  nlohmann::json body;
};

/// An error answer: `status` with `{"code","message"}`.
sim_answer error_answer(unsigned status, std::string_view code, std::string_view message);

/// SUCCESS or REFUND: the customer paid (a refund does not undo that).
bool is_paid(wechatpay::trade_state state);

/// One notification to send: everything but the per-attempt signature.
struct notification_job {
  /// `sim_state::epoch` when built; a reset makes older jobs stale.
  uint64_t epoch = 0;
  std::string out_trade_no;
  std::string out_refund_no; ///< set for a refund's notification
  std::string notify_url;
  std::string id; ///< the envelope's `id`, the same on every attempt
  std::string create_time; ///< RFC 3339, when the event happened
  std::string event_type;
  std::string summary;
  std::string original_type; ///< also the resource's associated_data
  std::string plaintext;     ///< the resource before encryption
  bool drop = false;         ///< never send it (the control API asked so)
};

/// A control API result, perhaps with a notification to send.
struct control_outcome {
  sim_answer answer;
  std::optional<notification_job> notification;
};

/// An accepted refund's deadline: after `delay`, `sim_state::settle_refund`
/// stores its outcome and hands back the notification to send.
struct refund_timer {
  uint64_t epoch = 0; ///< a reset in between makes it stale
  std::string out_refund_no;
  duration delay{0};
};

/// A refund apply's answer, and the timer to start when it accepted one.
struct refund_apply_outcome {
  sim_answer answer;
  std::optional<refund_timer> timer;
};

/// How the faults shape one notification (drawn once, when it is built).
struct delivery_plan {
  bool drop = false;
  bool duplicate = false;
  bool probe = false;
  duration extra_delay{0};
};

enum class query_fault { none, server_error, throttled };

/// What the business simulator does with one callback, drawn up front.
struct business_gate {
  bool down = false;
  duration latency{0};
};

/// The fields of a business callback body that paysim checks: `order.paid`
/// (CONTRACTS.md §5; also a body without `event`) or a refund's event (§10).
struct business_callback {
  std::string idempotency_key;
  std::string event;
  std::string out_trade_no;
  std::string transaction_id;
  std::optional<int64_t> total;
  bool late = false;
  // -- refund events ------------------------------------------------------------------
  std::string out_refund_no;
  std::string refund_id;
  std::optional<int64_t> refund;
};

/// What paysim remembers and counts: WeChat's transactions, the notifications
/// it sent, and the business server's deliveries, per order and in total.
///
/// Thread-safe: every member function takes the one mutex, and none blocks
/// while holding it (no I/O, no signing). Bounded: at most `max_orders` rows
/// and as many refunds (at most 50 per order, as at WeChat).
class sim_state {
public:
  struct identity {
    std::string mchid;
    std::string appid;
  };

  sim_state(identity ids, fault_config faults, uint64_t seed, std::size_t max_orders);

  // -- WeChat API (the caller verified the Authorization) ---------------------

  /// JSAPI prepay: a new NOTPAY transaction, or the same prepay_id for a repeat.
  /// At `prepay_error_rate`, 500 SYSTEM_ERROR and nothing remembered (a new
  /// id gets a row with `known_to_wechat` false, for its counters only).
  sim_answer prepay(const wechatpay::prepay_request& request);

  /// Query by out_trade_no: the transaction JSON (200) or 404 ORDER_NOT_EXIST.
  sim_answer query(std::string_view out_trade_no, std::string_view mchid);

  /// Close: NOTPAY -> CLOSED and 204 (a repeat too); a paid order is refused
  /// 400 ORDERPAID; an order marked pay-before-close is paid now, refused
  /// ORDERPAID, and its notification is returned; an id WeChat does not know
  /// gets `close_unknown_status` (204, or 404 ORDER_NOT_EXIST).
  control_outcome close(std::string_view out_trade_no, std::string_view mchid);

  void count_bad_authorization();

  /// Draws the query faults (counting what it draws).
  query_fault draw_query_fault();

  /// Draws whether this API response carries a probe signature (counted).
  bool draw_response_probe();

  duration api_latency() const;

  /// `faults.wechat.error_message`: "" keeps each error's own message.
  std::string api_error_message() const;

  // -- the customer (control API) ----------------------------------------------

  /// Pays a NOTPAY order now with `amount` (default the order's), or, with
  /// `before_close`, marks it to be paid the moment a close arrives. With
  /// `drop_notification` that payment's notification is never sent. 404
  /// unknown, 409 already paid or closed.
  control_outcome pay(std::string_view out_trade_no, std::optional<int64_t> amount,
                      bool before_close, bool drop_notification = false);

  /// A refund made at WeChat directly, which paycoord never asked for: SUCCESS
  /// at once (default amount: what is left to refund), trade_state REFUND and a
  /// REFUND.SUCCESS notification. 404 unknown, 409 not paid, nothing left,
  /// or 50 refunds already.
  control_outcome refund(std::string_view out_trade_no, std::optional<int64_t> amount);

  // -- refunds (sim/sim_refunds.cpp) --------------------------------------------

  /// Refund apply (the caller verified the Authorization and parsed the
  /// body). A new refund is accepted PROCESSING with its outcome and
  /// deadline drawn (`faults.refund`), the order's trade_state becomes
  /// REFUND, and the answer carries the timer to start. A repeat of the same
  /// out_refund_no and body gets the refund as it is now (WeChat dedupes);
  /// another body 400 INVALID_REQUEST. Refused: 400 PARAM_ERROR (a malformed
  /// field), 404 RESOURCE_NOT_EXISTS (unknown order), 400 INVALID_REQUEST (not
  /// paid, wrong total, over the refundable rest, more than 50 refunds), 503
  /// at the cap. `apply_error_rate`: 500 and nothing accepted;
  /// `apply_answer_lost_rate`: accepted and still 500.
  refund_apply_outcome apply_refund(const wechatpay::refund_request& request);

  /// Refund query: the refund object (200) or 404 RESOURCE_NOT_EXISTS.
  sim_answer query_refund(std::string_view out_refund_no);

  /// The refund's deadline: stores its outcome and returns its notification
  /// (dropped at `refund.notify_drop_rate`) — once; nullopt when the timer is
  /// stale or the outcome was notified already.
  std::optional<notification_job> settle_refund(const refund_timer& timer);

  /// A person fixed an ABNORMAL refund at WeChat: it becomes `status`
  /// (SUCCESS or CLOSED) and its notification is returned. 404 unknown, 409
  /// not ABNORMAL.
  control_outcome resolve_refund(std::string_view out_refund_no, refund_status status);

  /// One refund's report entry (with `out_trade_no`), or nullopt.
  std::optional<nlohmann::json> refund_report(std::string_view out_refund_no) const;

  // -- notifications -----------------------------------------------------------

  /// Draws the notify faults for a job just built (counting them).
  delivery_plan plan_delivery(const notification_job& job);

  /// One attempt's outcome: an HTTP status, or 0 with `error` when none came.
  void record_attempt(const notification_job& job, int status, const std::string& error,
                      bool probe, bool duplicate_copy);

  /// The job's retry schedule ran out without a 2xx; or it could not be queued.
  void record_gave_up(const notification_job& job);
  void record_refused(const notification_job& job);

  // -- business server ---------------------------------------------------------

  /// Counts a callback and says whether the server is down now.
  business_gate open_business_request(std::string_view idempotency_key);
  void count_bad_hmac(std::string_view idempotency_key);
  /// Draws the business error rate (counting a hit).
  bool draw_business_error();
  /// Records an accepted delivery; returns whether its key is new.
  bool record_delivery(const business_callback& callback);

  // -- control -----------------------------------------------------------------

  fault_config faults() const;
  void set_faults(fault_config faults);
  /// The manual switch (down windows apply on top of it): up, or down for
  /// `down_for` from now (nullopt: until switched up again).
  void set_business_up(bool up, std::optional<duration> down_for = std::nullopt);
  /// Whether the manual switch says up now.
  bool business_up() const;

  /// One order's row, or nullopt when paysim never saw it.
  std::optional<nlohmann::json> order_report(std::string_view out_trade_no) const;

  /// Which rows a report carries: sorted by out_trade_no, those after
  /// `after`, at most `limit` (0: all); none without `with_orders`.
  struct report_page {
    bool with_orders = true;
    std::string after;
    std::size_t limit = 0;
  };

  /// Totals and one page of rows, with `next` (the cursor for the following
  /// page, or null). `pending_attempts` comes from the notifier.
  nlohmann::json report(const report_page& page, std::size_t pending_attempts) const;

  /// Forgets every order and count (faults stay); older jobs turn stale.
  void reset();

  uint64_t epoch() const;

private:
  /// One out_trade_no as both sides saw it.
  struct order_row {
    // -- WeChat side ---------------------------------------------------------------
    bool known_to_wechat = false; // a prepay created it (else: business only)
    std::string prepay_id;
    std::string description;
    std::string notify_url;
    std::string attach;
    std::string payer_openid;
    int64_t amount = 0;
    std::string currency = "CNY";
    std::optional<timestamp> time_expire;
    timestamp created_at;
    wechatpay::trade_state state = wechatpay::trade_state::notpay;
    std::string transaction_id;
    int64_t paid_amount = 0;
    std::optional<timestamp> paid_at;
    std::vector<std::string> refunds; // out_refund_no, oldest first
    std::optional<timestamp> closed_at;
    bool pay_before_close = false;
    std::optional<int64_t> pay_before_close_amount;
    bool pay_before_close_drop = false;
    bool paid_by_close = false;
    uint64_t prepays = 0;
    uint64_t prepay_errors = 0;
    uint64_t queries = 0;
    uint64_t closes = 0;
    uint64_t closes_refused = 0;
    // -- notifications -------------------------------------------------------------
    std::vector<std::string> notification_ids;
    uint64_t notifications_dropped = 0;
    uint64_t notify_attempts = 0;
    uint64_t notify_answered_2xx = 0;
    uint64_t notify_probe_attempts = 0;
    int last_notify_status = 0;
    std::string last_notify_error;
    // -- business side -------------------------------------------------------------
    uint64_t business_requests = 0;
    uint64_t business_bad_hmac = 0;
    uint64_t deliveries = 0;
    uint64_t late_deliveries = 0;
    uint64_t unpaid_deliveries = 0;
    uint64_t mismatched_deliveries = 0;
    std::optional<timestamp> first_delivery_at;
    std::optional<timestamp> last_delivery_at;
  };

  /// Counts that belong to no single row.
  struct totals {
    uint64_t prepays = 0;
    uint64_t prepay_errors = 0;
    uint64_t queries = 0;
    uint64_t closes = 0;
    uint64_t closes_unknown = 0;
    uint64_t closes_refused = 0;
    uint64_t bad_authorization = 0;
    uint64_t query_errors = 0;
    uint64_t query_throttled = 0;
    uint64_t response_probes = 0;
    uint64_t notifications_built = 0;
    uint64_t notifications_dropped = 0;
    uint64_t notifications_refused = 0;
    uint64_t notifications_duplicated = 0;
    uint64_t notifications_probed = 0;
    uint64_t notifications_answered = 0;
    uint64_t notifications_gave_up = 0;
    uint64_t notify_attempts = 0;
    uint64_t notify_answered_2xx = 0;
    uint64_t probes_answered_2xx = 0;
    uint64_t business_requests = 0;
    uint64_t business_down = 0;
    uint64_t business_errors = 0;
    uint64_t bad_hmac = 0;
    uint64_t deliveries = 0;
    uint64_t unpaid_deliveries = 0;
    uint64_t mismatched_deliveries = 0;
    uint64_t rows_refused = 0;
    // -- refunds -------------------------------------------------------------------
    uint64_t refund_applies = 0;
    uint64_t refund_apply_errors = 0;   // 500, not accepted
    uint64_t refund_answers_lost = 0;   // accepted, answered 500
    uint64_t refund_applies_refused = 0; // 4xx
    uint64_t refund_queries = 0;
    uint64_t refunds_requested = 0; // applies accepted
    uint64_t refunds_made_at_wechat = 0;
    uint64_t refund_notifications_dropped = 0;
    std::array<uint64_t, refund_callback_events> refund_deliveries{};
    uint64_t refund_delivery_duplicates = 0;
    uint64_t wrong_refund_deliveries = 0;
  };

  // All private helpers expect `mutex_` held.
  order_row* find(std::string_view out_trade_no);
  const order_row* find(std::string_view out_trade_no) const;
  /// The row for `out_trade_no`, created when there is room; else null.
  order_row* find_or_add(std::string_view out_trade_no);
  bool chance(double rate);
  nlohmann::json transaction_json(std::string_view out_trade_no, const order_row& row) const;
  notification_job mark_paid(std::string_view out_trade_no, order_row& row, int64_t amount);
  nlohmann::json row_json(std::string_view out_trade_no, const order_row& row) const;
  /// `prefix` then the next serial, zero-padded to `width` digits.
  std::string next_id(std::string_view prefix, int width);
  /// The order row a business key is about: its out_trade_no, or the order of
  /// the refund in `{out_refund_no}:{event}`.
  order_row* row_of_key(std::string_view idempotency_key);

  // -- refund helpers (sim/sim_refunds.cpp; mutex_ held) ---------------------------
  refund_record* find_refund(std::string_view out_refund_no);
  const refund_record* find_refund(std::string_view out_refund_no) const;
  /// The sums of an order's refunds at `now`: not CLOSED, and SUCCESS.
  struct refund_sums {
    int64_t not_closed = 0;
    int64_t succeeded = 0;
  };
  refund_sums sums_of(const order_row& row, std::chrono::steady_clock::time_point now) const;
  /// A refund's notification for its status now (counted on the record).
  notification_job refund_notification(refund_record& record, order_row& row);
  bool record_refund_delivery(const business_callback& callback, refund_callback_event event);
  nlohmann::json refunds_json(const order_row& row) const;
  /// The refund totals (flat, into the report's `totals`).
  void add_refund_totals(nlohmann::json& totals) const;

  const identity ids_;
  const std::size_t max_orders_;
  const timestamp started_at_;
  const std::chrono::steady_clock::time_point started_steady_;

  mutable std::mutex mutex_;
  // -- guarded by mutex_ -----------------------------------------------------------
  std::map<std::string, order_row, std::less<>> orders_;
  std::map<std::string, refund_record, std::less<>> refunds_; // by out_refund_no; max_orders_
  /// Business keys of refund events for refunds WeChat never accepted, with
  /// their delivery counts; at most max_orders_.
  std::map<std::string, uint64_t, std::less<>> unknown_refund_keys_;
  totals totals_;
  fault_config faults_;
  std::mt19937_64 random_;
  /// Manually down until then (min: up).
  std::chrono::steady_clock::time_point business_down_until_;
  uint64_t epoch_ = 1;
  uint64_t next_serial_ = 1; // prepay, transaction, notification and refund ids
};

} // namespace paycoord::sim
