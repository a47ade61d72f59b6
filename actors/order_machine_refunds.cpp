// The refund half of the order machine (CONTRACTS.md §10, wechatpay-v3.md
// §7, DESIGN.md "Refunds"): pure functions over an order and its refunds.
//
// A refund's life: REQUESTED (synced before WeChat is asked; the apply is
// retried with the same out_refund_no until WeChat answers) -> PROCESSING
// (accepted; queried on schedule.refund_verify from the acceptance, then
// every refund_verify_every) -> SUCCESS | CLOSED (final) or ABNORMAL (parked
// for a person, still queried so that a fix made at WeChat is noticed).
// Every state that is delivered (SUCCESS, CLOSED, ABNORMAL) queues its event
// for the business server, retried until a 2xx, oldest first.
//
// The money rule lives in request_refund: the refunds of an order that are
// not CLOSED never sum to more than its total, so whatever WeChat answers,
// the SUCCESS refunds never exceed what was paid (a fact whose amount
// differs from the one asked for parks the refund as ABNORMAL instead).

#include <algorithm>

#include <nlohmann/json.hpp>

#include "actors/order_machine.hpp"
#include "common/text.hpp"

namespace paycoord {

// Declared with the messages; defined here, with no CAF in this file, so
// that the machine links without the actor system (the fuzz target).
const char* to_string(refund_outcome x) {
  switch (x) {
    case refund_outcome::refund:
      return "refund";
    case refund_outcome::not_found:
      return "not_found";
    case refund_outcome::retry_later:
      return "retry_later";
    case refund_outcome::failed:
      return "failed";
    case refund_outcome::refused:
      return "refused";
  }
  return "unknown";
}

namespace {

using json = nlohmann::json;

int64_t ms(duration d) {
  return d.count();
}

std::optional<refund_state> state_of(std::string_view wechat_status) {
  if (wechat_status == "SUCCESS")
    return refund_state::success;
  if (wechat_status == "CLOSED")
    return refund_state::closed;
  if (wechat_status == "ABNORMAL")
    return refund_state::abnormal;
  if (wechat_status == "PROCESSING")
    return refund_state::processing;
  return std::nullopt;
}

json result_detail(const refund_result& r) {
  json j{{"outcome", to_string(r.outcome)}, {"status", r.status}};
  if (r.outcome == refund_outcome::refund) {
    j["refund_status"] = utf8_prefix(r.fact.status, 32);
    if (!r.fact.refund_id.empty())
      j["refund_id"] = utf8_prefix(r.fact.refund_id, 64);
  } else {
    if (!r.code.empty())
      j["code"] = utf8_prefix(r.code, 64);
    j["error"] = utf8_prefix(r.error, max_error_text);
  }
  return j;
}

/// Keeps a failure for the merchant (`last_error` of the refund).
void remember_error(refund_record& r, const refund_result& x) {
  r.last_error_code = x.code.empty() ? (x.status == 0 ? "NO_ANSWER" : "HTTP_" + std::to_string(x.status))
                                     : utf8_prefix(x.code, 64);
  r.last_error_message = utf8_prefix(x.error, max_error_text);
}

} // namespace

next_step next_step_of(const order_record& x, const refund_list& refunds) {
  auto due = facts_of(x).timer_due_ms;
  if (due < 0)
    return {};
  if (is_active(x.state) && x.action != next_action::none && x.next_due_ms <= due)
    return {to_string(x.action), x.next_due_ms};
  for (auto& r : refunds)
    if (needs_timer(r) && std::max<int64_t>(r.next_due_ms, 1) == due)
      return {std::string{"refund_"} + to_string(r.action), due};
  return {"refund", due};
}

// -- helpers -------------------------------------------------------------------

refund_record& order_machine::change(order_decision& d, const refund_list& refunds,
                                     const refund_record& r) const {
  for (auto& changed : d.refunds)
    if (changed.out_refund_no == r.out_refund_no)
      return changed;
  (void) refunds;
  d.refunds.push_back(r);
  return d.refunds.back();
}

order_decision order_machine::on_operator_retry(const order_record& x,
                                                const refund_list& refunds,
                                                int64_t now_ms) const {
  auto d = on_operator_retry(x, now_ms);
  if (d.legal)
    finish_refunds(d, refunds, now_ms);
  return d;
}

void order_machine::finish_refunds(order_decision& d, const refund_list& refunds,
                                   int64_t now_ms) const {
  // The order's one timer covers the earliest refund deadline; a FAULTED
  // order is parked whole: nothing is due until the operator's retry.
  bool parked = d.record.state == order_state::faulted;
  int64_t due = 0;
  auto consider = [&](const refund_record& r) {
    if (!needs_timer(r))
      return;
    auto at = std::max<int64_t>(r.next_due_ms, 1);
    if (due == 0 || at < due)
      due = at;
  };
  for (auto& r : refunds)
    if (find_refund(d.refunds, r.out_refund_no) == nullptr)
      consider(r);
  for (auto& r : d.refunds) {
    r.updated_at_ms = now_ms;
    consider(r);
  }
  if (parked)
    due = 0;
  if (due != d.record.refund_due_ms) {
    d.record.refund_due_ms = due;
    d.persist = true;
  }
  if (!d.refunds.empty())
    d.persist = true;
}

void order_machine::schedule_refund_query(refund_record& r, int64_t now_ms) const {
  // schedule.refund_verify counts from WeChat's acceptance; after its last
  // step, every refund_verify_every. ABNORMAL waits for a person at WeChat:
  // every refund_verify_every.
  const auto& steps = rules_.schedule.refund_verify;
  auto every = ms(rules_.schedule.refund_verify_every);
  int64_t due;
  if (r.state == refund_state::abnormal)
    due = now_ms + every;
  else if (r.verify_step < steps.size())
    due = r.accepted_at_ms + ms(steps[r.verify_step]);
  else
    due = now_ms + every;
  r.action = refund_action::query;
  r.next_due_ms = std::max(due, now_ms);
}

void order_machine::after_delivery(refund_record& r, int64_t now_ms) const {
  if (!r.undelivered.empty()) {
    r.action = refund_action::deliver;
    r.next_due_ms = now_ms;
    return;
  }
  if (is_final(r.state)) {
    r.action = refund_action::none;
    r.next_due_ms = 0;
    return;
  }
  if (r.state == refund_state::requested) {
    r.action = refund_action::apply;
    r.next_due_ms = now_ms;
    return;
  }
  schedule_refund_query(r, now_ms);
}

void order_machine::adopt(order_decision& d, refund_record& r, const refund_fact& f,
                          int64_t now_ms, const char* source) const {
  auto to = state_of(f.status);
  if (!f.refund_id.empty() && r.refund_id.empty())
    r.refund_id = f.refund_id;
  if (r.state == refund_state::requested) {
    // Any answer that names the refund means WeChat accepted it.
    r.accepted_at_ms = now_ms;
    r.verify_step = 0;
  }
  r.failures = 0;
  r.last_error_code.clear();
  r.last_error_message.clear();
  if (is_final(r.state)) {
    if (!to || *to != r.state)
      add_event(d, now_ms, "refund_contradiction",
                json{{"out_refund_no", r.out_refund_no},
                     {"state", to_string(r.state)},
                     {"wechat_says", utf8_prefix(f.status, 32)},
                     {"source", source}});
    return; // final stays final
  }
  if (to && *to != refund_state::processing && *to != refund_state::closed
      && f.refund != r.amount_refund) {
    // Signed, but not the refund we asked for: a person looks.
    r.last_error_code = "AMOUNT_MISMATCH";
    r.last_error_message = "WeChat reports " + std::to_string(f.refund) + " refunded, "
                           + std::to_string(r.amount_refund) + " was asked";
    to = refund_state::abnormal;
  }
  if (!to || *to == refund_state::processing || *to == r.state) {
    // Not final yet (or an unknown status: asked again later). A repeated
    // ABNORMAL keeps waiting for a person; PROCESSING after ABNORMAL means
    // a person at WeChat sent it again.
    if (r.state == refund_state::requested
        || (r.state == refund_state::abnormal && to == refund_state::processing)) {
      if (r.state == refund_state::abnormal)
        add_event(d, now_ms, "refund_state",
                  json{{"out_refund_no", r.out_refund_no},
                       {"from", "ABNORMAL"},
                       {"to", "PROCESSING"},
                       {"source", source}});
      r.state = refund_state::processing;
    }
    if (r.undelivered.empty()) {
      // This answer covers every step already due.
      const auto& steps = rules_.schedule.refund_verify;
      while (r.verify_step < steps.size()
             && r.accepted_at_ms + ms(steps[r.verify_step]) <= now_ms)
        ++r.verify_step;
      schedule_refund_query(r, now_ms);
    }
    return;
  }
  auto from = r.state;
  r.state = *to;
  if (*to == refund_state::success)
    r.succeeded_at_ms = f.success_time_ms != 0 ? f.success_time_ms : now_ms;
  if (*to == refund_state::abnormal) {
    r.resolved_at_ms = 0;
    r.resolved_note.clear();
  }
  r.undelivered.push_back(delivery_event(*to));
  add_event(d, now_ms, "refund_state",
            json{{"out_refund_no", r.out_refund_no},
                 {"from", to_string(from)},
                 {"to", to_string(*to)},
                 {"source", source}});
  // Delivery first (a queued earlier event keeps its place in the line).
  if (r.action != refund_action::deliver || r.undelivered.size() == 1) {
    r.action = refund_action::deliver;
    r.next_due_ms = now_ms;
    r.delivery_attempts = 0;
    r.first_delivery_failure_ms = 0;
  }
}

// -- the merchant's request -------------------------------------------------------

order_decision order_machine::request_refund(const order_record& x, const refund_list& refunds,
                                             const create_refund& req, int64_t now_ms) const {
  auto refused = [&](unsigned status, std::string code, std::string why) {
    auto d = refuse(x, std::move(why));
    d.status = status;
    d.code = std::move(code);
    return d;
  };
  auto currency = req.currency.empty() ? std::string{"CNY"} : req.currency;
  if (auto* same = find_refund(refunds, req.out_refund_no)) {
    if (same->amount_refund != req.amount_refund || same->currency != currency)
      return refused(409, "REFUND_CONFLICT",
                     "out_refund_no " + req.out_refund_no
                       + " exists with a different amount or currency");
    order_decision d; // the same request again: the refund as it stands
    d.record = x;
    d.refund_no = req.out_refund_no;
    return d;
  }
  if (x.state != order_state::paid && x.state != order_state::confirmed)
    return refused(409, "ORDER_NOT_PAID",
                   std::string{"only a PAID or CONFIRMED order is refunded, this one is "}
                     + to_string(x.state));
  if (currency != x.currency)
    return refused(400, "INVALID_REQUEST",
                   "amount.currency: the order is in " + x.currency);
  if (refunds.size() >= max_refunds_per_order)
    return refused(409, "TOO_MANY_REFUNDS",
                   "the order has " + std::to_string(refunds.size()) + " refunds (at most "
                     + std::to_string(max_refunds_per_order) + ")");
  int64_t committed = 0;
  for (auto& r : refunds)
    if (r.state != refund_state::closed)
      committed += r.amount_refund;
  if (req.amount_refund <= 0 || req.amount_refund > x.amount_total - committed)
    return refused(409, "REFUND_EXCEEDS_PAID",
                   "amount.refund " + std::to_string(req.amount_refund) + " exceeds what is left: "
                     + std::to_string(x.amount_total - committed) + " of "
                     + std::to_string(x.amount_total));
  order_decision d;
  d.record = x;
  refund_record r;
  r.out_refund_no = req.out_refund_no;
  r.out_trade_no = x.out_trade_no;
  r.state = refund_state::requested;
  r.amount_refund = req.amount_refund;
  r.amount_total = x.amount_total;
  r.currency = currency;
  r.reason = req.reason;
  r.created_at_ms = now_ms;
  r.action = refund_action::apply;
  r.next_due_ms = now_ms;
  d.refunds.push_back(r);
  d.refund_no = r.out_refund_no;
  d.effect = order_effect::refund_apply;
  add_event(d, now_ms, "refund_requested",
            json{{"out_refund_no", r.out_refund_no},
                 {"refund", r.amount_refund},
                 {"total", r.amount_total}});
  finish_refunds(d, refunds, now_ms);
  return d;
}

// -- WeChat's answers ----------------------------------------------------------------

order_decision order_machine::on_refund_apply(const order_record& x, const refund_list& refunds,
                                              const std::string& out_refund_no,
                                              const refund_result& res, int64_t now_ms) const {
  auto* found = find_refund(refunds, out_refund_no);
  if (found == nullptr)
    return refuse(x, "apply result for a refund the order does not have");
  order_decision d;
  d.record = x;
  if (found->state != refund_state::requested)
    return d; // answered meanwhile (a notification, a query): stale
  auto& r = change(d, refunds, *found);
  r.apply_attempts = found->apply_attempts + 1;
  auto detail = result_detail(res);
  detail["out_refund_no"] = out_refund_no;
  detail["attempt"] = r.apply_attempts;
  add_event(d, now_ms, "refund_apply", detail);
  switch (res.outcome) {
    case refund_outcome::refund:
      adopt(d, r, res.fact, now_ms, "apply");
      break;
    case refund_outcome::refused:
    case refund_outcome::not_found:
      remember_error(r, res);
      if (found->failures == 0) {
        // WeChat refused it outright: no money moves; the merchant hears
        // refund.closed and may ask again under a new out_refund_no.
        r.state = refund_state::closed;
        r.undelivered.push_back(delivery_event(refund_state::closed));
        r.action = refund_action::deliver;
        r.next_due_ms = now_ms;
        add_event(d, now_ms, "refund_state",
                  json{{"out_refund_no", out_refund_no},
                       {"from", "REQUESTED"},
                       {"to", "CLOSED"},
                       {"source", "apply refused"}});
      } else {
        // An earlier apply got no answer: WeChat may hold it. Ask first.
        r.failures = 0;
        r.action = refund_action::query;
        r.next_due_ms = now_ms;
      }
      break;
    case refund_outcome::retry_later:
    case refund_outcome::failed:
      remember_error(r, res);
      r.failures = found->failures + 1;
      r.next_due_ms = now_ms
                      + (res.outcome == refund_outcome::failed
                           ? std::max(query_retry_ms(r.failures), int64_t{60'000})
                           : query_retry_ms(r.failures));
      break;
  }
  finish_refunds(d, refunds, now_ms);
  return d;
}

order_decision order_machine::on_refund_query(const order_record& x, const refund_list& refunds,
                                              const std::string& out_refund_no,
                                              const refund_result& res, int64_t now_ms) const {
  auto* found = find_refund(refunds, out_refund_no);
  if (found == nullptr)
    return refuse(x, "query result for a refund the order does not have");
  order_decision d;
  d.record = x;
  auto& r = change(d, refunds, *found);
  r.queries = found->queries + 1;
  auto detail = result_detail(res);
  detail["out_refund_no"] = out_refund_no;
  add_event(d, now_ms, "refund_query", detail);
  switch (res.outcome) {
    case refund_outcome::refund:
      adopt(d, r, res.fact, now_ms, "query");
      break;
    case refund_outcome::not_found:
      if (r.state == refund_state::requested) {
        // Never accepted: apply again (same out_refund_no, same body).
        r.failures = 0;
        r.action = refund_action::apply;
        r.next_due_ms = now_ms;
        break;
      }
      [[fallthrough]]; // accepted, yet unknown: not believed, asked again later
    case refund_outcome::retry_later:
    case refund_outcome::failed:
    case refund_outcome::refused:
      remember_error(r, res);
      r.failures = found->failures + 1;
      if (r.action == refund_action::query)
        r.next_due_ms = now_ms
                        + (res.outcome == refund_outcome::retry_later
                             ? query_retry_ms(r.failures)
                             : std::max(query_retry_ms(r.failures), int64_t{60'000}));
      break;
  }
  finish_refunds(d, refunds, now_ms);
  return d;
}

order_decision order_machine::on_refund_notify(const order_record& x, const refund_list& refunds,
                                               const verified_notification& n,
                                               int64_t now_ms) const {
  order_decision d;
  d.record = x;
  auto* found = n.is_refund ? find_refund(refunds, n.refund.out_refund_no) : nullptr;
  if (x.state == order_state::faulted) {
    // Parked whole: kept on the timeline; after the operator's retry the
    // refund's query finds the same fact.
    add_event(d, now_ms, "refund_parked",
              json{{"id", n.notification_id}, {"event_type", n.event_type}});
    return d;
  }
  if (found == nullptr) {
    // A refund paycoord never asked for (made at WeChat directly): kept on
    // the timeline for a person; nothing else moves.
    add_event(d, now_ms, "refund_orphan",
              json{{"id", n.notification_id},
                   {"event_type", n.event_type},
                   {"resource", n.plaintext}});
    return d;
  }
  auto& r = change(d, refunds, *found);
  add_event(d, now_ms, "refund_notify",
            json{{"id", n.notification_id},
                 {"out_refund_no", r.out_refund_no},
                 {"refund_status", utf8_prefix(n.refund.status, 32)}});
  adopt(d, r, n.refund, now_ms, "notify");
  finish_refunds(d, refunds, now_ms);
  return d;
}

// -- delivery --------------------------------------------------------------------------

order_decision order_machine::on_refund_delivered(const order_record& x,
                                                  const refund_list& refunds,
                                                  const std::string& out_refund_no,
                                                  const std::string& event,
                                                  const forward_result& res,
                                                  int64_t now_ms) const {
  auto* found = find_refund(refunds, out_refund_no);
  if (found == nullptr)
    return refuse(x, "delivery result for a refund the order does not have");
  order_decision d;
  d.record = x;
  if (found->undelivered.empty() || found->undelivered.front() != event)
    return d; // a second ack of an event delivered before
  auto& r = change(d, refunds, *found);
  r.delivery_attempts = found->delivery_attempts + 1;
  add_event(d, now_ms, "refund_forward",
            json{{"out_refund_no", out_refund_no},
                 {"event", event},
                 {"attempt", r.delivery_attempts},
                 {"acked", res.acked},
                 {"status", res.status},
                 {"latency_ms", res.latency_ms},
                 {"error", utf8_prefix(res.error, max_error_text)}});
  if (res.acked) {
    r.undelivered.erase(r.undelivered.begin());
    r.delivery_attempts = 0;
    r.first_delivery_failure_ms = 0;
    after_delivery(r, now_ms);
  } else {
    if (r.first_delivery_failure_ms == 0)
      r.first_delivery_failure_ms = now_ms;
    r.next_due_ms = now_ms + forward_backoff_ms(r.delivery_attempts);
  }
  finish_refunds(d, refunds, now_ms);
  return d;
}

// -- operator ----------------------------------------------------------------------------

order_decision order_machine::on_operator_refund_verify(const order_record& x,
                                                        const refund_list& refunds,
                                                        const std::string& out_refund_no,
                                                        int64_t now_ms) const {
  if (find_refund(refunds, out_refund_no) == nullptr) {
    auto d = refuse(x, "no refund " + out_refund_no);
    d.status = 404;
    d.code = "REFUND_NOT_FOUND";
    return d;
  }
  order_decision d;
  d.record = x;
  add_event(d, now_ms, "operator",
            json{{"action", "verify"}, {"out_refund_no", out_refund_no}});
  d.effect = order_effect::refund_query;
  d.refund_no = out_refund_no;
  return d;
}

order_decision order_machine::on_operator_refund_resolve(const order_record& x,
                                                         const refund_list& refunds,
                                                         const std::string& out_refund_no,
                                                         const std::string& note,
                                                         int64_t now_ms) const {
  auto* found = find_refund(refunds, out_refund_no);
  if (found == nullptr) {
    auto d = refuse(x, "no refund " + out_refund_no);
    d.status = 404;
    d.code = "REFUND_NOT_FOUND";
    return d;
  }
  if (!needs_a_person(*found))
    return refuse(x, std::string{"resolve is for an ABNORMAL refund not yet resolved, this one is "}
                       + to_string(found->state)
                       + (found->resolved_at_ms != 0 ? " (resolved)" : ""));
  order_decision d;
  d.record = x;
  auto& r = change(d, refunds, *found);
  r.resolved_at_ms = now_ms;
  r.resolved_note = utf8_prefix(note, max_note_bytes);
  add_event(d, now_ms, "operator",
            json{{"action", "resolve"}, {"out_refund_no", out_refund_no},
                 {"note", r.resolved_note}});
  finish_refunds(d, refunds, now_ms);
  return d;
}

// -- the timer ---------------------------------------------------------------------------

order_decision order_machine::on_timer(const order_record& x, const refund_list& refunds,
                                       int64_t now_ms) const {
  if (is_active(x.state) && x.action != next_action::none && x.next_due_ms <= now_ms)
    return on_timer(x, now_ms);
  const refund_record* due = nullptr;
  for (auto& r : refunds)
    if (needs_timer(r) && r.next_due_ms <= now_ms && (due == nullptr || r.next_due_ms < due->next_due_ms))
      due = &r;
  if (due == nullptr)
    return refuse(x, "timer with nothing due");
  order_decision d;
  d.record = x;
  d.refund_no = due->out_refund_no;
  switch (due->action) {
    case refund_action::apply:
      d.effect = order_effect::refund_apply;
      break;
    case refund_action::query:
      d.effect = order_effect::refund_query;
      break;
    case refund_action::deliver:
      d.effect = order_effect::refund_deliver;
      break;
    case refund_action::none:
      break;
  }
  return d;
}

} // namespace paycoord
