#include "tests/model/order_world.hpp"

#include <algorithm>
#include <exception>

#include <nlohmann/json.hpp>

#include "common/text.hpp"

namespace paycoord::model {

namespace {

using namespace std::chrono_literals;

constexpr int64_t t0 = 1'795'658'400'000; // 2026-11-26T10:00:00+08:00
constexpr int64_t amount = model_order_total;
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

refund_fact refund_fact_of(const world& w, const std::string& no, const char* status,
                           int64_t refund) {
  refund_fact f;
  f.out_trade_no = order_id;
  f.out_refund_no = no;
  f.refund_id = "50300002026112600" + no;
  f.status = status;
  f.refund = refund;
  f.total = amount;
  if (std::string_view{status} == "SUCCESS")
    f.success_time_ms = w.now_ms;
  return f;
}

/// What WeChat answers to the apply or query in flight (for its refund).
refund_result refund_answer(const world& w, input_kind k, const std::string& text) {
  refund_result r;
  r.status = 200;
  r.outcome = refund_outcome::refund;
  const auto& no = w.in_flight_refund;
  switch (k) {
    case input_kind::refund_apply_processing:
    case input_kind::refund_query_processing:
      r.fact = refund_fact_of(w, no, "PROCESSING", model_refund_amount);
      break;
    case input_kind::refund_apply_success:
    case input_kind::refund_query_success:
      r.fact = refund_fact_of(w, no, "SUCCESS", model_refund_amount);
      break;
    case input_kind::refund_query_success_mismatch:
      r.fact = refund_fact_of(w, no, "SUCCESS", amount);
      break;
    case input_kind::refund_apply_closed:
    case input_kind::refund_query_closed:
      r.fact = refund_fact_of(w, no, "CLOSED", model_refund_amount);
      break;
    case input_kind::refund_apply_abnormal:
    case input_kind::refund_query_abnormal:
      r.fact = refund_fact_of(w, no, "ABNORMAL", model_refund_amount);
      break;
    case input_kind::refund_query_not_found:
      r.outcome = refund_outcome::not_found;
      r.status = 404;
      r.code = "RESOURCE_NOT_EXISTS";
      r.error = "HTTP 404 RESOURCE_NOT_EXISTS: " + text;
      break;
    case input_kind::refund_apply_refused:
      r.outcome = refund_outcome::refused;
      r.status = 403;
      r.code = "NOT_ENOUGH";
      r.error = "HTTP 403 NOT_ENOUGH: " + text;
      break;
    default: // refund_apply_retry_later, refund_query_retry_later
      r.outcome = refund_outcome::retry_later;
      r.status = 500;
      r.code = "SYSTEM_ERROR";
      r.error = "HTTP 500 SYSTEM_ERROR: " + text;
      break;
  }
  return r;
}

verified_notification refund_notification(const world& w, input_kind k, const std::string& text) {
  verified_notification n;
  n.notification_id = "EV-R-" + text.substr(0, 40);
  n.is_refund = true;
  n.fact.out_trade_no = order_id; // routes it to the order
  const char* status = k == input_kind::refund_notify_closed     ? "CLOSED"
                       : k == input_kind::refund_notify_abnormal ? "ABNORMAL"
                                                                 : "SUCCESS";
  n.event_type = std::string{"REFUND."} + status;
  n.refund = refund_fact_of(w, k == input_kind::refund_notify_unknown ? refund_unknown : refund_1,
                            status, model_refund_amount);
  n.plaintext = text;
  return n;
}

bool is_refund_apply_result(input_kind k) {
  return k >= input_kind::refund_apply_processing && k <= input_kind::refund_apply_refused;
}

bool is_refund_query_result(input_kind k) {
  return k >= input_kind::refund_query_processing && k <= input_kind::refund_query_retry_later;
}

bool is_refund_notification(input_kind k) {
  return k >= input_kind::refund_notify_success && k <= input_kind::refund_notify_unknown;
}

bool is_refund_delivery_result(input_kind k) {
  return k == input_kind::refund_deliver_ack || k == input_kind::refund_deliver_fail;
}

/// The refund an operator's action names: see input_kind.
std::string operator_target(const world& w, input_kind k) {
  for (auto& r : w.refunds)
    if (k == input_kind::op_refund_verify ? !is_final(r.state) : needs_a_person(r))
      return r.out_refund_no;
  if (k == input_kind::op_refund_verify && !w.refunds.empty())
    return w.refunds.front().out_refund_no;
  return refund_1;
}

/// What the order's `refund_due_ms` must be with these refunds: the
/// earliest deadline (at least 1) of those that need the timer, 0 when none
/// does or while the order is FAULTED (parked whole).
int64_t wanted_refund_due(const order_record& x, const refund_list& refunds) {
  if (x.state == order_state::faulted)
    return 0;
  int64_t due = 0;
  for (auto& r : refunds)
    if (needs_timer(r)) {
      auto at = std::max<int64_t>(r.next_due_ms, 1);
      if (due == 0 || at < due)
        due = at;
    }
  return due;
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
      return call::refund_apply;
    case order_effect::refund_query:
      return call::refund_query;
    case order_effect::refund_deliver:
      return call::refund_deliver;
    case order_effect::none:
      break;
  }
  return call::none;
}

/// Checks the decision's bookkeeping and adopts it as the synced state.
std::string adopt(world& w, order_decision d, const order_record& before, bool had_record) {
  if (!d.legal)
    return {}; // refused: nothing applied (the actor logs it)
  if (!d.persist) {
    // The actor writes nothing then: a refund changed here would be lost.
    if (!d.refunds.empty())
      return "refund " + d.refunds.front().out_refund_no + " changed by a decision not persisted";
    return {};
  }
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
  // The changed refunds, written in the same batch, merged by number.
  auto refunds = w.refunds;
  for (size_t i = 0; i < d.refunds.size(); ++i) {
    auto& r = d.refunds[i];
    for (size_t j = 0; j < i; ++j)
      if (d.refunds[j].out_refund_no == r.out_refund_no)
        return "refund " + r.out_refund_no + " twice in one decision";
    if (r.out_trade_no != d.record.out_trade_no)
      return "refund " + r.out_refund_no + " of order " + r.out_trade_no;
    auto stored = decode_refund("r/" + r.out_trade_no + "/" + r.out_refund_no, encode(r));
    if (!stored)
      return "refund " + r.out_refund_no + " does not decode: " + stored.error().to_string();
    if (!(*stored == r))
      return "refund " + r.out_refund_no + " changes on its way through the store";
    auto same = std::find_if(refunds.begin(), refunds.end(), [&](const refund_record& y) {
      return y.out_refund_no == r.out_refund_no;
    });
    if (same == refunds.end())
      refunds.push_back(r);
    else
      *same = r;
  }
  // The order's one timer covers its refunds (facts_of reads refund_due_ms).
  auto due = wanted_refund_due(d.record, refunds);
  if (d.record.refund_due_ms != due)
    return "refund_due_ms " + std::to_string(d.record.refund_due_ms) + ", its refunds want "
           + std::to_string(due) + " (order " + paycoord::to_string(d.record.state) + ")";
  w.record = std::move(d.record);
  w.refunds = std::move(refunds);
  return {};
}

/// Starts the call an effect names, as the actor's run_effect does; a
/// refund's delivery carries its oldest undelivered event.
std::string start(world& w, order_effect e, const std::string& refund_no) {
  if (e == order_effect::none || w.in_flight != call::none)
    return {}; // as the actor: one call at a time
  auto c = call_of(e);
  if (c == call::refund_apply || c == call::refund_query || c == call::refund_deliver) {
    auto* r = find_refund(w.refunds, refund_no);
    if (r == nullptr)
      return std::string{to_string(e)} + " for refund '" + refund_no
             + "', which the order does not have";
    if (c == call::refund_apply && r->state != refund_state::requested)
      return "an apply started for refund " + refund_no + " in state "
             + paycoord::to_string(r->state) + " (WeChat answered it already)";
    if (c == call::refund_deliver) {
      if (r->undelivered.empty())
        return "a delivery started for refund " + refund_no + " with nothing to deliver";
      w.in_flight_event = r->undelivered.front();
    }
    w.in_flight_refund = refund_no;
  }
  w.in_flight = c;
  ++w.calls;
  return {};
}

void end_call(world& w) {
  w.in_flight = call::none;
  w.in_flight_refund.clear();
  w.in_flight_event.clear();
}

/// What one step was, for the properties that look at a transition.
struct step_facts {
  input_kind kind = input_kind::timer;
  bool started_forward = false;
  bool before_held = false;
  /// The refund a verified SUCCESS with its own amount named ("": none).
  std::string success_for;
  /// A delivery acked: its refund and event.
  std::string acked_refund;
  std::string acked_event;
};

std::string check_refunds(const world& w, const refund_list& before, const step_facts& s) {
  const auto& x = *w.record;
  if (w.refunds.empty())
    return {};
  if (x.state != order_state::paid && x.state != order_state::confirmed
      && x.state != order_state::faulted)
    return std::string{"refunds on an order in "} + paycoord::to_string(x.state);
  if (!w.matching_success)
    return "refunds on an order WeChat never said was paid its amount";
  // The money: what is refunded, and what may still be, never exceeds what
  // was paid.
  int64_t succeeded = 0;
  int64_t committed = 0;
  for (auto& r : w.refunds) {
    if (r.amount_total != x.amount_total)
      return "refund " + r.out_refund_no + " of a total of " + std::to_string(r.amount_total);
    if (r.state == refund_state::success)
      succeeded += r.amount_refund;
    if (r.state != refund_state::closed)
      committed += r.amount_refund;
  }
  if (succeeded > x.amount_total)
    return "SUCCESS refunds sum to " + std::to_string(succeeded) + ", paid "
           + std::to_string(x.amount_total);
  if (committed > x.amount_total)
    return "refunds not CLOSED sum to " + std::to_string(committed) + ", paid "
           + std::to_string(x.amount_total);
  bool parked = x.state == order_state::faulted;
  bool has_timer = facts_of(x).has_timer();
  static const std::vector<std::string> none;
  for (auto& r : w.refunds) {
    const auto& no = r.out_refund_no;
    auto* b = find_refund(before, no);
    auto from = b ? std::string{paycoord::to_string(b->state)} : std::string{"(new)"};
    bool changed = !b || b->state != r.state;
    if (b && is_final(b->state) && changed)
      return "final refund " + no + " went from " + from + " to " + paycoord::to_string(r.state);
    if (!b && r.state != refund_state::requested)
      return "refund " + no + " born " + paycoord::to_string(r.state);
    if (r.state == refund_state::success && changed) {
      auto ghost = w.refund_ghosts.find(no);
      if (s.success_for != no || ghost == w.refund_ghosts.end() || !ghost->second.said_success)
        return "refund " + no + " SUCCESS after " + to_string(s.kind)
               + ", not a verified SUCCESS for it with its own amount";
    }
    // Its business events: the oldest one acked leaves the head of the
    // line; a state that is delivered joins its end when it is reached.
    const auto& old = b ? b->undelivered : none;
    bool acked_head = s.acked_refund == no && !old.empty() && old.front() == s.acked_event;
    size_t kept = acked_head ? 1 : 0;
    if (r.undelivered.size() + kept < old.size()
        || !std::equal(old.begin() + kept, old.end(), r.undelivered.begin()))
      return "refund " + no + ": its undelivered events were rewritten by " + to_string(s.kind)
             + (acked_head ? " (the acked head stayed)" : "");
    auto queued = r.undelivered.size() + kept - old.size();
    auto* event = delivery_event(r.state);
    if (queued > 1)
      return "refund " + no + ": " + std::to_string(queued) + " events queued in one step";
    if (queued == 1 && (!changed || event == nullptr || r.undelivered.back() != event))
      return "refund " + no + " queued '" + r.undelivered.back() + "' in state "
             + paycoord::to_string(r.state) + " (was " + from + ")";
    if (queued == 0 && changed && event != nullptr)
      return "refund " + no + " reached " + paycoord::to_string(r.state)
             + " without queueing " + event;
    // Liveness bookkeeping: what is not over has a deadline, and the order's
    // timer (or its call out) carries it.
    bool open = !is_final(r.state) || !r.undelivered.empty();
    if (open && r.action == refund_action::none)
      return "refund " + no + " in " + paycoord::to_string(r.state) + " with "
             + std::to_string(r.undelivered.size()) + " undelivered and no action";
    if (!open && r.action != refund_action::none)
      return "refund " + no + " over (" + paycoord::to_string(r.state)
             + ", delivered) keeps action " + paycoord::to_string(r.action);
    if (!r.undelivered.empty() != (r.action == refund_action::deliver))
      return "refund " + no + " with " + std::to_string(r.undelivered.size())
             + " undelivered has action " + paycoord::to_string(r.action);
    if (r.action == refund_action::apply && r.state != refund_state::requested)
      return "refund " + no + " to apply in state " + paycoord::to_string(r.state);
    if (r.action == refund_action::query && is_final(r.state))
      return "final refund " + no + " to query";
    if (open && !parked && !has_timer && w.in_flight == call::none)
      return "refund " + no + " in " + paycoord::to_string(r.state)
             + " with no timer in the index and no call in flight";
  }
  return {};
}

std::string check(const world& w, const order_record* before, const refund_list& refunds_before,
                  const step_facts& s) {
  if (!w.record)
    return {};
  const auto& x = *w.record;
  auto k = s.kind;
  bool started_forward = s.started_forward;
  bool before_held = s.before_held;
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
  return check_refunds(w, refunds_before, s);
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
    "crash_fault",    "refund_request_1", "refund_request_2",
    "refund_apply_processing", "refund_apply_success", "refund_apply_closed",
    "refund_apply_abnormal", "refund_apply_retry_later", "refund_apply_refused",
    "refund_query_processing", "refund_query_success", "refund_query_success_mismatch",
    "refund_query_closed", "refund_query_abnormal", "refund_query_not_found",
    "refund_query_retry_later", "refund_notify_success", "refund_notify_closed",
    "refund_notify_abnormal", "refund_notify_unknown", "refund_deliver_ack",
    "refund_deliver_fail", "op_refund_verify", "op_refund_resolve"};
  static_assert(std::size(names) == static_cast<size_t>(input_kind::count_));
  return names[static_cast<size_t>(k)];
}

bool is_refund_input(input_kind k) {
  return k >= input_kind::refund_request_1 && k < input_kind::count_;
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
  s.refund_verify = {1min, 5min};
  s.refund_verify_every = 10min;
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
  if (is_refund_apply_result(k))
    return w.in_flight == call::refund_apply;
  if (is_refund_query_result(k))
    return w.in_flight == call::refund_query;
  if (is_refund_delivery_result(k))
    return w.in_flight == call::refund_deliver;
  if (is_refund_notification(k))
    return true;
  if (!w.record)
    return false;
  if (k == input_kind::timer) // what the store's index holds for the order
    return w.in_flight == call::none && facts_of(*w.record).has_timer();
  return true; // requests, operator actions and crashes
}

bool settled(const world& w) {
  if (w.in_flight != call::none)
    return false;
  return !w.record || is_terminal(w.record->state) || is_parked(w.record->state);
}

bool refunds_settled(const world& w) {
  if (w.in_flight != call::none)
    return false;
  for (auto& r : w.refunds)
    if (!is_final(r.state) || !r.undelivered.empty() || r.action != refund_action::none)
      return false;
  return true;
}

std::string apply(world& w, const input& in) {
  const auto& m = *w.machine;
  ++w.steps;
  std::optional<order_record> before = w.record;
  auto refunds_before = w.refunds;
  step_facts s;
  s.kind = in.kind;
  s.before_held = before && !before->held.transaction_id.empty();
  auto old_call = w.in_flight;
  std::string violation;
  // A verified SUCCESS with the refund's own amount, for a refund the order
  // has: the only fact that may make it SUCCESS.
  auto said_success = [&](const std::string& no) {
    if (find_refund(w.refunds, no) == nullptr)
      return;
    w.refund_ghosts[no].said_success = true;
    s.success_for = no;
  };
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
        end_call(w);
        violation = adopt(w, m.on_prepay(x, r, w.now_ms), x, true);
        break;
      }
      case input_kind::timer: {
        // The store's index entry comes due: the order's own deadline or its
        // earliest refund's, whichever is first.
        auto due = facts_of(x).timer_due_ms;
        w.now_ms = std::max(w.now_ms, due);
        auto d = m.on_timer(x, w.refunds, w.now_ms);
        // The actor re-arms for the same entry after a refused or empty fire
        // (a loop that never ends), and writes nothing a fire decides.
        if (!d.legal)
          violation = "the index has the order due at +" + std::to_string(due - t0)
                      + " ms, its timer is refused: " + d.refusal;
        else if (d.effect == order_effect::none)
          violation = "the order's timer fired with nothing to do";
        else if (d.persist || !d.refunds.empty())
          violation = "a timer decision changes state the actor never writes";
        else
          violation = start(w, d.effect, d.refund_no);
        break;
      }
      case input_kind::crash_respawn:
        end_call(w); // the answer of its call is lost with it
        break;
      case input_kind::crash_fault:
        end_call(w);
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
          // As the actor routes it: REFUND.* to the refund half.
          d = !before                           ? m.orphan(n, w.now_ms)
              : in.kind == input_kind::notify_refund ? m.on_refund_notify(x, w.refunds, n, w.now_ms)
                                                     : m.on_notify(x, n, w.now_ms);
        } else if (is_refund_notification(in.kind)) {
          if (!before)
            break; // an orphan event of no record
          auto n = refund_notification(w, in.kind, in.text);
          if (in.kind == input_kind::refund_notify_success)
            said_success(refund_1);
          d = m.on_refund_notify(x, w.refunds, n, w.now_ms);
        } else if (is_query_result(in.kind)) {
          w.now_ms += call_latency_ms;
          end_call(w);
          auto r = query_answer(w, in.kind, in.text);
          if (in.kind == input_kind::query_success || in.kind == input_kind::query_success_mismatch
              || in.kind == input_kind::query_refund)
            w.verified_success = true;
          if (in.kind == input_kind::query_success)
            w.matching_success = true;
          d = m.on_query(x, r, w.now_ms);
        } else if (is_close_result(in.kind)) {
          w.now_ms += call_latency_ms;
          end_call(w);
          call_result r;
          r.ok = in.kind == input_kind::close_ok;
          r.retryable = in.kind == input_kind::close_retry_later;
          r.status = r.ok ? 204 : r.retryable ? 503 : 400;
          r.error = r.ok ? "" : "ORDERPAID: " + in.text;
          d = m.on_close(x, r, w.now_ms);
        } else if (in.kind == input_kind::forward_ack || in.kind == input_kind::forward_fail) {
          w.now_ms += call_latency_ms;
          end_call(w);
          forward_result r;
          r.acked = in.kind == input_kind::forward_ack;
          r.status = r.acked ? 200 : 503;
          r.error = r.acked ? "" : in.text;
          d = m.on_forward(x, r, w.now_ms);
        } else if (is_refund_apply_result(in.kind) || is_refund_query_result(in.kind)) {
          w.now_ms += call_latency_ms;
          auto no = w.in_flight_refund;
          auto r = refund_answer(w, in.kind, in.text);
          end_call(w);
          if (r.outcome == refund_outcome::refund && r.fact.status == "SUCCESS"
              && r.fact.refund == model_refund_amount)
            said_success(no);
          d = is_refund_apply_result(in.kind) ? m.on_refund_apply(x, w.refunds, no, r, w.now_ms)
                                              : m.on_refund_query(x, w.refunds, no, r, w.now_ms);
        } else if (is_refund_delivery_result(in.kind)) {
          w.now_ms += call_latency_ms;
          auto no = w.in_flight_refund;
          auto event = w.in_flight_event;
          end_call(w);
          forward_result r;
          r.acked = in.kind == input_kind::refund_deliver_ack;
          r.status = r.acked ? 200 : 503;
          r.error = r.acked ? "" : in.text;
          if (r.acked) {
            w.refund_ghosts[no].last_acked = event;
            s.acked_refund = no;
            s.acked_event = event;
          }
          d = m.on_refund_delivered(x, w.refunds, no, event, r, w.now_ms);
        } else if (in.kind == input_kind::refund_request_1
                   || in.kind == input_kind::refund_request_2) {
          create_refund req;
          req.out_trade_no = order_id;
          req.out_refund_no = in.kind == input_kind::refund_request_1 ? refund_1 : refund_2;
          req.amount_refund = model_refund_amount;
          req.reason = "model"; // validated by the API: never any bytes
          d = m.request_refund(x, w.refunds, req, w.now_ms);
        } else if (in.kind == input_kind::op_refund_verify) {
          d = m.on_operator_refund_verify(x, w.refunds, operator_target(w, in.kind), w.now_ms);
        } else if (in.kind == input_kind::op_refund_resolve) {
          d = m.on_operator_refund_resolve(x, w.refunds, operator_target(w, in.kind),
                                           in.text.empty() ? "checked" : in.text, w.now_ms);
        } else if (in.kind == input_kind::op_verify) {
          d = m.on_operator_verify(x, w.now_ms);
        } else if (in.kind == input_kind::op_forward) {
          d = m.on_operator_forward(x, w.now_ms);
        } else if (in.kind == input_kind::op_retry) {
          d = m.on_operator_retry(x, w.refunds, w.now_ms);
        } else if (in.kind == input_kind::op_resolve) {
          d = m.on_operator_resolve(x, in.text.empty() ? "checked" : in.text, w.now_ms);
        }
        auto effect = d.legal ? d.effect : order_effect::none;
        auto refund_no = d.refund_no;
        violation = adopt(w, std::move(d), x, before.has_value());
        if (violation.empty())
          violation = start(w, effect, refund_no);
        break;
      }
    }
  } catch (const std::exception& e) {
    return std::string{"threw: "} + e.what();
  }
  if (!violation.empty())
    return violation;
  s.started_forward = w.in_flight == call::forward && old_call != call::forward;
  return check(w, before ? &*before : nullptr, refunds_before, s);
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
  for (auto r : w.refunds) {
    // The same for its refunds: what only the merchant or a person reads.
    r.refund_id.clear();
    r.succeeded_at_ms = 0;
    r.last_error_code.clear();
    r.last_error_message.clear();
    r.created_at_ms = 0;
    r.updated_at_ms = 0;
    r.apply_attempts = 0;
    r.queries = 0;
    r.first_delivery_failure_ms = r.first_delivery_failure_ms != 0; // only "since when" is read
    r.resolved_at_ms = r.resolved_at_ms != 0;
    r.resolved_note.clear();
    key += '/';
    key += encode(r);
  }
  for (auto& [no, ghost] : w.refund_ghosts) {
    key += '/';
    key += no;
    key += ghost.said_success ? "+" : "-";
    key += ghost.last_acked;
  }
  key += '/';
  key += w.in_flight_refund;
  key += '/';
  key += w.in_flight_event;
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
