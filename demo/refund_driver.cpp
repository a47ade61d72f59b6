#include "demo/refund_driver.hpp"

#include <algorithm>

#include "common/time.hpp"
#include "demo/json_call.hpp"

namespace paycoord::demo {

namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

/// As the customers creating orders: a restart takes a second or two.
constexpr auto give_up_after = 60s;
constexpr auto retry_pause = 100ms;
/// How often a customer looks at refunds that are not settled yet (and at
/// an order not yet confirmed).
constexpr auto look_every = 250ms;
constexpr int workers = 2;

int64_t now_ms() {
  return to_unix_ms(wall_clock::now());
}

/// paycoord answered: 2xx, a refusal (4xx) or REFUND_REFUSED (502 with the
/// refund). No answer, 500 and 503 (recovering) are tried again.
bool answered(int status) {
  return (status >= 200 && status < 300) || (status >= 400 && status < 500) || status == 502;
}

const char* reason_for(refund_request_kind kind) {
  switch (kind) {
    case refund_request_kind::refund:
    case refund_request_kind::repeat: // a double submit sends the very same body
      return "paydemo: the customer asked for a refund";
    case refund_request_kind::over_refund:
      return "paydemo: more than is left (must be refused)";
  }
  return "";
}

/// The business server's count of callbacks for a refund in `state`.
int64_t delivered_for(const json& entry, const std::string& state) {
  const char* event = state == "SUCCESS"  ? "succeeded"
                      : state == "CLOSED" ? "closed"
                                          : "abnormal";
  return json_int(entry, "business", event);
}

} // namespace

refund_driver::refund_driver(const scenario& script, refund_endpoints endpoints,
                             const order_log& orders, refund_log& log,
                             const std::atomic<bool>& customers_done)
  : script_(script),
    endpoints_(std::move(endpoints)),
    orders_(orders),
    log_(log),
    customers_done_(customers_done) {
  for (std::size_t i = 0; i < script_.customers.size(); ++i) {
    if (!script_.customers[i].refund || script_.customers[i].refund->steps.empty())
      continue;
    progress_.emplace_back();
    progress_.back().customer = i;
  }
}

refund_driver::~refund_driver() {
  stop();
}

void refund_driver::start() {
  {
    std::lock_guard guard{mutex_};
    auto now = steady::now();
    for (std::size_t k = 0; k < progress_.size(); ++k)
      queue_.push({now, k});
  }
  for (int i = 0; i < workers; ++i)
    workers_.emplace_back([this] { work(); });
}

void refund_driver::stop() {
  stop_ = true;
  wake_.notify_all();
  for (auto& w : workers_)
    if (w.joinable())
      w.join();
  workers_.clear();
}

bool refund_driver::settled() const {
  return finished_.load() == progress_.size();
}

void refund_driver::work() {
  auto client = make_demo_client();
  std::unique_lock lock{mutex_};
  while (!stop_) {
    if (queue_.empty()) {
      wake_.wait_for(lock, 200ms);
      continue;
    }
    auto next = queue_.top();
    if (next.due > steady::now()) {
      wake_.wait_until(lock, std::min(next.due, steady::now() + 200ms));
      continue;
    }
    queue_.pop();
    lock.unlock();
    auto again = advance(next.index, client);
    lock.lock();
    if (again)
      queue_.push({*again, next.index});
    else
      ++finished_;
  }
}

std::optional<refund_driver::steady::time_point>
refund_driver::advance(std::size_t index, net::http_client& client) {
  auto& p = progress_[index];
  const auto& c = script_.customers[p.customer];
  const auto& plan = *c.refund;
  if (!p.confirmed) {
    // Read before the trace: once it is set, every payment is in the log.
    bool all_paid = customers_done_;
    auto trace = orders_.trace(p.customer);
    if (trace.confirmed_seen_ms == 0) {
      if (all_paid && trace.paid_ms == 0)
        return std::nullopt; // never paid: nothing to refund
      return steady::now() + look_every;
    }
    p.confirmed = true;
    auto wait_ms = trace.confirmed_seen_ms + plan.steps[0].wait.count() - now_ms();
    p.next_step_at = steady::now() + std::chrono::milliseconds{std::max<int64_t>(wait_ms, 0)};
  }

  if (p.next_step < plan.steps.size() && steady::now() >= p.next_step_at) {
    const auto& step = plan.steps[p.next_step];
    auto i = request(client, p.customer, refund_request_kind::refund, step.out_refund_no,
                     step.amount, step.fix_after);
    p.requests.push_back(i);
    ++p.next_step;
    if (p.next_step < plan.steps.size())
      p.next_step_at = steady::now() + plan.steps[p.next_step].wait;
    // A double submit: the same request again the moment it is answered.
    if (p.next_step == 1 && plan.repeat_first && refund_held(log_.get(i).status))
      request(client, p.customer, refund_request_kind::repeat, step.out_refund_no, step.amount,
              std::nullopt);
  }

  // Follow every refund paycoord holds until it is settled.
  bool waiting = false, past_processing = true;
  int64_t committed = 0;
  for (auto i : p.requests) {
    watch(client, i, true);
    auto t = log_.get(i);
    waiting = waiting || (refund_held(t.status) && !t.settled);
    past_processing = past_processing && (!refund_held(t.status) || refund_state_settles(t.state));
    if (refund_held(t.status) && t.state != "CLOSED")
      committed += t.amount;
  }

  // One fen more than is left, once nothing is in flight: paycoord counts
  // every refund not CLOSED, and none of them can still become CLOSED.
  bool steps_done = p.next_step == plan.steps.size();
  if (plan.over_refund_after && !p.over_refund_done && steps_done && past_processing) {
    if (!p.over_refund_at)
      p.over_refund_at = steady::now() + *plan.over_refund_after;
    if (steady::now() >= *p.over_refund_at) {
      request(client, p.customer, refund_request_kind::over_refund, plan.over_refund_no,
              c.amount - committed + 1, std::nullopt);
      p.over_refund_done = true;
    }
  }

  if (stop_)
    return std::nullopt;
  bool over_pending = plan.over_refund_after && !p.over_refund_done;
  if (steps_done && !over_pending && !waiting)
    return std::nullopt;
  auto far = steady::now() + 1h;
  auto next = waiting || (over_pending && !p.over_refund_at) ? steady::now() + look_every : far;
  if (!steps_done)
    next = std::min(next, p.next_step_at);
  if (over_pending && p.over_refund_at)
    next = std::min(next, *p.over_refund_at);
  return next;
}

std::size_t refund_driver::request(net::http_client& client, std::size_t customer,
                                   refund_request_kind kind, const std::string& out_refund_no,
                                   int64_t amount, std::optional<duration> fix_after) {
  const auto& c = script_.customers[customer];
  refund_trace t;
  t.customer = customer;
  t.kind = kind;
  t.out_trade_no = c.out_trade_no;
  t.out_refund_no = out_refund_no;
  t.amount = amount;
  t.fix_planned = fix_after.has_value();
  t.fix_after_ms = fix_after ? fix_after->count() : 0;
  t.sent_ms = now_ms();
  auto index = log_.add(t);

  json body{{"out_refund_no", out_refund_no},
            {"amount", {{"refund", amount}, {"currency", "CNY"}}},
            {"reason", reason_for(kind)}};
  auto url = endpoints_.orders_url_prefix + "/" + c.out_trade_no + "/refunds";
  auto deadline = steady::now() + give_up_after;
  while (!stop_ && steady::now() < deadline) {
    ++t.attempts;
    log_.put(index, t);
    auto r = call_json(client, "POST", url, body);
    if (answered(r.status)) {
      t.status = r.status;
      t.answered_ms = now_ms();
      if (r.body.is_object()) {
        t.code = r.body.value("code", "");
        t.state = r.body.value("state", "");
        // The same request must answer with the same refund.
        if (r.status == 200
            && (r.body.value("out_refund_no", "") != out_refund_no
                || json_int(r.body, "amount", "refund") != amount))
          t.code = "NOT_THE_SAME_REFUND";
      }
      break;
    }
    std::this_thread::sleep_for(retry_pause);
  }
  // A repeat or an over-refund is over once answered; a refund once watched,
  // except one WeChat refused outright: nothing follows it (the report
  // counts it as unsettled).
  t.settled = (kind != refund_request_kind::refund && t.status != 0) || t.status == 502;
  log_.put(index, t);
  return index;
}

void refund_driver::watch(net::http_client& client, std::size_t index, bool may_fix) {
  auto t = log_.get(index);
  if (t.settled || !refund_held(t.status))
    return;
  if (t.state != "SUCCESS" && t.state != "CLOSED") {
    auto r = call_json(client, "GET",
                       endpoints_.orders_url_prefix + "/" + t.out_trade_no + "/refunds/"
                         + t.out_refund_no);
    if (r.status == 200 && r.body.is_object())
      t.state = r.body.value("state", t.state);
  }
  t.delivered = false;
  if (refund_state_settles(t.state)) {
    auto r = call_json(client, "GET", endpoints_.control_refunds_prefix + "/" + t.out_refund_no);
    t.delivered = r.status == 200 && delivered_for(r.body, t.state) > 0;
  }
  auto now = now_ms();
  if (t.state == "ABNORMAL") {
    if (t.abnormal_seen_ms == 0)
      t.abnormal_seen_ms = now;
    // A person acts on the alert: after the business server heard
    // refund.abnormal, and after a while.
    if (may_fix && t.fix_planned && t.fixed_ms == 0 && t.delivered
        && now >= t.abnormal_seen_ms + t.fix_after_ms) {
      auto r = call_json(client, "POST",
                         endpoints_.control_refunds_prefix + "/" + t.out_refund_no + "/resolve",
                         {{"status", "SUCCESS"}});
      if (r.status == 200)
        t.fixed_ms = now;
    }
  }
  t.settled = t.delivered
              && (t.state == "SUCCESS" || t.state == "CLOSED"
                  || (t.state == "ABNORMAL" && !t.fix_planned));
  log_.put(index, t);
}

void refund_driver::read_states() {
  auto client = make_demo_client();
  auto traces = log_.snapshot();
  for (std::size_t i = 0; i < traces.size(); ++i)
    if (traces[i].kind == refund_request_kind::refund && !traces[i].settled)
      watch(client, i, false);
}

} // namespace paycoord::demo
