// The report's maths on synthetic rows: percentiles, resolution
// classification, the invariants, the original design's 10-minute poll, the
// refunds and their invariants.

#include "demo/reconciliation.hpp"

#include <gtest/gtest.h>

using namespace paycoord;
using namespace paycoord::demo;
using namespace std::chrono_literals;

namespace {

constexpr int64_t t0 = 1'800'000'000'000; // the run's start (unix ms)

/// A paid order: created at `created_s`, paid at `paid_s`, first delivered
/// `to_delivery_ms` later (seconds of the run).
order_outcome paid(std::string id, double created_s, double paid_s, double to_delivery_ms,
                   std::string via) {
  order_outcome o;
  o.out_trade_no = std::move(id);
  o.pays = true;
  o.created_ms = t0 + static_cast<int64_t>(created_s * 1000);
  o.paid_ms = t0 + static_cast<int64_t>(paid_s * 1000);
  o.wechat_state = "SUCCESS";
  o.paycoord_state = "CONFIRMED";
  o.paid_via = std::move(via);
  o.forward_requests = 1;
  o.deliveries = 1;
  o.first_delivery_ms = o.paid_ms + static_cast<int64_t>(to_delivery_ms);
  return o;
}

order_outcome never_paid(std::string id, double created_s) {
  order_outcome o;
  o.out_trade_no = std::move(id);
  o.created_ms = t0 + static_cast<int64_t>(created_s * 1000);
  o.wechat_state = "NOTPAY";
  o.paycoord_state = "PENDING";
  return o;
}

run_facts facts(double end_s, std::optional<double> kill_s = std::nullopt) {
  run_facts f;
  f.start_ms = t0;
  f.end_ms = t0 + static_cast<int64_t>(end_s * 1000);
  if (kill_s)
    f.kill_ms = t0 + static_cast<int64_t>(*kill_s * 1000);
  f.compression = 60;
  f.verify_real = {5s, 30s, 1min, 3min, 5min, 10min, 30min};
  return f;
}

const invariant_check& invariant(const reconciliation& r, const std::string& name) {
  for (auto& c : r.invariants)
    if (c.name == name)
      return c;
  throw std::runtime_error("no invariant " + name);
}

/// A refund of order `order` (paid 1000 fen) that went all the way:
/// accepted, SUCCESS at WeChat and at paycoord, delivered as succeeded.
refund_outcome settled_refund(std::string order, std::string no, int64_t amount) {
  refund_outcome o;
  o.out_trade_no = std::move(order);
  o.out_refund_no = std::move(no);
  o.amount = amount;
  o.order_total = 1000;
  o.order_paid = 1000;
  o.api_status = 201;
  o.api_attempts = 1;
  o.paycoord_state = "SUCCESS";
  o.at_wechat = true;
  o.wechat_status = "SUCCESS";
  o.delivered_succeeded = 1;
  return o;
}

/// The payments' side of a run with refunds: one paid order, all well.
reconciliation with_refunds(const std::vector<refund_outcome>& refunds, sim_totals sim = {}) {
  return reconcile({paid("A", 0, 1, 50, "notify")}, facts(10), sim, 0ms, refunds);
}

const std::vector<std::string> refund_invariants{
  "refunds_lost",      "refunded_over_paid",         "wrong_refund_deliveries",
  "refunds_unsettled", "refund_repeats_not_deduped", "over_refunds_not_refused"};

} // namespace

// -- percentiles ------------------------------------------------------------------

TEST(percentile, is_nearest_rank) {
  std::vector<double> v{10, 20, 30, 40, 50, 60, 70, 80, 90, 100};
  EXPECT_EQ(percentile(v, 50), 50);
  EXPECT_EQ(percentile(v, 90), 90);
  EXPECT_EQ(percentile(v, 99), 100);
  EXPECT_EQ(percentile(v, 100), 100);
  EXPECT_EQ(percentile(v, 1), 10);
  EXPECT_EQ(percentile({7}, 50), 7);
  EXPECT_EQ(percentile({}, 50), 0);
}

TEST(summarize, sorts_and_reports_mean_and_tail) {
  auto d = summarize({300, 100, 200, 1000});
  EXPECT_EQ(d.count, 4u);
  EXPECT_DOUBLE_EQ(d.mean, 400);
  EXPECT_EQ(d.p50, 200);
  EXPECT_EQ(d.p99, 1000);
  EXPECT_EQ(d.max, 1000);
  EXPECT_EQ(summarize({}).count, 0u);
}

TEST(busiest_window, finds_the_steepest_rise_within_the_window) {
  std::vector<counter_sample> s{{0, 0}, {1, 10}, {2, 50}, {3, 55}, {4, 60}};
  EXPECT_EQ(busiest_window(s, 1.0), 40);
  EXPECT_EQ(busiest_window(s, 2.0), 50);
  // One long gap between samples: the rise is spread over it.
  EXPECT_EQ(busiest_window({{0, 0}, {4, 100}}, 1.0), 25);
  EXPECT_EQ(busiest_window({}, 1.0), 0);
}

// -- classification -----------------------------------------------------------

TEST(classify, follows_paid_via_without_a_crash) {
  EXPECT_EQ(classify(paid("A", 0, 1, 50, "notify"), std::nullopt), resolution::notification);
  EXPECT_EQ(classify(paid("B", 0, 1, 900, "query"), std::nullopt), resolution::verify_query);
}

TEST(classify, paid_before_the_kill_and_delivered_after_it_is_after_restart) {
  auto kill = t0 + 10'000;
  // Paid at 9.5 s, delivered at 11 s: in flight when paycoord died.
  EXPECT_EQ(classify(paid("A", 9, 9.5, 1500, "notify"), kill), resolution::after_restart);
  // Delivered before the kill: untouched by it.
  EXPECT_EQ(classify(paid("B", 9, 9.5, 100, "notify"), kill), resolution::notification);
  // Paid after the kill: the restarted process handled a fresh payment.
  EXPECT_EQ(classify(paid("C", 9, 10.5, 100, "query"), kill), resolution::verify_query);
}

TEST(classify, an_undelivered_order_is_unresolved) {
  auto o = paid("A", 0, 1, 0, "notify");
  o.deliveries = 0;
  o.first_delivery_ms = 0;
  EXPECT_EQ(classify(o, std::nullopt), resolution::unresolved);
}

// -- the report -----------------------------------------------------------------

TEST(reconcile, counts_resolutions_and_latencies) {
  auto lost = paid("C", 2, 3, 2000, "query");
  lost.notification_lost = true;
  lost.queries = 2;
  std::vector<order_outcome> orders{paid("A", 0, 1, 40, "notify"), paid("B", 1, 2, 60, "notify"),
                                    lost, paid("D", 3, 9.5, 3000, "query"),
                                    never_paid("E", 4)};
  orders[4].queries = 5;
  auto r = reconcile(orders, facts(20, 10), {}, 0ms);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.paid_at_wechat, 4);
  EXPECT_EQ(r.confirmed_at_business, 4);
  EXPECT_EQ(r.unpaid, 1);
  EXPECT_EQ(r.by_notification, 2);
  EXPECT_EQ(r.by_verify_query, 1);
  EXPECT_EQ(r.after_restart, 1);
  EXPECT_EQ(r.latency_notification.max, 60);
  EXPECT_EQ(r.latency_all.count, 4u);
  EXPECT_EQ(r.lost_notifications, 1);
  EXPECT_EQ(r.lost_fix_ms.count, 1u);
  EXPECT_EQ(r.lost_fix_ms.max, 2000);
  EXPECT_EQ(r.queries_total, 7);
  EXPECT_DOUBLE_EQ(r.queries_per_unpaid_order, 5);
  EXPECT_EQ(r.resolved.size(), 4u);
}

TEST(reconcile, a_paid_order_never_delivered_fails_the_run) {
  auto o = paid("A", 0, 1, 0, "");
  o.deliveries = 0;
  o.first_delivery_ms = 0;
  o.paycoord_state = "PENDING";
  auto r = reconcile({o}, facts(10), {}, 0ms);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(invariant(r, "paid_equals_confirmed").value, 1);
  EXPECT_EQ(invariant(r, "lost").value, 1);
  EXPECT_EQ(r.unresolved, 1);
}

TEST(reconcile, an_unpaid_order_delivered_or_marked_paid_fails_the_run) {
  auto delivered = never_paid("A", 0);
  delivered.deliveries = 1;
  delivered.first_delivery_ms = t0 + 500;
  auto marked = never_paid("B", 0);
  marked.paycoord_state = "PAID";
  auto r = reconcile({delivered, marked}, facts(10), {}, 0ms);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(invariant(r, "unpaid_delivered").value, 1);
  EXPECT_EQ(invariant(r, "wrongly_paid").value, 1);
}

TEST(reconcile, paysim_totals_feed_the_invariants) {
  sim_totals sim;
  sim.probes_answered_2xx = 1;
  sim.mismatched_deliveries = 2;
  auto r = reconcile({paid("A", 0, 1, 50, "notify")}, facts(10), sim, 0ms);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(invariant(r, "probes_accepted").value, 1);
  EXPECT_EQ(invariant(r, "wrongly_paid").value, 2);
}

TEST(reconcile, a_lost_notification_hit_by_the_outage_is_not_a_schedule_measurement) {
  auto o = paid("A", 0, 1, 4000, "query");
  o.notification_lost = true;
  o.forward_requests = 5; // four refused while the business server was down
  auto r = reconcile({o}, facts(10), {}, 0ms);
  EXPECT_EQ(r.lost_notifications, 1);
  EXPECT_EQ(r.lost_fix_ms.count, 0u);
  EXPECT_EQ(r.forward_retried_orders, 1);
}

TEST(reconcile, to_json_carries_the_verdict_and_every_section) {
  auto j = to_json(reconcile({paid("A", 0, 1, 50, "notify"), never_paid("B", 0)}, facts(10), {},
                             0ms));
  EXPECT_TRUE(j["ok"].get<bool>());
  EXPECT_EQ(j["counts"]["paid_at_wechat"], 1);
  EXPECT_EQ(j["counts"]["lost"], 0);
  EXPECT_EQ(j["counts"]["unpaid_delivered"], 0);
  EXPECT_EQ(j["resolution"]["notification"], 1);
  EXPECT_EQ(j["original_design"]["poll_every_s"], 600);
  EXPECT_EQ(j["run"]["compression"], 60);
  EXPECT_EQ(j["orders"].size(), 1u);
}

// -- paycoord's schedule over a whole life --------------------------------------

TEST(lifetime_queries_never_paid, counts_steps_repeats_and_the_expiry_pair) {
  std::vector<duration> verify{5s, 30s, 1min, 3min, 5min, 10min, 30min};
  // 7 steps, then 60 and 90 min, then the final query and the close check.
  EXPECT_EQ(lifetime_queries_never_paid(verify, 30min, 2h), 11);
  // Steps beyond the expiry do not run.
  EXPECT_EQ(lifetime_queries_never_paid(verify, 30min, 2min), 3 + 2);
}

// -- refunds ---------------------------------------------------------------------

TEST(reconcile_refunds, every_kind_of_settled_refund_keeps_the_invariants) {
  auto full = settled_refund("A", "A-R1", 1000);
  auto part = settled_refund("B", "B-R1", 300);
  part.api_status = 202; // WeChat's apply failed first; paycoord retried it
  auto second = settled_refund("B", "B-R2", 200);
  second.api_status = 200; // the first call's answer was lost (kill -9)
  second.api_attempts = 2;
  auto closed = settled_refund("C", "C-R1", 400);
  closed.paycoord_state = closed.wechat_status = "CLOSED";
  closed.delivered_succeeded = 0;
  closed.delivered_closed = 1;
  auto parked = settled_refund("D", "D-R1", 500);
  parked.paycoord_state = parked.wechat_status = "ABNORMAL";
  parked.delivered_succeeded = 0;
  parked.delivered_abnormal = 1;
  auto fixed = settled_refund("E", "E-R1", 1000);
  fixed.fixed = true;
  fixed.delivered_abnormal = 1; // refund.abnormal first, then refund.succeeded
  refund_outcome repeat = full;
  repeat.kind = refund_request_kind::repeat;
  repeat.api_status = 200;
  refund_outcome over;
  over.kind = refund_request_kind::over_refund;
  over.out_trade_no = "B";
  over.out_refund_no = "B-RX";
  over.amount = 501;
  over.api_status = 409;
  over.api_code = "REFUND_EXCEEDS_PAID";
  sim_totals sim;
  sim.refunds.requested = 6;
  sim.refunds.applies = 8;

  auto r = with_refunds({full, part, second, closed, parked, fixed, repeat, over}, sim);
  EXPECT_TRUE(r.ok()) << to_json(r)["invariants"].dump(2);
  for (auto& name : refund_invariants)
    EXPECT_EQ(invariant(r, name).value, 0) << name;
  const auto& f = r.refunds;
  EXPECT_EQ(f.customers, 5);
  EXPECT_EQ(f.requested, 6);
  EXPECT_EQ(f.partial, 4);
  EXPECT_EQ(f.two_step_customers, 1);
  EXPECT_EQ(f.answered_accepted, 4);
  EXPECT_EQ(f.answered_requested, 1);
  EXPECT_EQ(f.answered_again, 1);
  EXPECT_EQ(f.succeeded_at_wechat, 4);
  EXPECT_EQ(f.refunded_fen, 1000 + 300 + 200 + 1000);
  EXPECT_EQ(f.delivered_succeeded, 4);
  EXPECT_EQ(f.closed_at_wechat, 1);
  EXPECT_EQ(f.abnormal_parked, 1);
  EXPECT_EQ(f.parked_delivered, 1);
  EXPECT_EQ(f.delivered_abnormal, 2) << "the fixed one was ABNORMAL first";
  EXPECT_EQ(f.abnormal_fixed, 1);
  EXPECT_EQ(f.repeats, 1);
  EXPECT_EQ(f.over_refunds, 1);
  EXPECT_EQ(f.apply_retries, 2);
}

TEST(reconcile_refunds, a_refund_succeeded_at_wechat_and_never_delivered_is_lost) {
  auto o = settled_refund("A", "A-R1", 400);
  o.delivered_succeeded = 0;
  auto r = with_refunds({o});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(invariant(r, "refunds_lost").value, 1);
  EXPECT_EQ(invariant(r, "refunds_unsettled").value, 1);
  EXPECT_EQ(to_json(r)["refunds"]["lost"], 1);
}

TEST(reconcile_refunds, paysim_totals_are_the_floor_of_the_refund_invariants) {
  sim_totals sim;
  sim.refunds.lost = 2;
  sim.refunds.refunded_over_paid = 1;
  sim.refunds.wrong_deliveries = 3;
  auto r = with_refunds({settled_refund("A", "A-R1", 400)}, sim);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(invariant(r, "refunds_lost").value, 2);
  EXPECT_EQ(invariant(r, "refunded_over_paid").value, 1);
  EXPECT_EQ(invariant(r, "wrong_refund_deliveries").value, 3);
}

TEST(reconcile_refunds, refunds_adding_up_to_more_than_was_paid_fail_the_run) {
  auto a = settled_refund("A", "A-R1", 600);
  auto b = settled_refund("A", "A-R2", 500);
  auto r = with_refunds({a, b});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(invariant(r, "refunded_over_paid").value, 1);
  // A CLOSED one moved no money.
  b.paycoord_state = b.wechat_status = "CLOSED";
  b.delivered_succeeded = 0;
  b.delivered_closed = 1;
  EXPECT_TRUE(with_refunds({a, b}).ok());
}

TEST(reconcile_refunds, a_refund_not_settled_as_wechat_says_fails_the_run) {
  // paycoord never noticed the fix a person made at WeChat.
  auto unnoticed = settled_refund("A", "A-R1", 400);
  unnoticed.fixed = true;
  unnoticed.paycoord_state = "ABNORMAL";
  unnoticed.delivered_succeeded = 0;
  unnoticed.delivered_abnormal = 1;
  // Still PROCESSING at paycoord.
  auto processing = settled_refund("B", "B-R1", 400);
  processing.paycoord_state = "PROCESSING";
  // Never answered (paycoord down the whole time).
  auto unanswered = settled_refund("C", "C-R1", 400);
  unanswered.api_status = 0;
  unanswered.at_wechat = false;
  unanswered.paycoord_state.clear();
  unanswered.delivered_succeeded = 0;
  // CLOSED, and its callback never came.
  auto closed = settled_refund("D", "D-R1", 400);
  closed.paycoord_state = closed.wechat_status = "CLOSED";
  closed.delivered_succeeded = 0;
  auto r = with_refunds({unnoticed, processing, unanswered, closed});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(invariant(r, "refunds_unsettled").value, 4);
  EXPECT_EQ(invariant(r, "refunds_lost").value, 1) << "the unnoticed fix";
  EXPECT_EQ(r.refunds.unanswered, 1);
}

TEST(reconcile_refunds, a_repeat_not_deduped_or_an_over_refund_taken_fails_the_run) {
  auto first = settled_refund("A", "A-R1", 400);
  auto repeat = first;
  repeat.kind = refund_request_kind::repeat;
  repeat.api_status = 201; // a second refund instead of the same one
  auto over = settled_refund("A", "A-RX", 601);
  over.kind = refund_request_kind::over_refund;
  over.api_status = 201;
  auto r = with_refunds({first, repeat, over});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(invariant(r, "refund_repeats_not_deduped").value, 1);
  EXPECT_EQ(invariant(r, "over_refunds_not_refused").value, 1);
  EXPECT_EQ(invariant(r, "refunded_over_paid").value, 1) << "WeChat refunded 1001 of 1000";
  // The same refund answered 200 is the rule; another 409 code is not.
  repeat.api_status = 200;
  over.api_status = 409;
  over.api_code = "TOO_MANY_REFUNDS";
  over.at_wechat = false;
  r = with_refunds({first, repeat, over});
  EXPECT_EQ(invariant(r, "refund_repeats_not_deduped").value, 0);
  EXPECT_EQ(invariant(r, "over_refunds_not_refused").value, 1);
}

TEST(reconcile_refunds, a_run_without_refunds_keeps_them_at_zero) {
  auto r = with_refunds({});
  EXPECT_TRUE(r.ok());
  for (auto& name : refund_invariants)
    EXPECT_EQ(invariant(r, name).value, 0) << name;
  auto j = to_json(r);
  EXPECT_EQ(j["refunds"]["requested"], 0);
  EXPECT_TRUE(j["refunds"]["list"].empty());
}

TEST(parse_sim_totals, reads_the_refund_totals) {
  auto totals = nlohmann::json::parse(R"({
    "refunds_requested": 7, "refunds_succeeded": 5, "refunds_lost": 1,
    "refund_notifications_dropped": 2, "wrong_refund_deliveries": 0, "refunded_over_paid": 0,
    "notifications": {"dropped": 10},
    "wechat": {"refund_applies": 9, "refund_apply_errors": 1, "refund_answers_lost": 1,
               "refund_applies_refused": 0, "refund_queries": 12}})");
  auto s = parse_sim_totals(totals);
  EXPECT_EQ(s.refunds.requested, 7);
  EXPECT_EQ(s.refunds.succeeded, 5);
  EXPECT_EQ(s.refunds.lost, 1);
  EXPECT_EQ(s.refunds.applies, 9);
  EXPECT_EQ(s.refunds.queries, 12);
  EXPECT_EQ(payment_notifications_lost(s), 8) << "paysim's dropped counts refunds too";
}
