#include "demo/refund_reconciliation.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "demo/json_call.hpp"
#include "demo/refund_log.hpp"

namespace paycoord::demo {

namespace {

using json = nlohmann::json;

int64_t top_int(const json& j, const char* key) {
  auto v = j.find(key);
  return v != j.end() && v->is_number_integer() ? v->get<int64_t>() : 0;
}

int64_t delivered_for_state(const refund_outcome& o, const std::string& state) {
  if (state == "SUCCESS")
    return o.delivered_succeeded;
  if (state == "CLOSED")
    return o.delivered_closed;
  if (state == "ABNORMAL")
    return o.delivered_abnormal;
  return 0;
}

/// A refund asked for is settled when paycoord took it, holds it in a
/// state it stays in (or waits in for a person), WeChat agrees, and the
/// business server has that state's callback. One WeChat refused outright
/// (502 REFUND_REFUSED) is not: the demo never asks for anything WeChat
/// should refuse, and paysim keeps no entry to check its callback against.
bool settled(const refund_outcome& o) {
  if (o.api_status != 201 && o.api_status != 202 && o.api_status != 200)
    return false;
  const auto& s = o.paycoord_state;
  if (s != "SUCCESS" && s != "CLOSED" && s != "ABNORMAL")
    return false;
  if (!o.at_wechat || o.wechat_status != s)
    return false;
  return delivered_for_state(o, s) > 0;
}

json outcome_json(const refund_outcome& o) {
  return {{"kind", to_string(o.kind)},
          {"out_trade_no", o.out_trade_no},
          {"out_refund_no", o.out_refund_no},
          {"amount", o.amount},
          {"order_total", o.order_total},
          {"api_status", o.api_status},
          {"api_code", o.api_code},
          {"api_attempts", o.api_attempts},
          {"paycoord_state", o.paycoord_state},
          {"wechat_status", o.at_wechat ? json(o.wechat_status) : json(nullptr)},
          {"delivered", {{"succeeded", o.delivered_succeeded},
                         {"closed", o.delivered_closed},
                         {"abnormal", o.delivered_abnormal},
                         {"wrong", o.wrong_deliveries}}},
          {"fixed_at_wechat", o.fixed}};
}

} // namespace

sim_refund_totals parse_sim_refund_totals(const json& t) {
  sim_refund_totals s;
  if (!t.is_object())
    return s;
  s.requested = top_int(t, "refunds_requested");
  s.succeeded = top_int(t, "refunds_succeeded");
  s.closed = top_int(t, "refunds_closed");
  s.abnormal = top_int(t, "refunds_abnormal");
  s.processing = top_int(t, "refunds_processing");
  s.notifications_dropped = top_int(t, "refund_notifications_dropped");
  s.deliveries_succeeded = top_int(t, "refund_deliveries_succeeded");
  s.deliveries_closed = top_int(t, "refund_deliveries_closed");
  s.deliveries_abnormal = top_int(t, "refund_deliveries_abnormal");
  s.delivery_duplicates = top_int(t, "refund_delivery_duplicates");
  s.wrong_deliveries = top_int(t, "wrong_refund_deliveries");
  s.refunded_over_paid = top_int(t, "refunded_over_paid");
  s.lost = top_int(t, "refunds_lost");
  s.applies = json_int(t, "wechat", "refund_applies");
  s.apply_errors = json_int(t, "wechat", "refund_apply_errors");
  s.answers_lost = json_int(t, "wechat", "refund_answers_lost");
  s.applies_refused = json_int(t, "wechat", "refund_applies_refused");
  s.queries = json_int(t, "wechat", "refund_queries");
  return s;
}

refund_reconciliation reconcile_refunds(const std::vector<refund_outcome>& refunds,
                                        const sim_refund_totals& sim) {
  refund_reconciliation r;
  r.sim = sim;
  r.outcomes = refunds;
  std::set<std::string> customers;
  std::map<std::string, int> steps_of;
  // WeChat's SUCCESS refunds per order, against what was paid.
  std::map<std::string, std::pair<int64_t, int64_t>> refunded_of; // order -> (refunded, paid)
  std::set<std::string> seen_at_wechat;
  for (auto& o : refunds) {
    customers.insert(o.out_trade_no);
    // WeChat's facts, whatever the request was meant to be (an over-refund
    // paycoord wrongly let through counts here too).
    if (o.at_wechat && seen_at_wechat.insert(o.out_refund_no).second) {
      r.wrong_deliveries += o.wrong_deliveries;
      if (o.wechat_status == "SUCCESS") {
        auto& [refunded, paid] = refunded_of[o.out_trade_no];
        refunded += o.amount;
        paid = o.order_paid;
        r.refunded_fen += o.amount;
        r.lost += o.delivered_succeeded == 0;
      }
    }
    switch (o.kind) {
      case refund_request_kind::repeat:
        ++r.repeats;
        r.repeats_not_deduped += o.api_status != 200 || !o.api_code.empty();
        continue;
      case refund_request_kind::over_refund:
        ++r.over_refunds;
        r.over_refunds_not_refused += o.api_status != 409 || o.api_code != "REFUND_EXCEEDS_PAID";
        continue;
      case refund_request_kind::refund:
        break;
    }
    ++r.requested;
    ++steps_of[o.out_trade_no];
    r.partial += o.amount < o.order_total;
    switch (o.api_status) {
      case 201:
        ++r.answered_accepted;
        break;
      case 202:
        ++r.answered_requested;
        break;
      case 200:
        ++r.answered_again;
        break;
      case 0:
        ++r.unanswered;
        break;
      default:
        ++r.answered_refused;
    }
    r.held_by_paycoord += refund_held(o.api_status);
    if (o.at_wechat) {
      r.succeeded_at_wechat += o.wechat_status == "SUCCESS";
      r.closed_at_wechat += o.wechat_status == "CLOSED";
      r.abnormal_parked += o.wechat_status == "ABNORMAL";
      r.parked_delivered += o.wechat_status == "ABNORMAL" && o.delivered_abnormal > 0;
    }
    r.abnormal_fixed += o.fixed;
    r.delivered_succeeded += o.delivered_succeeded > 0;
    r.delivered_closed += o.delivered_closed > 0;
    r.delivered_abnormal += o.delivered_abnormal > 0;
    r.unsettled += !settled(o);
  }
  r.customers = static_cast<int64_t>(customers.size());
  for (auto& entry : steps_of)
    r.two_step_customers += entry.second > 1;
  for (auto& entry : refunded_of)
    r.over_paid += entry.second.first > entry.second.second;
  // paysim sees every refund of every order, including any the demo never
  // asked for: its totals are the floor.
  r.lost = std::max(r.lost, sim.lost);
  r.over_paid = std::max(r.over_paid, sim.refunded_over_paid);
  r.wrong_deliveries = std::max(r.wrong_deliveries, sim.wrong_deliveries);
  r.apply_retries = std::max<int64_t>(0, sim.applies - sim.requested - sim.applies_refused);
  return r;
}

json to_json(const refund_reconciliation& r) {
  json outcomes = json::array();
  for (auto& o : r.outcomes)
    outcomes.push_back(outcome_json(o));
  const auto& s = r.sim;
  return {
    {"customers", r.customers},
    {"requested", r.requested},
    {"partial", r.partial},
    {"two_step_customers", r.two_step_customers},
    {"answers",
     {{"accepted_201", r.answered_accepted},
      {"requested_202", r.answered_requested},
      {"again_200", r.answered_again},
      {"refused", r.answered_refused},
      {"unanswered", r.unanswered}}},
    {"held_by_paycoord", r.held_by_paycoord},
    {"requested_at_wechat", s.requested},
    {"succeeded_at_wechat", r.succeeded_at_wechat},
    {"refunded_fen", r.refunded_fen},
    {"closed_at_wechat", r.closed_at_wechat},
    {"abnormal_fixed", r.abnormal_fixed},
    {"abnormal_parked", r.abnormal_parked},
    {"abnormal_parked_delivered", r.parked_delivered},
    {"delivered",
     {{"succeeded", r.delivered_succeeded},
      {"closed", r.delivered_closed},
      {"abnormal", r.delivered_abnormal},
      {"duplicates", s.delivery_duplicates}}},
    {"lost", r.lost},
    {"refunded_over_paid", r.over_paid},
    {"wrong_deliveries", r.wrong_deliveries},
    {"unsettled", r.unsettled},
    {"repeats", r.repeats},
    {"repeats_not_deduped", r.repeats_not_deduped},
    {"over_refunds", r.over_refunds},
    {"over_refunds_not_refused", r.over_refunds_not_refused},
    {"wechat",
     {{"apply_calls", s.applies},
      {"apply_retries", r.apply_retries},
      {"apply_errors", s.apply_errors},
      {"apply_answers_lost", s.answers_lost},
      {"applies_refused", s.applies_refused},
      {"queries", s.queries},
      {"notifications_lost", s.notifications_dropped}}},
    {"list", outcomes},
  };
}

} // namespace paycoord::demo
