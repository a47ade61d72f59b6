#include "actors/order_machine.hpp"

#include <algorithm>
#include <random>

#include <nlohmann/json.hpp>

#include "common/text.hpp"

namespace paycoord {

namespace {

using json = nlohmann::json;

int64_t ms(duration d) {
  return d.count();
}

/// Renumbers `d.events` after `x.event_seq` (when an event was put first).
void renumber(order_decision& d, const order_record& x) {
  auto seq = x.event_seq;
  for (auto& e : d.events)
    e.seq = ++seq;
  d.record.event_seq = seq;
  d.persist = true;
}

bool is_not_paid(const query_result& r) {
  if (r.outcome == query_outcome::not_found)
    return true;
  if (r.outcome != query_outcome::trade_state)
    return false;
  const auto& s = r.fact.trade_state;
  return s == "NOTPAY" || s == "REVOKED" || s == "PAYERROR";
}

bool is_paying(const query_result& r) {
  return r.outcome == query_outcome::trade_state
         && (r.fact.trade_state == "USERPAYING"
             || r.fact.trade_state == "ACCEPT");
}

bool says(const query_result& r, std::string_view state) {
  return r.outcome == query_outcome::trade_state && r.fact.trade_state == state;
}

json query_detail(const query_result& r, next_action during) {
  json j{{"during", to_string(during)}, {"status", r.status}};
  switch (r.outcome) {
    case query_outcome::trade_state:
      j["trade_state"] = r.fact.trade_state;
      if (!r.fact.transaction_id.empty())
        j["transaction_id"] = r.fact.transaction_id;
      break;
    case query_outcome::not_found:
      j["trade_state"] = "ORDER_NOT_EXIST";
      break;
    case query_outcome::retry_later:
      j["error"] = utf8_prefix(r.error, max_error_text);
      j["retry"] = true;
      break;
    case query_outcome::failed:
      j["error"] = utf8_prefix(r.error, max_error_text);
      break;
  }
  return j;
}

} // namespace

const char* to_string(order_effect x) {
  switch (x) {
    case order_effect::none:
      return "none";
    case order_effect::query:
      return "query";
    case order_effect::close:
      return "close";
    case order_effect::forward:
      return "forward";
    case order_effect::refund_apply:
      return "refund_apply";
    case order_effect::refund_query:
      return "refund_query";
    case order_effect::refund_deliver:
      return "refund_deliver";
  }
  return "unknown";
}

order_machine::order_machine(order_rules rules, uniform_fn uniform)
  : rules_(std::move(rules)), uniform_(std::move(uniform)) {
  if (!uniform_) {
    auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
    uniform_ = [engine] {
      return std::uniform_real_distribution<double>{0.0, 1.0}(*engine);
    };
  }
}

// -- helpers -----------------------------------------------------------------

order_decision order_machine::refuse(const order_record& x,
                                     std::string why) const {
  order_decision d;
  d.legal = false;
  d.refusal = std::move(why);
  d.record = x;
  return d;
}

void order_machine::add_event(order_decision& d, int64_t now_ms,
                              std::string kind, const json& detail) const {
  d.persist = true;
  order_event e;
  e.seq = ++d.record.event_seq;
  e.at_ms = now_ms;
  e.kind = std::move(kind);
  e.detail = json_text(detail); // peer text may be any bytes: never throws
  d.events.push_back(std::move(e));
}

void order_machine::set_state(order_decision& d, order_state to,
                              int64_t now_ms, std::string why) const {
  auto from = d.record.state;
  d.record.state = to;
  d.record.updated_at_ms = now_ms;
  if (is_terminal(to) || is_parked(to)) {
    d.record.action = next_action::none;
    d.record.next_due_ms = 0;
  }
  add_event(d, now_ms, "state",
            json{{"from", to_string(from)}, {"to", to_string(to)},
                 {"why", std::move(why)}});
}

int64_t order_machine::close_not_before_ms(const order_record& x) const {
  return std::max(x.expire_at_ms,
                  x.created_at_ms + ms(rules_.schedule.close_not_before));
}

namespace {

/// `base` doubled for every failure in a row after the first, at most `cap`.
int64_t doubling_ceiling(int64_t base, int64_t cap, uint32_t failures) {
  auto ceiling = base;
  for (uint32_t i = 1; i < failures && ceiling < cap; ++i)
    ceiling *= 2;
  return std::min(ceiling, cap);
}

} // namespace

int64_t order_machine::forward_backoff_ms(uint32_t failures) const {
  // Full jitter: uniform in [0, min(cap, initial * 2^(n-1))], at least 1 ms.
  auto ceiling = doubling_ceiling(ms(rules_.schedule.forward_backoff_initial),
                                  ms(rules_.schedule.forward_backoff_max), failures);
  auto delay = static_cast<int64_t>(uniform_() * static_cast<double>(ceiling));
  return std::max<int64_t>(delay, 1);
}

int64_t order_machine::query_retry_ms(uint32_t failures) const {
  // userpaying_retry doubling per failure in a row, capped at the smaller of
  // verify_every and 5 minutes; uniform in [half, all] of it (a query is
  // worth asking again soon: not full jitter).
  auto base = ms(rules_.schedule.userpaying_retry);
  auto cap = std::max(base, std::min(ms(rules_.schedule.verify_every), int64_t{300'000}));
  auto ceiling = doubling_ceiling(base, cap, failures);
  auto half = ceiling / 2;
  return std::max<int64_t>(
    half + static_cast<int64_t>(uniform_() * static_cast<double>(ceiling - half)), 1);
}

void order_machine::schedule_next_verify(order_record& x,
                                         int64_t now_ms) const {
  // schedule.verify counts from creation; after its last step, every
  // verify_every from the previous query. Never past expiry: at expiry the
  // final query runs instead.
  const auto& steps = rules_.schedule.verify;
  int64_t due;
  if (x.verify_step < steps.size())
    due = x.created_at_ms + ms(steps[x.verify_step]);
  else
    due = std::max(x.last_query_at_ms, x.created_at_ms)
          + ms(rules_.schedule.verify_every);
  due = std::max(due, now_ms);
  if (due >= x.expire_at_ms) {
    x.action = next_action::expire_query;
    x.next_due_ms = std::max(x.expire_at_ms, now_ms);
  } else {
    x.action = next_action::verify;
    x.next_due_ms = due;
  }
}

// -- create ------------------------------------------------------------------

order_decision order_machine::create(const create_order& req,
                                     int64_t now_ms) const {
  order_decision d;
  auto& x = d.record;
  x.out_trade_no = req.out_trade_no;
  x.state = order_state::pending;
  x.description = req.description;
  x.amount_total = req.amount_total;
  x.currency = req.currency.empty() ? "CNY" : req.currency;
  x.payer_openid = req.payer_openid;
  x.attach = req.attach;
  x.requested_expire_at_ms = req.requested_expire_at_ms;
  x.expire_at_ms = req.requested_expire_at_ms != 0
                     ? req.requested_expire_at_ms
                     : now_ms + ms(rules_.schedule.default_expiry);
  x.created_at_ms = now_ms;
  x.updated_at_ms = now_ms;
  schedule_next_verify(x, now_ms);
  add_event(d, now_ms, "created",
            json{{"amount_total", x.amount_total},
                 {"currency", x.currency},
                 {"expire_at_ms", x.expire_at_ms}});
  return d;
}

bool order_machine::same_order(const order_record& x, const create_order& req) {
  auto currency = req.currency.empty() ? "CNY" : req.currency;
  return x.amount_total == req.amount_total && x.currency == currency
         && x.description == req.description
         && x.payer_openid == req.payer_openid && x.attach == req.attach
         && x.requested_expire_at_ms == req.requested_expire_at_ms;
}

order_decision order_machine::on_prepay(const order_record& x,
                                        const call_result& r,
                                        int64_t now_ms) const {
  if (x.state != order_state::pending)
    return refuse(x, "prepay result for an order that is not PENDING");
  order_decision d;
  d.record = x;
  if (r.ok) {
    d.record.prepay_id = r.prepay_id;
    d.record.updated_at_ms = now_ms;
    add_event(d, now_ms, "prepay",
              json{{"ok", true}, {"prepay_id", r.prepay_id}});
  } else {
    add_event(d, now_ms, "prepay",
              json{{"ok", false}, {"status", r.status}, {"error", r.error}});
  }
  return d;
}

// -- payments ----------------------------------------------------------------

order_decision order_machine::accept_payment(const order_record& x,
                                             const payment_fact& f,
                                             paid_via via, int64_t now_ms,
                                             std::string source) const {
  order_decision d;
  d.record = x;
  switch (x.state) {
    case order_state::paid:
    case order_state::confirmed:
      // A duplicate of what we already know: nothing changes.
      return d;
    case order_state::anomaly:
    case order_state::orphan:
    case order_state::faulted: {
      // Parked: nothing moves until a person acts. The fact is kept on the
      // timeline, and a FAULTED order holds it for the operator's retry.
      if (f.transaction_id == x.transaction_id
          || f.transaction_id == x.held.transaction_id)
        return d; // known already: a redelivery costs nothing
      if (x.state == order_state::faulted && x.held.transaction_id.empty())
        d.record.held = held_payment{f.transaction_id, f.total, f.payer_total,
                                     f.currency, f.success_time_ms, via};
      add_event(d, now_ms, "payment_parked",
                json{{"source", source},
                     {"transaction_id", f.transaction_id},
                     {"total", f.total},
                     {"held", x.state == order_state::faulted}});
      return d;
    }
    case order_state::pending:
    case order_state::closed:
      break;
  }
  auto& r = d.record;
  if (f.total != x.amount_total || f.currency != x.currency) {
    r.parked_reason = "paid " + std::to_string(f.total) + " "
                      + utf8_prefix(f.currency, 16) + ", order is "
                      + std::to_string(x.amount_total) + " " + x.currency;
    r.transaction_id = f.transaction_id;
    r.payer_total = f.payer_total;
    r.paid_at_ms = f.success_time_ms;
    set_state(d, order_state::anomaly, now_ms,
              "amount or currency mismatch (" + source + ")");
    return d;
  }
  r.transaction_id = f.transaction_id;
  r.payer_total = f.payer_total;
  r.paid_at_ms = f.success_time_ms != 0 ? f.success_time_ms : now_ms;
  r.via = via;
  r.late = x.state == order_state::closed || x.closed_at_wechat;
  r.paid_recorded_at_ms = now_ms;
  r.action = next_action::forward;
  r.next_due_ms = now_ms;
  set_state(d, order_state::paid, now_ms,
            r.late ? "verified payment after close (" + source + ")"
                   : "verified payment (" + source + ")");
  d.effect = order_effect::forward;
  return d;
}

order_decision order_machine::on_notify(const order_record& x,
                                        const verified_notification& n,
                                        int64_t now_ms) const {
  if (!n.is_payment || n.fact.trade_state != "SUCCESS") {
    // Refunds and other events: durable on the timeline, never a payment.
    order_decision d;
    d.record = x;
    json detail{{"id", n.notification_id}, {"event_type", n.event_type}};
    if (n.is_payment)
      detail["trade_state"] = n.fact.trade_state;
    else
      detail["resource"] = n.plaintext;
    add_event(d, now_ms, "notify_event", detail);
    return d;
  }
  auto d = accept_payment(x, n.fact, paid_via::notify, now_ms, "notify");
  if (d.persist || x.state == order_state::pending) {
    // The notify event comes first on the timeline.
    d.events.insert(d.events.begin(),
                    order_event{0, now_ms, "notify",
                                json_text(json{{"id", n.notification_id},
                                               {"transaction_id", n.fact.transaction_id},
                                               {"total", n.fact.total}})});
    renumber(d, x);
  }
  return d;
}

order_decision order_machine::orphan(const verified_notification& n,
                                     int64_t now_ms) const {
  if (!n.is_payment || n.fact.trade_state != "SUCCESS")
    return refuse(order_record{}, "only a verified payment makes an ORPHAN "
                                  "record; other events are orphan events");
  order_decision d;
  auto& x = d.record;
  x.out_trade_no = n.fact.out_trade_no;
  x.state = order_state::orphan;
  x.action = next_action::none;
  x.created_at_ms = now_ms;
  x.updated_at_ms = now_ms;
  x.currency = n.fact.currency;
  x.parked_reason = "verified payment for an unknown order";
  x.transaction_id = n.fact.transaction_id;
  x.amount_total = n.fact.total;
  x.payer_total = n.fact.payer_total;
  x.paid_at_ms = n.fact.success_time_ms;
  x.via = paid_via::notify;
  add_event(d, now_ms, "notify",
            json{{"id", n.notification_id},
                 {"event_type", n.event_type},
                 {"resource", n.plaintext}});
  return d;
}

// -- timers and queries ------------------------------------------------------

order_decision order_machine::on_timer(const order_record& x,
                                       int64_t now_ms) const {
  if (!is_active(x.state) || x.action == next_action::none)
    return refuse(x, std::string{"timer in state "} + to_string(x.state));
  order_decision d;
  d.record = x;
  switch (x.action) {
    case next_action::verify:
    case next_action::expire_query:
    case next_action::close_confirm:
      d.effect = order_effect::query;
      break;
    case next_action::close:
      d.effect = order_effect::close;
      break;
    case next_action::forward:
      d.effect = order_effect::forward;
      break;
    case next_action::none:
      break;
  }
  (void) now_ms;
  return d;
}

order_decision order_machine::on_query(const order_record& x,
                                       const query_result& r,
                                       int64_t now_ms) const {
  if (says(r, "SUCCESS")) {
    // A signed SUCCESS is a payment whatever state we are in: money that
    // arrived is never dropped.
    auto d = accept_payment(x, r.fact, paid_via::query, now_ms, "query");
    if (x.state == order_state::pending || d.persist) {
      d.record.queries = x.queries + 1;
      d.record.last_query_at_ms = now_ms;
      d.events.insert(d.events.begin(),
                      order_event{0, now_ms, "query",
                                  json_text(query_detail(r, x.action))});
      renumber(d, x);
    }
    return d;
  }
  bool refund_of_unpaid = says(r, "REFUND") && x.state == order_state::closed;
  if (x.state != order_state::pending && !refund_of_unpaid) {
    // A stale result: the order moved on meanwhile. REFUND for a PAID or
    // CONFIRMED order is normal: it was paid.
    order_decision d;
    d.record = x;
    return d;
  }
  order_decision d;
  d.record = x;
  auto& y = d.record;
  y.queries += 1;
  y.last_query_at_ms = now_ms;
  y.updated_at_ms = now_ms;
  add_event(d, now_ms, "query", query_detail(r, x.action));
  const auto& s = rules_.schedule;
  if (says(r, "REFUND")) {
    // Paid and refunding, but we never saw the payment (PENDING, or CLOSED
    // by a close that came too late): a person decides.
    y.transaction_id = r.fact.transaction_id;
    y.parked_reason = "WeChat reports REFUND for an order paycoord saw unpaid";
    set_state(d, order_state::anomaly, now_ms, "query says REFUND");
    return d;
  }
  if (says(r, "CLOSED")) {
    set_state(d, order_state::closed, now_ms, "query says CLOSED");
    return d;
  }
  if (r.outcome == query_outcome::retry_later) {
    // No answer (429, 5xx, timeout, our own pool overloaded): keep the
    // schedule position and ask again after a backoff that doubles with every
    // failure in a row, with jitter, so that a WeChat outage or throttle is
    // not met by every pending order asking again every few seconds.
    y.query_failures = x.query_failures + 1;
    y.next_due_ms = now_ms + query_retry_ms(y.query_failures);
    if (y.action == next_action::verify && y.next_due_ms >= y.expire_at_ms) {
      y.action = next_action::expire_query; // never past the expiry
      y.next_due_ms = std::max(y.expire_at_ms, now_ms);
    }
    return d;
  }
  y.query_failures = 0;
  if (r.outcome == query_outcome::failed || is_paying(r)) {
    // The payer is paying: ask again soon. A request WeChat rejects as
    // ours-wrong is retried slowly (and logged loudly).
    auto delay = r.outcome == query_outcome::failed
                   ? std::max(ms(s.userpaying_retry), int64_t{60'000})
                   : ms(s.userpaying_retry);
    y.next_due_ms = now_ms + delay;
    return d;
  }
  if (!is_not_paid(r)) {
    // An unknown trade state: treat as not final and ask again later.
    y.next_due_ms = now_ms + ms(s.userpaying_retry);
    return d;
  }
  bool unknown_to_wechat = r.outcome == query_outcome::not_found;
  switch (x.action) {
    case next_action::verify: {
      // This answer covers every step that is already due (after a
      // restart or an outage several may be): go on with the next future
      // one instead of querying back to back. A 404 here is not final: a
      // failed prepay may still be placed again by a repeated create.
      y.verify_step = x.verify_step + 1;
      const auto& steps = s.verify;
      while (y.verify_step < steps.size()
             && y.created_at_ms + ms(steps[y.verify_step]) <= now_ms)
        ++y.verify_step;
      schedule_next_verify(y, now_ms);
      break;
    }
    case next_action::expire_query:
    case next_action::close_confirm:
      if (unknown_to_wechat) {
        // WeChat never knew the order (its prepay failed): nothing to close,
        // and nobody can pay it.
        set_state(d, order_state::closed, now_ms,
                  "WeChat never knew the order (query answered 404)");
        break;
      }
      if (x.action == next_action::close_confirm
          && x.close_attempts >= rules_.max_close_attempts) {
        // Bounded: past its time_expire WeChat takes no payment, and this
        // query has just said the order is not paid.
        set_state(d, order_state::closed, now_ms,
                  "not paid after " + std::to_string(x.close_attempts)
                    + " close attempts; time_expire has passed");
        break;
      }
      // Expired and not paid: close. After a close that did not end the
      // order, close again, backing off.
      y.action = next_action::close;
      y.next_due_ms = x.action == next_action::expire_query
                        ? std::max(now_ms, close_not_before_ms(y))
                        : now_ms + query_retry_ms(std::max<uint32_t>(x.close_attempts, 1));
      break;
    default:
      break; // an operator's query while closing: the close goes on
  }
  return d;
}

order_decision order_machine::on_close(const order_record& x,
                                       const call_result& r,
                                       int64_t now_ms) const {
  if (x.state != order_state::pending || x.action != next_action::close)
    return refuse(x, "close result while not closing");
  order_decision d;
  d.record = x;
  auto& y = d.record;
  y.updated_at_ms = now_ms;
  y.close_attempts = x.close_attempts + 1;
  add_event(d, now_ms, "close",
            json{{"ok", r.ok},
                 {"status", r.status},
                 {"attempt", y.close_attempts},
                 {"error", utf8_prefix(r.error, max_error_text)}});
  // Whatever the answer, the next step is a query: 204 comes even for
  // repeats and unknown ids (the query confirms CLOSED, or finds the
  // payment of the last moment); a refusal (ORDERPAID, any 4xx) is asked
  // about at once; no answer (5xx, 202, 429, timeout) after a backoff.
  if (r.ok)
    y.closed_at_wechat = true;
  y.action = next_action::close_confirm;
  y.next_due_ms = r.ok || !r.retryable ? now_ms
                                       : now_ms + query_retry_ms(y.close_attempts);
  return d;
}

// -- delivery ----------------------------------------------------------------

order_decision order_machine::on_forward(const order_record& x,
                                         const forward_result& r,
                                         int64_t now_ms) const {
  if (x.state == order_state::confirmed) {
    order_decision d; // a second ack for a delivered order: nothing to do
    d.record = x;
    return d;
  }
  if (x.state != order_state::paid)
    return refuse(x, std::string{"business ack in state "}
                       + to_string(x.state));
  order_decision d;
  d.record = x;
  auto& y = d.record;
  y.forward_attempts = x.forward_attempts + 1;
  add_event(d, now_ms, "forward",
            json{{"attempt", y.forward_attempts},
                 {"acked", r.acked},
                 {"status", r.status},
                 {"latency_ms", r.latency_ms},
                 {"error", utf8_prefix(r.error, max_error_text)}});
  if (r.acked) {
    y.confirmed_at_ms = now_ms;
    y.stuck = false;
    set_state(d, order_state::confirmed, now_ms, "business server acked");
    return d;
  }
  if (y.first_forward_failure_ms == 0)
    y.first_forward_failure_ms = now_ms;
  if (!y.stuck
      && now_ms - y.first_forward_failure_ms
           >= ms(rules_.schedule.stuck_after)) {
    y.stuck = true;
    add_event(d, now_ms, "stuck",
              json{{"failing_since_ms", y.first_forward_failure_ms}});
  }
  y.updated_at_ms = now_ms;
  y.next_due_ms = now_ms + forward_backoff_ms(y.forward_attempts);
  return d;
}

// -- operator ----------------------------------------------------------------

order_decision order_machine::on_operator_verify(const order_record& x,
                                                 int64_t now_ms) const {
  if (x.state != order_state::pending && x.state != order_state::closed)
    return refuse(x, std::string{"verify is for PENDING or CLOSED orders, "
                                 "this one is "}
                       + to_string(x.state));
  order_decision d;
  d.record = x;
  add_event(d, now_ms, "operator", json{{"action", "verify"}});
  d.effect = order_effect::query;
  return d;
}

order_decision order_machine::on_operator_forward(const order_record& x,
                                                  int64_t now_ms) const {
  if (x.state != order_state::paid)
    return refuse(x, std::string{"forward is for PAID orders, this one is "}
                       + to_string(x.state));
  order_decision d;
  d.record = x;
  d.record.next_due_ms = now_ms;
  add_event(d, now_ms, "operator", json{{"action", "forward"}});
  d.effect = order_effect::forward;
  return d;
}

namespace {

/// The state a FAULTED order returns to: the one recorded when it was
/// parked, or for a record parked before that was recorded, what its facts
/// say.
order_state before_fault(const order_record& x) {
  if (x.faulted_from != order_state::faulted)
    return x.faulted_from;
  if (x.transaction_id.empty())
    return order_state::pending;
  return x.confirmed_at_ms != 0 ? order_state::confirmed : order_state::paid;
}

} // namespace

order_decision order_machine::on_operator_retry(const order_record& x,
                                                int64_t now_ms) const {
  if (x.state != order_state::faulted)
    return refuse(x, std::string{"retry is for FAULTED orders, this one is "}
                       + to_string(x.state));
  order_decision d;
  d.record = x;
  add_event(d, now_ms, "operator", json{{"action", "retry"}});
  auto& y = d.record;
  auto to = before_fault(x);
  auto held = x.held;
  y.faulted_from = order_state::faulted;
  y.held = held_payment{};
  y.parked_reason.clear();
  y.resolved_at_ms = 0;
  y.resolved_note.clear();
  // Back where it was, with its next step due now: a PENDING order asks
  // WeChat (it may have been paid meanwhile), a PAID one delivers.
  if (to == order_state::pending) {
    y.action = y.close_attempts > 0     ? next_action::close_confirm
               : now_ms >= y.expire_at_ms ? next_action::expire_query
                                          : next_action::verify;
    y.next_due_ms = now_ms;
  } else if (to == order_state::paid) {
    y.action = next_action::forward;
    y.next_due_ms = now_ms;
  }
  set_state(d, to, now_ms, "operator retry");
  if (!held.transaction_id.empty()
      && (to == order_state::pending || to == order_state::closed)) {
    // A payment that arrived while the order was FAULTED is applied now.
    payment_fact f;
    f.out_trade_no = x.out_trade_no;
    f.transaction_id = held.transaction_id;
    f.trade_state = "SUCCESS";
    f.total = held.total;
    f.payer_total = held.payer_total;
    f.currency = held.currency;
    f.success_time_ms = held.paid_at_ms;
    auto paid = accept_payment(y, f, held.via, now_ms, "held while FAULTED");
    for (auto& e : paid.events)
      d.events.push_back(std::move(e));
    d.record = std::move(paid.record);
    d.effect = paid.effect;
  }
  return d;
}

order_decision order_machine::on_operator_resolve(const order_record& x,
                                                  const std::string& note,
                                                  int64_t now_ms) const {
  if (!is_parked(x.state))
    return refuse(x, std::string{"resolve is for ANOMALY, ORPHAN or FAULTED "
                                 "orders, this one is "}
                       + to_string(x.state));
  if (x.resolved_at_ms != 0)
    return refuse(x, "already resolved");
  order_decision d;
  d.record = x;
  d.record.resolved_at_ms = now_ms;
  d.record.resolved_note = utf8_prefix(note, max_note_bytes);
  d.record.updated_at_ms = now_ms;
  add_event(d, now_ms, "operator",
            json{{"action", "resolve"}, {"note", d.record.resolved_note}});
  return d;
}

order_decision order_machine::fault(const order_record& x,
                                    const std::string& reason,
                                    int64_t now_ms) const {
  order_decision d;
  d.record = x;
  if (x.state != order_state::faulted)
    d.record.faulted_from = x.state;
  d.record.parked_reason = utf8_prefix(reason, max_error_text);
  d.record.resolved_at_ms = 0;
  d.record.resolved_note.clear();
  // The whole aggregate is parked: its refunds wait for the operator's
  // retry too (their own deadlines stay on their records).
  d.record.refund_due_ms = 0;
  set_state(d, order_state::faulted, now_ms, d.record.parked_reason);
  return d;
}

} // namespace paycoord
