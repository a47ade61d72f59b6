// sim_state's refunds: the apply and query of the WeChat API, their
// resolution over time, the control API's refunds, the business callbacks
// about refunds, and their part of the report. The state's one mutex guards
// all of it (sim_state.hpp).

#include <algorithm>
#include <string>

#include "sim/sim_state.hpp"

namespace paycoord::sim {

using json = nlohmann::json;
using steady = std::chrono::steady_clock;
using wechatpay::trade_state;

namespace {

/// WeChat's limits: refunds of one order, characters of a reason.
constexpr std::size_t max_refunds_per_order = 50;
constexpr std::size_t max_reason_characters = 80;

std::size_t utf8_characters(std::string_view text) {
  // The JSON parser checked the UTF-8: count every byte that starts a character.
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

/// Why `request` is malformed (WeChat's 400 PARAM_ERROR), or "".
std::string malformed(const wechatpay::refund_request& request) {
  if (!valid_out_refund_no(request.out_refund_no))
    return "out_refund_no must be 1 to 64 characters of [A-Za-z0-9_|*@-]";
  if (request.amount.refund <= 0)
    return "amount.refund must be positive";
  if (request.amount.total <= 0)
    return "amount.total must be positive";
  if (utf8_characters(request.reason) > max_reason_characters)
    return "reason is longer than 80 characters";
  if (!request.notify_url.empty() && !request.notify_url.starts_with("http://")
      && !request.notify_url.starts_with("https://"))
    return "notify_url must be an absolute http(s) URL";
  return {};
}

json object_json(const refund_record& record, const refund_view& view) {
  return json::parse(wechatpay::to_json(to_refund_object(record, view)));
}

} // namespace

// -- helpers (mutex_ held) --------------------------------------------------------

refund_record* sim_state::find_refund(std::string_view out_refund_no) {
  auto it = refunds_.find(out_refund_no);
  return it == refunds_.end() ? nullptr : &it->second;
}

const refund_record* sim_state::find_refund(std::string_view out_refund_no) const {
  auto it = refunds_.find(out_refund_no);
  return it == refunds_.end() ? nullptr : &it->second;
}

sim_state::refund_sums sim_state::sums_of(const order_row& row, steady::time_point now) const {
  refund_sums sums;
  for (auto& out_refund_no : row.refunds) {
    const auto* record = find_refund(out_refund_no);
    if (record == nullptr)
      continue;
    auto status = view_at(*record, now).status;
    sums.not_closed += status != refund_status::closed ? record->refund : 0;
    sums.succeeded += status == refund_status::success ? record->refund : 0;
  }
  return sums;
}

notification_job sim_state::refund_notification(refund_record& record, order_row& row) {
  notification_job job;
  job.epoch = epoch_;
  job.out_trade_no = record.out_trade_no;
  job.out_refund_no = record.out_refund_no;
  // WeChat falls back to the merchant's configured URL; here, the order's.
  job.notify_url = record.notify_url.empty() ? row.notify_url : record.notify_url;
  job.id = next_id("EV-", 20);
  job.create_time = format_rfc3339(wall_clock::now());
  job.event_type = notification_event_type(record.status);
  job.summary = notification_summary(record.status);
  job.original_type = "refund";
  job.plaintext = wechatpay::to_json(
      to_refund_event(record, {record.status, record.success_time}, ids_.mchid));
  job.drop = chance(faults_.refund.notify_drop_rate);
  record.notification_ids.push_back(job.id);
  row.notification_ids.push_back(job.id);
  return job;
}

// -- WeChat API -----------------------------------------------------------------------

refund_apply_outcome sim_state::apply_refund(const wechatpay::refund_request& request) {
  std::lock_guard lock(mutex_);
  ++totals_.refund_applies;
  auto refused = [&](unsigned status, std::string_view code, const std::string& message) {
    ++totals_.refund_applies_refused;
    return refund_apply_outcome{error_answer(status, code, message), std::nullopt};
  };
  if (auto why = malformed(request); !why.empty())
    return refused(400, "PARAM_ERROR", why);
  auto& f = faults_.refund;
  if (chance(f.apply_error_rate)) {
    // WeChat failed before it stored anything: a retry starts afresh.
    ++totals_.refund_apply_errors;
    return {error_answer(500, "SYSTEM_ERROR", "系统错误"), std::nullopt};
  }
  auto now = steady::now();
  if (auto* existing = find_refund(request.out_refund_no)) {
    if (!same_apply(*existing, request))
      return refused(400, "INVALID_REQUEST",
                     "out_refund_no " + request.out_refund_no
                         + " was applied before with other parameters");
    settle(*existing, now);
    return {{200, object_json(*existing, view_at(*existing, now))}, std::nullopt};
  }

  auto* row = find(request.out_trade_no);
  if (row == nullptr || !row->known_to_wechat)
    return refused(404, "RESOURCE_NOT_EXISTS", "订单不存在");
  if (!is_paid(row->state))
    return refused(400, "INVALID_REQUEST", std::string{"the order is not paid (trade_state "}
                                               + wechatpay::to_string(row->state) + ")");
  if (request.amount.total != row->paid_amount)
    return refused(400, "INVALID_REQUEST",
                   "amount.total " + std::to_string(request.amount.total)
                       + " is not the order's total " + std::to_string(row->paid_amount));
  if (request.amount.currency != row->currency)
    return refused(400, "INVALID_REQUEST", "amount.currency " + request.amount.currency
                                               + " is not the order's " + row->currency);
  if (row->refunds.size() >= max_refunds_per_order)
    return refused(400, "INVALID_REQUEST", "the order has 50 refunds already (WeChat's limit)");
  auto sums = sums_of(*row, now);
  if (sums.not_closed + request.amount.refund > row->paid_amount) {
    auto rest = row->paid_amount - sums.not_closed;
    return refused(400, "INVALID_REQUEST",
                   "amount.refund " + std::to_string(request.amount.refund)
                       + " exceeds what is left to refund (" + std::to_string(rest) + " of "
                       + std::to_string(row->paid_amount) + ") by "
                       + std::to_string(request.amount.refund - rest));
  }
  if (refunds_.size() >= max_orders_) {
    ++totals_.rows_refused;
    return refused(503, "SYSTEM_ERROR", "sandbox refund cap (max_orders) reached");
  }

  refund_record record;
  record.out_refund_no = request.out_refund_no;
  record.out_trade_no = request.out_trade_no;
  record.refund_id = next_id("50300020261126", 14);
  record.transaction_id = row->transaction_id;
  record.reason = request.reason;
  record.notify_url = request.notify_url;
  record.refund = request.amount.refund;
  record.total = request.amount.total;
  record.currency = request.amount.currency;
  // Everything about its course is drawn now, so that reads can resolve it
  // lazily and a reset or a lost answer changes nothing about it.
  if (chance(f.closed_rate))
    record.outcome = refund_status::closed;
  else if (chance(f.abnormal_rate))
    record.outcome = refund_status::abnormal;
  auto delay = duration{std::uniform_int_distribution<int64_t>(
      f.processing_min.count(), std::max(f.processing_min, f.processing_max).count())(random_)};
  record.created_at = wall_clock::now();
  record.due = now + delay;
  record.due_at = record.created_at + delay;
  row->state = trade_state::refund;
  row->refunds.push_back(request.out_refund_no);
  ++totals_.refunds_requested;
  auto& stored = refunds_.emplace(request.out_refund_no, std::move(record)).first->second;

  refund_timer timer{epoch_, request.out_refund_no, delay};
  if (chance(f.apply_answer_lost_rate)) {
    ++totals_.refund_answers_lost;
    return {error_answer(500, "SYSTEM_ERROR", "系统错误"), std::move(timer)};
  }
  return {{200, object_json(stored, view_at(stored, now))}, std::move(timer)};
}

sim_answer sim_state::query_refund(std::string_view out_refund_no) {
  std::lock_guard lock(mutex_);
  ++totals_.refund_queries;
  auto* record = find_refund(out_refund_no);
  if (record == nullptr)
    return error_answer(404, "RESOURCE_NOT_EXISTS", "退款单不存在");
  ++record->queries;
  auto now = steady::now();
  settle(*record, now);
  return {200, object_json(*record, view_at(*record, now))};
}

std::optional<notification_job> sim_state::settle_refund(const refund_timer& timer) {
  std::lock_guard lock(mutex_);
  if (timer.epoch != epoch_)
    return std::nullopt;
  auto* record = find_refund(timer.out_refund_no);
  if (record == nullptr || record->outcome_notified)
    return std::nullopt;
  // The timer fires at the deadline or later: the outcome is due.
  settle(*record, std::max(steady::now(), record->due));
  auto* row = find(record->out_trade_no);
  if (row == nullptr || record->status == refund_status::processing)
    return std::nullopt; // a refund always has its row (a reset clears both)
  record->outcome_notified = true;
  return refund_notification(*record, *row);
}

// -- the control API ------------------------------------------------------------------

control_outcome sim_state::refund(std::string_view out_trade_no, std::optional<int64_t> amount) {
  std::lock_guard lock(mutex_);
  auto* row = find(out_trade_no);
  if (row == nullptr || !row->known_to_wechat)
    return {error_answer(404, "ORDER_NOT_EXIST", "no prepay for this out_trade_no"),
            std::nullopt};
  if (!is_paid(row->state))
    return {error_answer(409, "ORDER_NOT_PAID", "only a paid order can be refunded"),
            std::nullopt};
  auto now = steady::now();
  auto sums = sums_of(*row, now);
  int64_t refund = amount.value_or(row->paid_amount - sums.not_closed);
  if (refund <= 0 || sums.not_closed + refund > row->paid_amount)
    return {error_answer(409, "REFUND_TOO_LARGE", "refund exceeds what is left to refund"),
            std::nullopt};
  if (row->refunds.size() >= max_refunds_per_order)
    return {error_answer(409, "TOO_MANY_REFUNDS", "the order has 50 refunds already"),
            std::nullopt};
  if (refunds_.size() >= max_orders_)
    return {error_answer(503, "SYSTEM_ERROR", "sandbox refund cap (max_orders) reached"),
            std::nullopt};

  refund_record record;
  record.out_refund_no = next_id("RF", 20);
  record.out_trade_no = out_trade_no;
  record.refund_id = next_id("50300020261126", 14);
  record.transaction_id = row->transaction_id;
  record.requested = false;
  record.refund = refund;
  record.total = row->paid_amount;
  record.currency = row->currency;
  record.created_at = wall_clock::now();
  record.due = now;
  record.due_at = record.created_at;
  record.status = refund_status::success;
  record.success_time = record.created_at;
  record.outcome_notified = true; // just below
  row->state = trade_state::refund;
  row->refunds.push_back(record.out_refund_no);
  ++totals_.refunds_made_at_wechat;
  auto& stored = refunds_.emplace(record.out_refund_no, std::move(record)).first->second;
  auto job = refund_notification(stored, *row);
  json body = row_json(out_trade_no, *row);
  body["refund"] = json::parse(job.plaintext);
  return {{200, std::move(body)}, std::move(job)};
}

control_outcome sim_state::resolve_refund(std::string_view out_refund_no, refund_status status) {
  std::lock_guard lock(mutex_);
  auto* record = find_refund(out_refund_no);
  if (record == nullptr)
    return {error_answer(404, "REFUND_NOT_FOUND", "paysim has no refund with this out_refund_no"),
            std::nullopt};
  auto now = steady::now();
  settle(*record, now);
  if (record->status != refund_status::abnormal
      || (status != refund_status::success && status != refund_status::closed))
    return {error_answer(409, "REFUND_NOT_ABNORMAL",
                         std::string{"the refund is "} + to_string(record->status)
                             + ": only an ABNORMAL one is resolved, to SUCCESS or CLOSED"),
            std::nullopt};
  auto* row = find(record->out_trade_no);
  if (row == nullptr)
    return {error_answer(404, "ORDER_NOT_EXIST", "the refund's order is gone"), std::nullopt};
  record->was_abnormal = true;
  record->status = status;
  record->resolved_at = wall_clock::now();
  if (status == refund_status::success)
    record->success_time = record->resolved_at;
  // This notification supersedes the ABNORMAL one if the timer has not sent it yet.
  record->outcome_notified = true;
  auto job = refund_notification(*record, *row);
  json body = report_json(*record, view_at(*record, now));
  body["out_trade_no"] = record->out_trade_no;
  return {{200, std::move(body)}, std::move(job)};
}

std::optional<json> sim_state::refund_report(std::string_view out_refund_no) const {
  std::lock_guard lock(mutex_);
  const auto* record = find_refund(out_refund_no);
  if (record == nullptr)
    return std::nullopt;
  json body = report_json(*record, view_at(*record, steady::now()));
  body["out_trade_no"] = record->out_trade_no;
  return body;
}

// -- business server ------------------------------------------------------------------

bool sim_state::record_refund_delivery(const business_callback& callback,
                                       refund_callback_event event) {
  auto index = static_cast<std::size_t>(event);
  ++totals_.refund_deliveries[index];
  bool key_matches = callback.idempotency_key == callback.out_refund_no + ":" + callback.event;
  auto* record = find_refund(callback.out_refund_no);
  if (record == nullptr) {
    // WeChat never accepted it. paycoord closes a refund WeChat refused
    // (CONTRACTS.md §10): refund.closed for a paid order is right, nothing else.
    auto* row = find(callback.out_trade_no);
    bool wrong = event != refund_callback_event::closed || !key_matches || row == nullptr
                 || !row->known_to_wechat || !is_paid(row->state);
    totals_.wrong_refund_deliveries += wrong ? 1 : 0;
    auto it = unknown_refund_keys_.find(callback.idempotency_key);
    if (it != unknown_refund_keys_.end()) {
      ++it->second;
      ++totals_.refund_delivery_duplicates;
      return false;
    }
    if (unknown_refund_keys_.size() >= max_orders_)
      ++totals_.rows_refused; // accepted, but not remembered: a repeat looks new
    else
      unknown_refund_keys_.emplace(callback.idempotency_key, 1);
    return true;
  }
  // The business must hear exactly what WeChat did with the refund it was asked for.
  auto status = view_at(*record, steady::now()).status;
  bool matches = key_matches && record->requested && callback.out_trade_no == record->out_trade_no
                 && callback.refund_id == record->refund_id
                 && callback.refund == std::optional<int64_t>{record->refund}
                 && callback.total == std::optional<int64_t>{record->total};
  bool true_to_wechat = false;
  switch (event) {
    case refund_callback_event::succeeded:
      true_to_wechat = status == refund_status::success;
      break;
    case refund_callback_event::closed:
      true_to_wechat = status == refund_status::closed;
      break;
    case refund_callback_event::abnormal:
      true_to_wechat = status == refund_status::abnormal || record->was_abnormal;
      break;
  }
  bool wrong = !matches || !true_to_wechat;
  bool first = record->deliveries[index] == 0;
  ++record->deliveries[index];
  record->duplicate_deliveries += first ? 0 : 1;
  record->wrong_deliveries += wrong ? 1 : 0;
  totals_.refund_delivery_duplicates += first ? 0 : 1;
  totals_.wrong_refund_deliveries += wrong ? 1 : 0;
  return first;
}

// -- the report -----------------------------------------------------------------------

json sim_state::refunds_json(const order_row& row) const {
  auto now = steady::now();
  json entries = json::array();
  for (auto& out_refund_no : row.refunds)
    if (const auto* record = find_refund(out_refund_no))
      entries.push_back(report_json(*record, view_at(*record, now)));
  return entries;
}

void sim_state::add_refund_totals(json& totals) const {
  auto now = steady::now();
  uint64_t processing = 0, succeeded = 0, closed = 0, abnormal = 0, lost = 0, over_paid = 0;
  for (auto& [out_refund_no, record] : refunds_) {
    auto status = view_at(record, now).status;
    processing += status == refund_status::processing ? 1 : 0;
    succeeded += status == refund_status::success ? 1 : 0;
    closed += status == refund_status::closed ? 1 : 0;
    abnormal += status == refund_status::abnormal ? 1 : 0;
    // Refunded at WeChat, and the business never told (as yet).
    lost += record.requested && status == refund_status::success
                    && record.deliveries[static_cast<std::size_t>(refund_callback_event::succeeded)]
                         == 0
                ? 1
                : 0;
  }
  for (auto& [id, row] : orders_)
    over_paid += !row.refunds.empty() && sums_of(row, now).succeeded > row.paid_amount ? 1 : 0;
  auto& t = totals_;
  auto delivered = [&](refund_callback_event event) {
    return t.refund_deliveries[static_cast<std::size_t>(event)];
  };
  totals["refunds_requested"] = t.refunds_requested;
  totals["refunds_made_at_wechat"] = t.refunds_made_at_wechat;
  totals["refunds_processing"] = processing;
  totals["refunds_succeeded"] = succeeded;
  totals["refunds_closed"] = closed;
  totals["refunds_abnormal"] = abnormal;
  totals["refund_notifications_dropped"] = t.refund_notifications_dropped;
  totals["refund_deliveries_succeeded"] = delivered(refund_callback_event::succeeded);
  totals["refund_deliveries_closed"] = delivered(refund_callback_event::closed);
  totals["refund_deliveries_abnormal"] = delivered(refund_callback_event::abnormal);
  totals["refund_delivery_duplicates"] = t.refund_delivery_duplicates;
  totals["wrong_refund_deliveries"] = t.wrong_refund_deliveries;
  totals["refunded_over_paid"] = over_paid;
  totals["refunds_lost"] = lost;
  auto& wechat = totals["wechat"];
  wechat["refund_applies"] = t.refund_applies;
  wechat["refund_apply_errors"] = t.refund_apply_errors;
  wechat["refund_answers_lost"] = t.refund_answers_lost;
  wechat["refund_applies_refused"] = t.refund_applies_refused;
  wechat["refund_queries"] = t.refund_queries;
}

} // namespace paycoord::sim
