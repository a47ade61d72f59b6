#include "tests/model/order_world.hpp"

#include <exception>

#include <nlohmann/json.hpp>

#include "common/text.hpp"

namespace paycoord::model {

namespace {

using namespace std::chrono_literals;

constexpr int64_t t0 = 1'795'658'400'000; // 2026-11-26T10:00:00+08:00
constexpr int64_t amount = 100;
constexpr const char* order_id = "MODEL00001";
constexpr int64_t call_latency_ms = 50;

payment_fact fact(const world& w, const char* trade_state, int64_t total) {
  payment_fact f;
  f.out_trade_no = order_id;
  f.transaction_id = "4200002026112612345678901234";
  f.trade_state = trade_state;
  f.mchid = w.machine->rules().mchid;
  f.appid = w.machine->rules().appid;
  f.total = total;
  f.payer_total = total;
  f.currency = "CNY";
  f.success_time_ms = w.now_ms;
  return f;
}

verified_notification notification(const world& w, input_kind k, const std::string& text) {
  verified_notification n;
  n.notification_id = "EV-" + text.substr(0, 40); // any bytes, as WeChat's could be
  n.fact = fact(w, "SUCCESS", amount);
  switch (k) {
    case input_kind::notify_paid:
      n.event_type = "TRANSACTION.SUCCESS";
      n.is_payment = true;
      break;
    case input_kind::notify_mismatch:
      n.event_type = "TRANSACTION.SUCCESS";
      n.is_payment = true;
      n.fact.total = amount + 1;
      n.fact.payer_total = amount + 1;
      break;
    case input_kind::notify_not_success:
      n.event_type = "TRANSACTION.SUCCESS";
      n.is_payment = true;
      n.fact.trade_state = "PAYERROR";
      break;
    default:
      n.event_type = "REFUND.SUCCESS";
      n.plaintext = text;
      break;
  }
  return n;
}

query_result query_answer(const world& w, input_kind k, const std::string& text) {
  query_result r;
  r.status = 200;
  r.outcome = query_outcome::trade_state;
  switch (k) {
    case input_kind::query_success:
      r.fact = fact(w, "SUCCESS", amount);
      break;
    case input_kind::query_success_mismatch:
      r.fact = fact(w, "SUCCESS", amount * 2);
      break;
    case input_kind::query_notpay:
      r.fact = fact(w, "NOTPAY", amount);
      r.fact.transaction_id.clear();
      break;
    case input_kind::query_userpaying:
      r.fact = fact(w, "USERPAYING", amount);
      break;
    case input_kind::query_closed:
      r.fact = fact(w, "CLOSED", amount);
      r.fact.transaction_id.clear();
      break;
    case input_kind::query_refund:
      r.fact = fact(w, "REFUND", amount);
      break;
    case input_kind::query_unknown_state:
      r.fact = fact(w, "SOMETHING_NEW", amount);
      break;
    case input_kind::query_not_found:
      r.outcome = query_outcome::not_found;
      r.status = 404;
      r.error = "HTTP 404 ORDER_NOT_EXIST: " + text;
      break;
    case input_kind::query_retry_later:
      r.outcome = query_outcome::retry_later;
      r.status = 500;
      r.error = "HTTP 500 SYSTEM_ERROR: " + text;
      break;
    default: // query_failed
      r.outcome = query_outcome::failed;
      r.status = 400;
      r.error = "HTTP 400 PARAM_ERROR: " + text;
      break;
  }
  return r;
}

bool is_query_result(input_kind k) {
  return k >= input_kind::query_success && k <= input_kind::query_unknown_state;
}

bool is_close_result(input_kind k) {
  return k >= input_kind::close_ok && k <= input_kind::close_retry_later;
}

bool is_notification(input_kind k) {
  return k >= input_kind::notify_paid && k <= input_kind::notify_not_success;
}

call call_of(order_effect e) {
  switch (e) {
    case order_effect::query:
      return call::query;
    case order_effect::close:
      return call::close;
    case order_effect::forward:
      return call::forward;
    case order_effect::refund_apply:
    case order_effect::refund_query:
    case order_effect::refund_deliver:
    case order_effect::none:
      break; // refunds are not modelled yet
  }
  return call::none;
}

/// Checks the decision's bookkeeping and adopts it as the synced state.
std::string adopt(world& w, order_decision d, const order_record& before, bool had_record) {
  if (!d.legal)
    return {}; // refused: nothing applied (the actor logs it)
  if (!d.persist)
    return {};
  auto seq = had_record ? before.event_seq : 0;
  for (auto& e : d.events) {
    if (e.seq != ++seq)
      return "event seq " + std::to_string(e.seq) + ", expected " + std::to_string(seq);
    if (!is_valid_utf8(e.detail))
      return "event '" + e.kind + "' detail is not valid UTF-8";
    if (nlohmann::json::parse(e.detail, nullptr, false).is_discarded())
      return "event '" + e.kind + "' detail is not JSON";
    if (auto back = decode_event("e/x", encode(e)); !back || !(*back == e))
      return "event '" + e.kind + "' does not survive the store";
  }
  if (d.record.event_seq != seq)
    return "record event_seq " + std::to_string(d.record.event_seq) + " after events up to "
           + std::to_string(seq);
  auto back = decode_order("o/x", encode(d.record));
  if (!back)
    return "record does not decode: " + back.error().to_string();
  if (!(*back == d.record))
    return "record changes on its way through the store";
  w.record = std::move(d.record);
  return {};
}

void start(world& w, order_effect e) {
  if (e == order_effect::none || w.in_flight != call::none)
    return; // as the actor: one call at a time
  w.in_flight = call_of(e);
  ++w.calls;
}

std::string check(const world& w, const order_record* before, input_kind k, bool started_forward,
                  bool before_held) {
  if (!w.record)
    return {};
  const auto& x = *w.record;
  auto was = before ? before->state : order_state::pending;
  if (x.state == order_state::paid && (!before || was != order_state::paid)) {
    // An operator's retry returns a FAULTED order to PAID (a payment it had,
    // or one it held): only ever one that WeChat verified.
    bool verified = k == input_kind::notify_paid || k == input_kind::query_success
                    || (k == input_kind::op_retry && w.matching_success
                        && (before_held || before->faulted_from == order_state::paid));
    if (!verified)
      return std::string{"PAID reached by "} + to_string(k) + ", not a verified fact";
    if (x.transaction_id.empty())
      return "PAID without a transaction_id";
  }
  if (x.state == order_state::confirmed && (!before || was != order_state::confirmed)
      && k != input_kind::forward_ack && k != input_kind::op_retry)
    return std::string{"CONFIRMED reached by "} + to_string(k);
  if (started_forward && (x.state != order_state::paid || !w.matching_success))
    return std::string{"a forward started in state "} + paycoord::to_string(x.state)
           + (w.matching_success ? "" : " without a matching verified payment");
  if (is_active(x.state) && w.in_flight == call::none) {
    // What the store indexes (facts_of): an entry due at a real time.
    if (!facts_of(x).has_timer() || x.next_due_ms <= 0)
      return std::string{"active order in "} + paycoord::to_string(x.state)
             + " with no timer in the index and no call in flight";
    bool fits = x.state == order_state::paid ? x.action == next_action::forward
                                             : x.action != next_action::forward;
    if (!fits)
      return std::string{"action "} + paycoord::to_string(x.action) + " in state "
             + paycoord::to_string(x.state);
  }
  if (w.verified_success
      && (x.state == order_state::pending || x.state == order_state::closed))
    return std::string{"WeChat reported the money paid, the order is "}
           + paycoord::to_string(x.state);
  if (w.verified_success && x.state == order_state::faulted && x.transaction_id.empty()
      && x.held.transaction_id.empty())
    return "FAULTED order dropped a verified payment";
  return {};
}

} // namespace

const char* to_string(input_kind k) {
  static constexpr const char* names[] = {
    "create",         "prepay_ok",        "prepay_failed",  "notify_paid",
    "notify_mismatch", "notify_refund",   "notify_not_success", "timer",
    "query_success",  "query_success_mismatch", "query_notpay", "query_userpaying",
    "query_closed",   "query_refund",     "query_not_found", "query_retry_later",
    "query_failed",   "query_unknown_state", "close_ok",     "close_refused",
    "close_retry_later", "forward_ack",   "forward_fail",   "op_verify",
    "op_forward",     "op_retry",         "op_resolve",     "crash_respawn",
    "crash_fault"};
  static_assert(std::size(names) == static_cast<size_t>(input_kind::count_));
  return names[static_cast<size_t>(k)];
}

const std::vector<std::string>& hostile_texts() {
  static const std::vector<std::string> texts = [] {
    std::string chinese;
    for (int i = 0; i < 7; ++i)
      chinese += "系统繁忙请稍后再试啊"; // 70 characters, 210 bytes
    std::string long_text;
    for (int i = 0; i < 3; ++i)
      long_text += chinese; // 630 bytes: longer than any cut
    return std::vector<std::string>{
      chinese,
      long_text + "\xE7\xB3", // ends in half a character
      std::string("\xFF\xFE\x00\xC0\xAF\xED\xA0\x80", 8),
      "quote \" backslash \\ newline \n tab \t end",
      "",
    };
  }();
  return texts;
}

order_rules model_rules() {
  schedule_config s;
  s.verify = {5s, 30s};
  s.verify_every = 1min;
  s.userpaying_retry = 5s;
  s.default_expiry = 3min;
  s.forward_backoff_initial = 1s;
  s.forward_backoff_max = 8s;
  s.stuck_after = 20s;
  s.close_not_before = 1min;
  return order_rules{"1900000001", "wx8888888888888888", s};
}

world initial_world(std::shared_ptr<const order_machine> machine) {
  world w;
  w.machine = std::move(machine);
  w.now_ms = t0;
  return w;
}

bool enabled(const world& w, input_kind k) {
  if (w.in_flight == call::prepay)
    return k == input_kind::prepay_ok || k == input_kind::prepay_failed;
  if (k == input_kind::create)
    return !w.record && w.in_flight == call::none;
  if (k == input_kind::prepay_ok || k == input_kind::prepay_failed)
    return false;
  if (is_notification(k))
    return true;
  if (is_query_result(k))
    return w.in_flight == call::query;
  if (is_close_result(k))
    return w.in_flight == call::close;
  if (k == input_kind::forward_ack || k == input_kind::forward_fail)
    return w.in_flight == call::forward;
  if (!w.record)
    return false;
  if (k == input_kind::timer)
    return w.in_flight == call::none && is_active(w.record->state)
           && w.record->action != next_action::none;
  return true; // operator actions and crashes
}

bool settled(const world& w) {
  if (w.in_flight != call::none)
    return false;
  return !w.record || is_terminal(w.record->state) || is_parked(w.record->state);
}

std::string apply(world& w, const input& in) {
  const auto& m = *w.machine;
  ++w.steps;
  std::optional<order_record> before = w.record;
  bool before_held = before && !before->held.transaction_id.empty();
  auto old_call = w.in_flight;
  std::string violation;
  try {
    auto x = before.value_or(order_record{});
    switch (in.kind) {
      case input_kind::create: {
        create_order req;
        req.out_trade_no = order_id;
        req.description = "Monthly plan " + in.text; // a merchant's text: any bytes
        req.amount_total = amount;
        req.payer_openid = "o-abc";
        violation = adopt(w, m.create(req, w.now_ms), x, false);
        w.in_flight = call::prepay;
        ++w.calls;
        break;
      }
      case input_kind::prepay_ok:
      case input_kind::prepay_failed: {
        w.now_ms += call_latency_ms;
        call_result r;
        r.ok = in.kind == input_kind::prepay_ok;
        r.status = r.ok ? 200 : 500;
        r.prepay_id = r.ok ? "wx26100005" : "";
        r.error = r.ok ? "" : "HTTP 500 SYSTEM_ERROR: " + in.text;
        w.in_flight = call::none;
        violation = adopt(w, m.on_prepay(x, r, w.now_ms), x, true);
        break;
      }
      case input_kind::timer: {
        w.now_ms = std::max(w.now_ms, x.next_due_ms);
        auto d = m.on_timer(x, w.now_ms);
        if (d.legal)
          start(w, d.effect);
        break;
      }
      case input_kind::crash_respawn:
        w.in_flight = call::none; // the answer of its call is lost with it
        break;
      case input_kind::crash_fault:
        w.in_flight = call::none;
        violation = adopt(w, m.fault(x, "order actor crashed: " + in.text, w.now_ms), x, true);
        break;
      default: {
        order_decision d;
        if (is_notification(in.kind)) {
          auto n = notification(w, in.kind, in.text);
          bool payment = n.is_payment && n.fact.trade_state == "SUCCESS";
          if (payment) {
            w.verified_success = true;
            w.matching_success = w.matching_success || in.kind == input_kind::notify_paid;
          }
          if (!before && !payment)
            break; // kept as an orphan event: no record, nothing to check
          d = before ? m.on_notify(x, n, w.now_ms) : m.orphan(n, w.now_ms);
        } else if (is_query_result(in.kind)) {
          w.now_ms += call_latency_ms;
          w.in_flight = call::none;
          auto r = query_answer(w, in.kind, in.text);
          if (in.kind == input_kind::query_success || in.kind == input_kind::query_success_mismatch
              || in.kind == input_kind::query_refund)
            w.verified_success = true;
          if (in.kind == input_kind::query_success)
            w.matching_success = true;
          d = m.on_query(x, r, w.now_ms);
        } else if (is_close_result(in.kind)) {
          w.now_ms += call_latency_ms;
          w.in_flight = call::none;
          call_result r;
          r.ok = in.kind == input_kind::close_ok;
          r.retryable = in.kind == input_kind::close_retry_later;
          r.status = r.ok ? 204 : r.retryable ? 503 : 400;
          r.error = r.ok ? "" : "ORDERPAID: " + in.text;
          d = m.on_close(x, r, w.now_ms);
        } else if (in.kind == input_kind::forward_ack || in.kind == input_kind::forward_fail) {
          w.now_ms += call_latency_ms;
          w.in_flight = call::none;
          forward_result r;
          r.acked = in.kind == input_kind::forward_ack;
          r.status = r.acked ? 200 : 503;
          r.error = r.acked ? "" : in.text;
          d = m.on_forward(x, r, w.now_ms);
        } else if (in.kind == input_kind::op_verify) {
          d = m.on_operator_verify(x, w.now_ms);
        } else if (in.kind == input_kind::op_forward) {
          d = m.on_operator_forward(x, w.now_ms);
        } else if (in.kind == input_kind::op_retry) {
          d = m.on_operator_retry(x, w.now_ms);
        } else if (in.kind == input_kind::op_resolve) {
          d = m.on_operator_resolve(x, in.text.empty() ? "checked" : in.text, w.now_ms);
        }
        auto effect = d.legal ? d.effect : order_effect::none;
        violation = adopt(w, std::move(d), x, before.has_value());
        if (violation.empty())
          start(w, effect);
        break;
      }
    }
  } catch (const std::exception& e) {
    return std::string{"threw: "} + e.what();
  }
  if (!violation.empty())
    return violation;
  bool started_forward = w.in_flight == call::forward && old_call != call::forward;
  return check(w, before ? &*before : nullptr, in.kind, started_forward, before_held);
}

std::string state_key(const world& w) {
  if (!w.record)
    return "none/" + std::to_string(static_cast<int>(w.in_flight)) + "/"
           + std::to_string(w.verified_success) + std::to_string(w.matching_success);
  auto x = *w.record;
  // Bookkeeping that no decision reads: paths that differ only in it have
  // the same future.
  x.event_seq = 0;
  x.updated_at_ms = 0;
  x.queries = 0;
  x.parked_reason.clear();
  x.resolved_note.clear();
  std::string key = encode(x);
  key += '/';
  key += std::to_string(static_cast<int>(w.in_flight));
  key += '/';
  key += std::to_string(w.now_ms - t0);
  key += '/';
  key += std::to_string(w.verified_success);
  key += std::to_string(w.matching_success);
  return key;
}

} // namespace paycoord::model
