#include "sim/sim_state.hpp"

#include <algorithm>
#include <cstdio>

namespace paycoord::sim {

using json = nlohmann::json;
using wechatpay::trade_state;

sim_answer error_answer(unsigned status, std::string_view code, std::string_view message) {
  return {status, {{"code", code}, {"message", message}}};
}

bool is_paid(trade_state state) {
  return state == trade_state::success || state == trade_state::refund;
}

namespace {

const char* state_description(trade_state state) {
  switch (state) {
    case trade_state::success: return "支付成功";
    case trade_state::refund: return "转入退款";
    case trade_state::notpay: return "订单未支付";
    case trade_state::closed: return "订单已关闭";
    default: return "";
  }
}

/// `prefix` then `serial` zero-padded to `width` digits.
std::string numbered(std::string_view prefix, uint64_t serial, int width) {
  char digits[32];
  std::snprintf(digits, sizeof digits, "%0*llu", width, static_cast<unsigned long long>(serial));
  return std::string{prefix} + digits;
}

json optional_time(const std::optional<timestamp>& t) {
  return t ? json(format_rfc3339(*t)) : json(nullptr);
}

json optional_ms(const std::optional<timestamp>& t) {
  return t ? json(to_unix_ms(*t)) : json(nullptr);
}

} // namespace

sim_state::sim_state(identity ids, fault_config faults, uint64_t seed, std::size_t max_orders)
  : ids_(std::move(ids)),
    max_orders_(max_orders),
    started_at_(wall_clock::now()),
    started_steady_(std::chrono::steady_clock::now()),
    faults_(std::move(faults)),
    random_(seed) {
}

// -- helpers (mutex_ held) --------------------------------------------------------

sim_state::order_row* sim_state::find(std::string_view out_trade_no) {
  auto it = orders_.find(out_trade_no);
  return it == orders_.end() ? nullptr : &it->second;
}

const sim_state::order_row* sim_state::find(std::string_view out_trade_no) const {
  auto it = orders_.find(out_trade_no);
  return it == orders_.end() ? nullptr : &it->second;
}

sim_state::order_row* sim_state::find_or_add(std::string_view out_trade_no) {
  if (auto* row = find(out_trade_no))
    return row;
  if (orders_.size() >= max_orders_) {
    ++totals_.rows_refused;
    return nullptr;
  }
  auto& row = orders_[std::string{out_trade_no}];
  row.created_at = wall_clock::now();
  return &row;
}

std::string sim_state::next_id(std::string_view prefix, int width) {
  return numbered(prefix, next_serial_++, width);
}

sim_state::order_row* sim_state::row_of_key(std::string_view idempotency_key) {
  if (auto* row = find(idempotency_key))
    return row;
  auto colon = idempotency_key.find(':');
  auto* refund = colon == std::string_view::npos ? nullptr
                                                 : find_refund(idempotency_key.substr(0, colon));
  return refund != nullptr ? find(refund->out_trade_no) : nullptr;
}

bool sim_state::chance(double rate) {
  if (rate <= 0)
    return false;
  if (rate >= 1)
    return true;
  return std::uniform_real_distribution<double>(0.0, 1.0)(random_) < rate;
}

json sim_state::transaction_json(std::string_view out_trade_no, const order_row& row) const {
  wechatpay::transaction t;
  t.mchid = ids_.mchid;
  t.appid = ids_.appid;
  t.out_trade_no = out_trade_no;
  t.state = row.state;
  t.trade_state_desc = state_description(row.state);
  t.attach = row.attach;
  wechatpay::transaction_amount amount;
  amount.currency = row.currency;
  amount.total = row.amount;
  if (is_paid(row.state)) {
    t.transaction_id = row.transaction_id;
    t.trade_type = "JSAPI";
    t.bank_type = "OTHERS";
    t.success_time = row.paid_at;
    t.payer_openid = row.payer_openid;
    amount.total = row.paid_amount;
    amount.payer_total = row.paid_amount;
    amount.payer_currency = row.currency;
  }
  t.amount = amount;
  return json::parse(wechatpay::to_json(t));
}

notification_job sim_state::mark_paid(std::string_view out_trade_no, order_row& row,
                                      int64_t amount) {
  row.state = trade_state::success;
  row.paid_amount = amount;
  row.paid_at = wall_clock::now();
  row.pay_before_close = false;
  row.transaction_id = next_id("42000020261126", 14);
  notification_job job;
  job.epoch = epoch_;
  job.out_trade_no = out_trade_no;
  job.notify_url = row.notify_url;
  job.id = next_id("EV-", 20);
  job.create_time = format_rfc3339(wall_clock::now());
  job.event_type = "TRANSACTION.SUCCESS";
  job.summary = "支付成功";
  job.original_type = "transaction";
  job.plaintext = transaction_json(out_trade_no, row).dump();
  row.notification_ids.push_back(job.id);
  return job;
}

// -- WeChat API ---------------------------------------------------------------------

sim_answer sim_state::prepay(const wechatpay::prepay_request& request) {
  std::lock_guard lock(mutex_);
  ++totals_.prepays;
  if (request.mchid != ids_.mchid)
    return error_answer(400, "MCH_NOT_EXISTS", "mchid is not this sandbox's merchant");
  if (request.appid != ids_.appid)
    return error_answer(400, "APPID_MCHID_NOT_MATCH", "appid does not belong to mchid");
  if (!request.notify_url.starts_with("http://") && !request.notify_url.starts_with("https://"))
    return error_answer(400, "PARAM_ERROR", "notify_url must be an absolute http(s) URL");
  if (request.amount.total <= 0)
    return error_answer(400, "PARAM_ERROR", "amount.total must be positive");
  if (chance(faults_.wechat.prepay_error_rate)) {
    // WeChat failed before it stored anything: the order stays unknown there.
    // A row keeps only the counts, so a test can see the calls that follow.
    ++totals_.prepay_errors;
    if (auto* row = find_or_add(request.out_trade_no)) {
      ++row->prepays;
      ++row->prepay_errors;
    }
    return error_answer(500, "SYSTEM_ERROR", "系统错误");
  }
  auto* row = find_or_add(request.out_trade_no);
  if (row == nullptr)
    return error_answer(503, "SYSTEM_ERROR", "sandbox order cap (max_orders) reached");
  ++row->prepays;
  if (row->known_to_wechat) {
    if (is_paid(row->state))
      return error_answer(400, "ORDERPAID", "order already paid");
    if (row->state == trade_state::closed)
      return error_answer(400, "ORDER_CLOSED", "order closed");
    if (row->amount != request.amount.total || row->payer_openid != request.payer_openid)
      return error_answer(400, "INVALID_REQUEST", "out_trade_no reused with other parameters");
    return {200, {{"prepay_id", row->prepay_id}}};
  }
  row->known_to_wechat = true;
  row->created_at = wall_clock::now();
  row->prepay_id = next_id("wx26112600", 20);
  row->description = request.description;
  row->notify_url = request.notify_url;
  row->attach = request.attach;
  row->payer_openid = request.payer_openid;
  row->amount = request.amount.total;
  row->currency = request.amount.currency.empty() ? "CNY" : request.amount.currency;
  row->time_expire = request.time_expire;
  return {200, {{"prepay_id", row->prepay_id}}};
}

sim_answer sim_state::query(std::string_view out_trade_no, std::string_view mchid) {
  std::lock_guard lock(mutex_);
  ++totals_.queries;
  if (mchid != ids_.mchid)
    return error_answer(400, "PARAM_ERROR", "mchid is missing or not this merchant");
  auto* row = find(out_trade_no);
  if (row != nullptr)
    ++row->queries;
  if (row == nullptr || !row->known_to_wechat)
    return error_answer(404, "ORDER_NOT_EXIST", "订单不存在");
  return {200, transaction_json(out_trade_no, *row)};
}

control_outcome sim_state::close(std::string_view out_trade_no, std::string_view mchid) {
  std::lock_guard lock(mutex_);
  ++totals_.closes;
  if (mchid != ids_.mchid)
    return {error_answer(400, "PARAM_ERROR", "mchid is not this merchant"), std::nullopt};
  control_outcome outcome{{204, nullptr}, std::nullopt};
  auto* row = find(out_trade_no);
  if (row != nullptr)
    ++row->closes;
  if (row == nullptr || !row->known_to_wechat) {
    // WeChat's documentation says 204 for unknown ids; it also answers 404.
    ++totals_.closes_unknown;
    if (faults_.wechat.close_unknown_status == 404)
      outcome.answer = error_answer(404, "ORDER_NOT_EXIST", "订单不存在");
    return outcome;
  }
  if (row->state == trade_state::notpay && row->pay_before_close) {
    // The customer's payment went through just before the close did.
    row->paid_by_close = true;
    outcome.notification =
        mark_paid(out_trade_no, *row, row->pay_before_close_amount.value_or(row->amount));
    outcome.notification->drop = row->pay_before_close_drop;
  }
  if (is_paid(row->state)) {
    // WeChat refuses to close a paid order; the merchant must query.
    ++totals_.closes_refused;
    ++row->closes_refused;
    outcome.answer = error_answer(400, "ORDERPAID", "订单已支付");
  } else if (row->state == trade_state::notpay) {
    row->state = trade_state::closed;
    row->closed_at = wall_clock::now();
  }
  return outcome;
}

void sim_state::count_bad_authorization() {
  std::lock_guard lock(mutex_);
  ++totals_.bad_authorization;
}

query_fault sim_state::draw_query_fault() {
  std::lock_guard lock(mutex_);
  if (chance(faults_.wechat.query_error_rate)) {
    ++totals_.query_errors;
    return query_fault::server_error;
  }
  if (chance(faults_.wechat.query_throttle_rate)) {
    ++totals_.query_throttled;
    return query_fault::throttled;
  }
  return query_fault::none;
}

bool sim_state::draw_response_probe() {
  std::lock_guard lock(mutex_);
  bool probe = chance(faults_.wechat.probe_rate);
  totals_.response_probes += probe ? 1 : 0;
  return probe;
}

duration sim_state::api_latency() const {
  std::lock_guard lock(mutex_);
  return faults_.wechat.latency;
}

std::string sim_state::api_error_message() const {
  std::lock_guard lock(mutex_);
  return faults_.wechat.error_message;
}

// -- the customer -------------------------------------------------------------------

control_outcome sim_state::pay(std::string_view out_trade_no, std::optional<int64_t> amount,
                               bool before_close, bool drop_notification) {
  std::lock_guard lock(mutex_);
  auto* row = find(out_trade_no);
  if (row == nullptr || !row->known_to_wechat)
    return {error_answer(404, "ORDER_NOT_EXIST", "no prepay for this out_trade_no"),
            std::nullopt};
  if (is_paid(row->state))
    return {error_answer(409, "ORDER_PAID", "order already paid"), std::nullopt};
  if (row->state == trade_state::closed)
    return {error_answer(409, "ORDER_CLOSED", "order closed: the customer cannot pay"),
            std::nullopt};
  if (before_close) {
    row->pay_before_close = true;
    row->pay_before_close_amount = amount;
    row->pay_before_close_drop = drop_notification;
    return {{202, row_json(out_trade_no, *row)}, std::nullopt};
  }
  auto job = mark_paid(out_trade_no, *row, amount.value_or(row->amount));
  job.drop = drop_notification;
  return {{200, row_json(out_trade_no, *row)}, std::move(job)};
}

// -- notifications ------------------------------------------------------------------

delivery_plan sim_state::plan_delivery(const notification_job& job) {
  std::lock_guard lock(mutex_);
  delivery_plan plan;
  ++totals_.notifications_built;
  auto& f = faults_.notify;
  plan.drop = job.drop || chance(f.drop_rate);
  plan.duplicate = !plan.drop && chance(f.duplicate_rate);
  plan.probe = !plan.drop && chance(f.probe_rate);
  plan.extra_delay = f.delay;
  if (f.reorder > duration::zero())
    plan.extra_delay +=
        duration{std::uniform_int_distribution<int64_t>(0, f.reorder.count())(random_)};
  totals_.notifications_dropped += plan.drop ? 1 : 0;
  totals_.notifications_duplicated += plan.duplicate ? 1 : 0;
  totals_.notifications_probed += plan.probe ? 1 : 0;
  if (auto* row = job.epoch == epoch_ ? find(job.out_trade_no) : nullptr)
    row->notifications_dropped += plan.drop ? 1 : 0;
  if (job.out_refund_no.empty())
    return plan;
  totals_.refund_notifications_dropped += plan.drop ? 1 : 0;
  if (auto* refund = job.epoch == epoch_ ? find_refund(job.out_refund_no) : nullptr) {
    refund->notifications_dropped += plan.drop ? 1 : 0;
    refund->notifications_sent += plan.drop ? 0 : 1;
  }
  return plan;
}

void sim_state::record_attempt(const notification_job& job, int status, const std::string& error,
                               bool probe, bool duplicate_copy) {
  std::lock_guard lock(mutex_);
  if (job.epoch != epoch_)
    return;
  bool ok = status >= 200 && status < 300;
  ++totals_.notify_attempts;
  totals_.notify_answered_2xx += ok ? 1 : 0;
  totals_.probes_answered_2xx += ok && probe ? 1 : 0;
  totals_.notifications_answered += ok && !duplicate_copy ? 1 : 0;
  if (auto* row = find(job.out_trade_no)) {
    ++row->notify_attempts;
    row->notify_answered_2xx += ok ? 1 : 0;
    row->notify_probe_attempts += probe ? 1 : 0;
    row->last_notify_status = status;
    row->last_notify_error = error;
  }
  if (auto* refund = job.out_refund_no.empty() ? nullptr : find_refund(job.out_refund_no)) {
    ++refund->notify_attempts;
    refund->notify_answered_2xx += ok ? 1 : 0;
  }
}

void sim_state::record_gave_up(const notification_job& job) {
  std::lock_guard lock(mutex_);
  if (job.epoch == epoch_)
    ++totals_.notifications_gave_up;
}

void sim_state::record_refused(const notification_job& job) {
  std::lock_guard lock(mutex_);
  if (job.epoch != epoch_)
    return;
  ++totals_.notifications_refused;
  // Planned as sent, then the queue was full: never sent after all.
  if (auto* refund = job.out_refund_no.empty() ? nullptr : find_refund(job.out_refund_no))
    refund->notifications_sent -= refund->notifications_sent > 0 ? 1 : 0;
}

// -- business server ----------------------------------------------------------------

business_gate sim_state::open_business_request(std::string_view idempotency_key) {
  std::lock_guard lock(mutex_);
  ++totals_.business_requests;
  // Unverified requests never create rows: garbage keys cannot fill the cap.
  if (auto* row = row_of_key(idempotency_key))
    ++row->business_requests;
  auto since_start = std::chrono::duration_cast<duration>(std::chrono::steady_clock::now()
                                                          - started_steady_);
  bool in_window = std::any_of(faults_.business.down.begin(), faults_.business.down.end(),
                               [&](const down_window& w) {
                                 return since_start >= w.start && since_start < w.end;
                               });
  bool switched_down = std::chrono::steady_clock::now() < business_down_until_;
  business_gate gate{switched_down || in_window, faults_.business.latency};
  totals_.business_down += gate.down ? 1 : 0;
  return gate;
}

void sim_state::count_bad_hmac(std::string_view idempotency_key) {
  std::lock_guard lock(mutex_);
  ++totals_.bad_hmac;
  if (auto* row = row_of_key(idempotency_key))
    ++row->business_bad_hmac;
}

bool sim_state::draw_business_error() {
  std::lock_guard lock(mutex_);
  bool hit = chance(faults_.business.error_rate);
  totals_.business_errors += hit ? 1 : 0;
  return hit;
}

bool sim_state::record_delivery(const business_callback& callback) {
  std::lock_guard lock(mutex_);
  ++totals_.deliveries;
  if (auto event = refund_callback_event_from(callback.event))
    return record_refund_delivery(callback, *event);
  auto* row = find_or_add(callback.idempotency_key);
  bool paid = row != nullptr && row->known_to_wechat && is_paid(row->state);
  // Paid money must reach the business exactly as WeChat took it, and an
  // order whose payment differs from the order (an ANOMALY) never.
  bool mismatched = paid
                    && (callback.out_trade_no != callback.idempotency_key
                        || callback.transaction_id != row->transaction_id
                        || callback.total != std::optional<int64_t>{row->paid_amount}
                        || row->paid_amount != row->amount);
  totals_.unpaid_deliveries += paid ? 0 : 1;
  totals_.mismatched_deliveries += mismatched ? 1 : 0;
  if (row == nullptr)
    return true;
  bool first = row->deliveries == 0;
  auto now = wall_clock::now();
  ++row->deliveries;
  row->late_deliveries += callback.late ? 1 : 0;
  row->unpaid_deliveries += paid ? 0 : 1;
  row->mismatched_deliveries += mismatched ? 1 : 0;
  if (first)
    row->first_delivery_at = now;
  row->last_delivery_at = now;
  return first;
}

// -- control ------------------------------------------------------------------------

fault_config sim_state::faults() const {
  std::lock_guard lock(mutex_);
  return faults_;
}

void sim_state::set_faults(fault_config faults) {
  std::lock_guard lock(mutex_);
  faults_ = std::move(faults);
}

void sim_state::set_business_up(bool up, std::optional<duration> down_for) {
  using steady = std::chrono::steady_clock;
  std::lock_guard lock(mutex_);
  business_down_until_ = up         ? steady::time_point::min()
                         : down_for ? steady::now() + *down_for
                                    : steady::time_point::max();
}

bool sim_state::business_up() const {
  std::lock_guard lock(mutex_);
  return std::chrono::steady_clock::now() >= business_down_until_;
}

uint64_t sim_state::epoch() const {
  std::lock_guard lock(mutex_);
  return epoch_;
}

void sim_state::reset() {
  std::lock_guard lock(mutex_);
  orders_.clear();
  refunds_.clear();
  unknown_refund_keys_.clear();
  totals_ = {};
  business_down_until_ = std::chrono::steady_clock::time_point::min();
  ++epoch_;
}

json sim_state::row_json(std::string_view out_trade_no, const order_row& row) const {
  auto sums = sums_of(row, std::chrono::steady_clock::now());
  return {
    {"out_trade_no", out_trade_no},
    {"known_to_wechat", row.known_to_wechat},
    {"trade_state", row.known_to_wechat ? wechatpay::to_string(row.state) : ""},
    {"amount", row.amount},
    {"paid_amount", row.paid_amount},
    {"refunded", sums.succeeded},
    {"transaction_id", row.transaction_id},
    {"prepay_id", row.prepay_id},
    {"created_at", format_rfc3339(row.created_at)},
    {"time_expire", optional_time(row.time_expire)},
    {"paid_at", optional_time(row.paid_at)},
    {"closed_at", optional_time(row.closed_at)},
    {"pay_before_close", row.pay_before_close},
    {"paid_by_close", row.paid_by_close},
    {"prepays", row.prepays},
    {"prepay_errors", row.prepay_errors},
    {"queries", row.queries},
    {"closes", row.closes},
    {"closes_refused", row.closes_refused},
    {"notify",
     {{"notification_ids", row.notification_ids},
      {"dropped", row.notifications_dropped},
      {"attempts", row.notify_attempts},
      {"answered_2xx", row.notify_answered_2xx},
      {"probe_attempts", row.notify_probe_attempts},
      {"last_status", row.last_notify_status},
      {"last_error", row.last_notify_error}}},
    {"business",
     {{"requests", row.business_requests},
      {"bad_hmac", row.business_bad_hmac},
      {"deliveries", row.deliveries},
      {"late_deliveries", row.late_deliveries},
      {"unpaid_deliveries", row.unpaid_deliveries},
      {"mismatched_deliveries", row.mismatched_deliveries},
      {"first_delivery_ms", optional_ms(row.first_delivery_at)},
      {"last_delivery_ms", optional_ms(row.last_delivery_at)}}},
    {"refunds", refunds_json(row)},
  };
}

std::optional<json> sim_state::order_report(std::string_view out_trade_no) const {
  std::lock_guard lock(mutex_);
  auto* row = find(out_trade_no);
  if (row == nullptr)
    return std::nullopt;
  return row_json(out_trade_no, *row);
}

json sim_state::report(const report_page& page, std::size_t pending_attempts) const {
  std::lock_guard lock(mutex_);
  uint64_t known = 0, paid = 0, closed = 0, notpay = 0, refunded = 0, distinct_keys = 0;
  json rows = json::array();
  json next = nullptr;
  for (auto& [id, row] : orders_) {
    distinct_keys += row.deliveries > 0 ? 1 : 0;
    if (row.known_to_wechat) {
      ++known;
      paid += is_paid(row.state) ? 1 : 0;
      closed += row.state == trade_state::closed ? 1 : 0;
      notpay += row.state == trade_state::notpay ? 1 : 0;
      refunded += row.state == trade_state::refund ? 1 : 0;
    }
    if (!page.with_orders || id <= page.after || !next.is_null())
      continue;
    if (page.limit != 0 && rows.size() == page.limit)
      next = rows.back()["out_trade_no"];
    else
      rows.push_back(row_json(id, row));
  }
  auto& t = totals_;
  json result = {
    {"started_at", format_rfc3339(started_at_)},
    {"uptime_ms", std::chrono::duration_cast<duration>(std::chrono::steady_clock::now()
                                                       - started_steady_)
                      .count()},
    {"epoch", epoch_},
    {"faults", to_json(faults_)},
    {"business_up", std::chrono::steady_clock::now() >= business_down_until_},
    {"totals",
     {{"orders", known},
      {"paid", paid},
      {"closed", closed},
      {"notpay", notpay},
      {"refunded", refunded},
      {"rows_refused", t.rows_refused},
      {"wechat",
       {{"prepays", t.prepays},
        {"prepay_errors", t.prepay_errors},
        {"queries", t.queries},
        {"closes", t.closes},
        {"closes_unknown", t.closes_unknown},
        {"closes_refused", t.closes_refused},
        {"bad_authorization", t.bad_authorization},
        {"query_errors", t.query_errors},
        {"query_throttled", t.query_throttled},
        {"response_probes", t.response_probes}}},
      {"notifications",
       {{"built", t.notifications_built},
        {"sent", t.notifications_built - t.notifications_dropped - t.notifications_refused},
        {"dropped", t.notifications_dropped},
        {"refused", t.notifications_refused},
        {"duplicated", t.notifications_duplicated},
        {"probes", t.notifications_probed},
        {"attempts", t.notify_attempts},
        {"answered_2xx", t.notify_answered_2xx},
        {"answered", t.notifications_answered},
        {"gave_up", t.notifications_gave_up},
        {"probes_answered_2xx", t.probes_answered_2xx},
        {"pending_attempts", pending_attempts}}},
      {"business",
       {{"requests", t.business_requests},
        {"down_rejections", t.business_down},
        {"error_rejections", t.business_errors},
        {"bad_hmac", t.bad_hmac},
        {"deliveries", t.deliveries},
        {"distinct_keys", distinct_keys},
        {"unpaid_deliveries", t.unpaid_deliveries},
        {"mismatched_deliveries", t.mismatched_deliveries}}}}},
  };
  add_refund_totals(result["totals"]);
  if (page.with_orders) {
    result["orders"] = std::move(rows);
    result["next"] = std::move(next);
  }
  return result;
}

} // namespace paycoord::sim
