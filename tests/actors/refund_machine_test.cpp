// The refund half of the order machine (CONTRACTS.md §10), as pure
// functions: every test feeds inputs to an order and its refunds and checks
// the durable result the actor would write.

#include <gtest/gtest.h>

#include "actors/order_machine.hpp"
#include "tests/actors/actor_fixture.hpp"

using namespace paycoord;
using namespace paycoord::testing;
using namespace std::chrono_literals;

namespace {

constexpr int64_t t0 = test_t0;
constexpr int64_t minute = 60'000;

/// An order and its refunds, as the actor holds them after each sync.
struct aggregate {
  order_machine machine = refund_test_machine();
  order_record order;
  refund_list refunds;

  static order_machine refund_test_machine() {
    auto s = test_schedule();
    s.refund_verify = {1min, 5min, 10min};
    s.refund_verify_every = 30min;
    return order_machine{order_rules{"1900000001", "wx8888888888888888", s},
                         [] { return 0.5; }};
  }

  explicit aggregate(order_state state = order_state::confirmed, int64_t total = 100) {
    order = machine.create(new_order("A1", total), t0).record;
    if (state != order_state::pending) {
      auto paid_order = machine.on_query(order, paid("A1", total), t0 + 1000).record;
      order = paid_order;
      if (state == order_state::confirmed)
        order = machine.on_forward(order, forward_result{true, 200, "", 3}, t0 + 2000).record;
      else if (state != order_state::paid)
        order.state = state;
    }
  }

  /// Applies a decision as the actor does after its sync.
  order_decision take(order_decision d) {
    if (!d.legal || !d.persist)
      return d;
    order = d.record;
    for (auto& r : d.refunds) {
      bool replaced = false;
      for (auto& y : refunds)
        if (y.out_refund_no == r.out_refund_no) {
          y = r;
          replaced = true;
        }
      if (!replaced)
        refunds.push_back(r);
    }
    return d;
  }

  const refund_record& refund(const std::string& no) const {
    auto* r = find_refund(refunds, no);
    EXPECT_NE(r, nullptr) << no;
    return *r;
  }

  order_decision request(const std::string& no, int64_t amount, int64_t now = t0 + minute) {
    create_refund req;
    req.out_trade_no = "A1";
    req.out_refund_no = no;
    req.amount_refund = amount;
    return take(machine.request_refund(order, refunds, req, now));
  }

  order_decision applied(const std::string& no, const refund_result& r, int64_t now) {
    return take(machine.on_refund_apply(order, refunds, no, r, now));
  }

  order_decision queried(const std::string& no, const refund_result& r, int64_t now) {
    return take(machine.on_refund_query(order, refunds, no, r, now));
  }

  order_decision delivered(const std::string& no, bool acked, int64_t now) {
    auto event = refund(no).undelivered.empty() ? std::string{} : refund(no).undelivered.front();
    return take(machine.on_refund_delivered(order, refunds, no, event,
                                            forward_result{acked, acked ? 200 : 503, "", 2}, now));
  }
};

refund_result wechat_says(const std::string& no, const std::string& status, int64_t refund = 40) {
  return refund_object("A1", no, refund, status);
}

refund_result no_answer() {
  refund_result r;
  r.outcome = refund_outcome::retry_later;
  r.status = 500;
  r.code = "SYSTEM_ERROR";
  r.error = "HTTP 500 SYSTEM_ERROR: 系统繁忙";
  return r;
}

refund_result refused(const std::string& code = "NOT_ENOUGH") {
  refund_result r;
  r.outcome = refund_outcome::refused;
  r.status = 403;
  r.code = code;
  r.error = "HTTP 403 " + code;
  return r;
}

refund_result not_found() {
  refund_result r;
  r.outcome = refund_outcome::not_found;
  r.status = 404;
  r.code = "RESOURCE_NOT_EXISTS";
  return r;
}

verified_notification refund_notification(const std::string& no, const std::string& status,
                                          int64_t refund = 40, std::string id = "EV-R1") {
  verified_notification n;
  n.notification_id = std::move(id);
  n.event_type = "REFUND." + status;
  n.is_refund = true;
  n.fact.out_trade_no = "A1";
  n.refund = wechat_says(no, status, refund).fact;
  n.plaintext = R"({"out_refund_no":")" + no + R"("})";
  return n;
}

// -- the merchant's request --------------------------------------------------------

TEST(refund_machine, a_request_is_synced_as_requested_with_its_apply_due_now) {
  aggregate a;
  auto d = a.request("R000001", 40, t0 + minute);
  ASSERT_TRUE(d.legal);
  EXPECT_TRUE(d.persist);
  EXPECT_EQ(d.effect, order_effect::refund_apply);
  EXPECT_EQ(d.refund_no, "R000001");
  auto& r = a.refund("R000001");
  EXPECT_EQ(r.state, refund_state::requested);
  EXPECT_EQ(r.action, refund_action::apply);
  EXPECT_EQ(r.amount_refund, 40);
  EXPECT_EQ(r.amount_total, 100);
  // The order's one timer covers the refund's deadline, whatever its state.
  EXPECT_EQ(a.order.state, order_state::confirmed);
  EXPECT_EQ(a.order.refund_due_ms, t0 + minute);
  EXPECT_EQ(facts_of(a.order).timer_due_ms, t0 + minute);
  EXPECT_EQ(d.events.back().kind, "refund_requested");
}

TEST(refund_machine, only_a_paid_or_confirmed_order_is_refunded) {
  for (auto state : {order_state::pending, order_state::closed, order_state::anomaly}) {
    aggregate a{state};
    auto d = a.request("R000001", 40);
    EXPECT_FALSE(d.legal) << to_string(state);
    EXPECT_EQ(d.code, "ORDER_NOT_PAID");
    EXPECT_EQ(d.status, 409u);
    EXPECT_TRUE(a.refunds.empty());
  }
  aggregate paid_order{order_state::paid};
  EXPECT_TRUE(paid_order.request("R000001", 40).legal);
}

TEST(refund_machine, the_same_request_again_is_the_same_refund_and_a_different_one_conflicts) {
  aggregate a;
  a.request("R000001", 40);
  auto again = a.request("R000001", 40);
  EXPECT_TRUE(again.legal);
  EXPECT_FALSE(again.persist);
  EXPECT_EQ(again.refund_no, "R000001");
  auto other = a.request("R000001", 41);
  EXPECT_FALSE(other.legal);
  EXPECT_EQ(other.code, "REFUND_CONFLICT");
  EXPECT_EQ(a.refunds.size(), 1u);
}

TEST(refund_machine, partial_refunds_never_sum_past_the_total_but_a_closed_one_frees_its_amount) {
  aggregate a;
  EXPECT_TRUE(a.request("R000001", 60).legal);
  EXPECT_TRUE(a.request("R000002", 40).legal);
  auto over = a.request("R000003", 1);
  EXPECT_FALSE(over.legal);
  EXPECT_EQ(over.code, "REFUND_EXCEEDS_PAID");
  // WeChat refuses the first outright: it ends CLOSED and its 60 are free.
  a.applied("R000001", refused(), t0 + 2 * minute);
  ASSERT_EQ(a.refund("R000001").state, refund_state::closed);
  EXPECT_TRUE(a.request("R000003", 60).legal);
  EXPECT_FALSE(a.request("R000004", 1).legal);
}

TEST(refund_machine, an_order_takes_at_most_fifty_refunds) {
  aggregate a{order_state::confirmed, 1000};
  for (int i = 0; i < 50; ++i)
    ASSERT_TRUE(a.request("R" + std::to_string(100000 + i), 1).legal) << i;
  auto d = a.request("R200000", 1);
  EXPECT_FALSE(d.legal);
  EXPECT_EQ(d.code, "TOO_MANY_REFUNDS");
}

// -- the apply ------------------------------------------------------------------------

TEST(refund_machine, an_apply_without_an_answer_is_retried_with_backoff_and_kept_requested) {
  aggregate a;
  a.request("R000001", 40, t0);
  a.applied("R000001", no_answer(), t0 + 1000);
  auto r = a.refund("R000001");
  EXPECT_EQ(r.state, refund_state::requested);
  EXPECT_EQ(r.action, refund_action::apply);
  EXPECT_EQ(r.failures, 1u);
  EXPECT_EQ(r.apply_attempts, 1u);
  EXPECT_GT(r.next_due_ms, t0 + 1000);
  EXPECT_EQ(r.last_error_code, "SYSTEM_ERROR");
  EXPECT_EQ(a.order.refund_due_ms, r.next_due_ms);
  // The timer applies again (same out_refund_no).
  auto fire = a.machine.on_timer(a.order, a.refunds, r.next_due_ms);
  EXPECT_EQ(fire.effect, order_effect::refund_apply);
  EXPECT_EQ(fire.refund_no, "R000001");
  // A second failure backs off further.
  a.applied("R000001", no_answer(), r.next_due_ms);
  auto later = a.refund("R000001");
  EXPECT_GT(later.next_due_ms - r.next_due_ms, r.next_due_ms - (t0 + 1000));
  // Accepted at last: PROCESSING, the error gone, the first query a minute on.
  a.applied("R000001", wechat_says("R000001", "PROCESSING"), later.next_due_ms);
  auto ok = a.refund("R000001");
  EXPECT_EQ(ok.state, refund_state::processing);
  EXPECT_EQ(ok.refund_id, "5030R000001");
  EXPECT_TRUE(ok.last_error_code.empty());
  EXPECT_EQ(ok.action, refund_action::query);
  EXPECT_EQ(ok.accepted_at_ms, later.next_due_ms);
  EXPECT_EQ(ok.next_due_ms, ok.accepted_at_ms + minute);
  EXPECT_EQ(ok.apply_attempts, 3u);
}

TEST(refund_machine, a_refusal_of_the_first_apply_closes_the_refund_and_delivers_it) {
  aggregate a;
  a.request("R000001", 40, t0);
  a.applied("R000001", refused("NOT_ENOUGH"), t0 + 1000);
  auto r = a.refund("R000001");
  EXPECT_EQ(r.state, refund_state::closed);
  EXPECT_EQ(r.last_error_code, "NOT_ENOUGH");
  ASSERT_EQ(r.undelivered, std::vector<std::string>{"refund.closed"});
  EXPECT_EQ(r.action, refund_action::deliver);
  a.delivered("R000001", true, t0 + 2000);
  EXPECT_EQ(a.refund("R000001").action, refund_action::none);
  EXPECT_EQ(a.order.refund_due_ms, 0);
  EXPECT_FALSE(facts_of(a.order).has_timer());
}

TEST(refund_machine, a_refusal_after_an_unanswered_apply_asks_wechat_before_believing_it) {
  aggregate a;
  a.request("R000001", 40, t0);
  a.applied("R000001", no_answer(), t0 + 1000); // WeChat may have taken it
  a.applied("R000001", refused("INVALID_REQUEST"), t0 + 20'000);
  auto r = a.refund("R000001");
  EXPECT_EQ(r.state, refund_state::requested);
  EXPECT_EQ(r.action, refund_action::query);
  EXPECT_EQ(r.next_due_ms, t0 + 20'000);
  // It had taken it: the query's answer is adopted.
  a.queried("R000001", wechat_says("R000001", "PROCESSING"), t0 + 21'000);
  EXPECT_EQ(a.refund("R000001").state, refund_state::processing);
}

TEST(refund_machine, a_query_that_finds_nothing_applies_again_and_then_a_refusal_closes_it) {
  aggregate a;
  a.request("R000001", 40, t0);
  a.applied("R000001", no_answer(), t0 + 1000);
  a.applied("R000001", refused(), t0 + 20'000);
  a.queried("R000001", not_found(), t0 + 21'000);
  auto r = a.refund("R000001");
  EXPECT_EQ(r.state, refund_state::requested);
  EXPECT_EQ(r.action, refund_action::apply);
  EXPECT_EQ(r.failures, 0u);
  a.applied("R000001", refused(), t0 + 22'000);
  EXPECT_EQ(a.refund("R000001").state, refund_state::closed);
}

// -- how a refund ends ---------------------------------------------------------------

TEST(refund_machine, a_lost_notification_is_found_by_the_scheduled_query) {
  aggregate a;
  a.request("R000001", 40, t0);
  a.applied("R000001", wechat_says("R000001", "PROCESSING"), t0);
  // No notification comes. The timer fires at the first step.
  auto fire = a.machine.on_timer(a.order, a.refunds, t0 + minute);
  ASSERT_TRUE(fire.legal);
  EXPECT_EQ(fire.effect, order_effect::refund_query);
  a.queried("R000001", wechat_says("R000001", "PROCESSING"), t0 + minute);
  EXPECT_EQ(a.refund("R000001").next_due_ms, t0 + 5 * minute);
  a.queried("R000001", wechat_says("R000001", "SUCCESS"), t0 + 5 * minute);
  auto r = a.refund("R000001");
  EXPECT_EQ(r.state, refund_state::success);
  EXPECT_EQ(r.succeeded_at_ms, wechat_says("R000001", "SUCCESS").fact.success_time_ms);
  EXPECT_EQ(r.undelivered, std::vector<std::string>{"refund.succeeded"});
  EXPECT_EQ(r.action, refund_action::deliver);
  EXPECT_EQ(a.order.refund_due_ms, t0 + 5 * minute);
}

TEST(refund_machine, past_its_steps_a_processing_refund_is_queried_every_refund_verify_every) {
  aggregate a;
  a.request("R000001", 40, t0);
  a.applied("R000001", wechat_says("R000001", "PROCESSING"), t0);
  // A late answer covers every step already due.
  a.queried("R000001", wechat_says("R000001", "PROCESSING"), t0 + 11 * minute);
  EXPECT_EQ(a.refund("R000001").next_due_ms, t0 + 41 * minute);
}

TEST(refund_machine, a_verified_notification_ends_it_and_a_redelivery_queues_nothing_new) {
  aggregate a;
  a.request("R000001", 40, t0);
  a.applied("R000001", wechat_says("R000001", "PROCESSING"), t0);
  auto d = a.take(
    a.machine.on_refund_notify(a.order, a.refunds, refund_notification("R000001", "SUCCESS"), t0 + 1000));
  EXPECT_TRUE(d.persist);
  EXPECT_EQ(a.refund("R000001").state, refund_state::success);
  a.take(a.machine.on_refund_notify(a.order, a.refunds,
                                    refund_notification("R000001", "SUCCESS", 40, "EV-R2"),
                                    t0 + 2000));
  EXPECT_EQ(a.refund("R000001").undelivered.size(), 1u);
  // A contradiction after the end changes nothing but the timeline.
  auto closed = a.take(a.machine.on_refund_notify(
    a.order, a.refunds, refund_notification("R000001", "CLOSED", 40, "EV-R3"), t0 + 3000));
  EXPECT_EQ(a.refund("R000001").state, refund_state::success);
  EXPECT_EQ(closed.events.back().kind, "refund_contradiction");
}

TEST(refund_machine, every_final_state_is_delivered_until_acked_oldest_first) {
  aggregate a;
  a.request("R000001", 40, t0);
  a.applied("R000001", wechat_says("R000001", "ABNORMAL"), t0);
  a.delivered("R000001", false, t0 + 1000); // the business server is down
  auto r = a.refund("R000001");
  EXPECT_EQ(r.action, refund_action::deliver);
  EXPECT_GT(r.next_due_ms, t0 + 1000);
  EXPECT_EQ(r.first_delivery_failure_ms, t0 + 1000);
  // Meanwhile a person fixed it at WeChat: SUCCESS waits behind ABNORMAL.
  a.take(a.machine.on_refund_notify(a.order, a.refunds, refund_notification("R000001", "SUCCESS"),
                                    t0 + 2000));
  EXPECT_EQ(a.refund("R000001").undelivered,
            (std::vector<std::string>{"refund.abnormal", "refund.succeeded"}));
  EXPECT_EQ(a.refund("R000001").next_due_ms, r.next_due_ms); // its backoff stands
  a.delivered("R000001", true, t0 + 10'000);
  EXPECT_EQ(a.refund("R000001").undelivered, std::vector<std::string>{"refund.succeeded"});
  EXPECT_EQ(a.refund("R000001").next_due_ms, t0 + 10'000);
  a.delivered("R000001", true, t0 + 11'000);
  EXPECT_EQ(a.refund("R000001").action, refund_action::none);
  EXPECT_EQ(a.order.refund_due_ms, 0);
}

TEST(refund_machine, an_abnormal_refund_waits_for_a_person_and_is_still_queried) {
  aggregate a;
  a.request("R000001", 40, t0);
  a.applied("R000001", wechat_says("R000001", "ABNORMAL"), t0);
  EXPECT_TRUE(needs_a_person(a.refund("R000001")));
  a.delivered("R000001", true, t0 + 1000);
  auto r = a.refund("R000001");
  EXPECT_EQ(r.action, refund_action::query);
  EXPECT_EQ(r.next_due_ms, t0 + 1000 + 30 * minute);
  // Resolved by a person: out of the count, still queried.
  auto resolved = a.take(a.machine.on_operator_refund_resolve(a.order, a.refunds, "R000001",
                                                              "sent to the bank", t0 + 2000));
  ASSERT_TRUE(resolved.legal);
  EXPECT_FALSE(needs_a_person(a.refund("R000001")));
  EXPECT_EQ(a.refund("R000001").action, refund_action::query);
  EXPECT_FALSE(a.machine
                 .on_operator_refund_resolve(a.order, a.refunds, "R000001", "again", t0 + 3000)
                 .legal);
  auto missing = a.machine.on_operator_refund_resolve(a.order, a.refunds, "R999999", "x", t0);
  EXPECT_EQ(missing.code, "REFUND_NOT_FOUND");
}

TEST(refund_machine, a_fact_for_another_amount_parks_the_refund_as_abnormal) {
  aggregate a;
  a.request("R000001", 40, t0);
  a.applied("R000001", wechat_says("R000001", "SUCCESS", 90), t0);
  auto r = a.refund("R000001");
  EXPECT_EQ(r.state, refund_state::abnormal);
  EXPECT_EQ(r.last_error_code, "AMOUNT_MISMATCH");
  EXPECT_EQ(r.undelivered, std::vector<std::string>{"refund.abnormal"});
}

TEST(refund_machine, a_refund_paycoord_never_asked_for_is_an_orphan_event_that_blocks_nothing) {
  aggregate a;
  auto d = a.take(a.machine.on_refund_notify(a.order, a.refunds,
                                             refund_notification("RX00001", "SUCCESS"), t0));
  EXPECT_TRUE(d.persist);
  EXPECT_TRUE(d.refunds.empty());
  EXPECT_EQ(d.events.back().kind, "refund_orphan");
  EXPECT_EQ(a.order.state, order_state::confirmed);
  EXPECT_FALSE(facts_of(a.order).has_timer());
  EXPECT_TRUE(a.request("R000001", 100).legal);
}

TEST(refund_machine, a_payment_query_that_says_refund_is_normal_for_a_paid_order) {
  aggregate a;
  auto refund_query = trade("REFUND");
  refund_query.fact.out_trade_no = "A1";
  auto d = a.machine.on_query(a.order, refund_query, t0 + minute);
  EXPECT_TRUE(d.legal);
  EXPECT_FALSE(d.persist);
  EXPECT_EQ(d.record.state, order_state::confirmed);
}

// -- the one timer ---------------------------------------------------------------------

TEST(refund_machine, the_timer_serves_the_order_first_then_the_earliest_refund) {
  aggregate a{order_state::paid};
  ASSERT_EQ(a.order.action, next_action::forward);
  a.request("R000001", 30, t0 + 5000);
  a.request("R000002", 30, t0 + 4000);
  // The order's own delivery is due: it goes first.
  EXPECT_EQ(a.machine.on_timer(a.order, a.refunds, t0 + 6000).effect, order_effect::forward);
  a.take(a.machine.on_forward(a.order, forward_result{true, 200, "", 1}, t0 + 6000));
  auto fire = a.machine.on_timer(a.order, a.refunds, t0 + 6000);
  EXPECT_EQ(fire.effect, order_effect::refund_apply);
  EXPECT_EQ(fire.refund_no, "R000002");
  EXPECT_EQ(a.order.refund_due_ms, t0 + 4000);
  // Nothing due: refused (a stale fire changes nothing).
  a.applied("R000002", wechat_says("R000002", "PROCESSING", 30), t0 + 6000);
  a.applied("R000001", wechat_says("R000001", "PROCESSING", 30), t0 + 6000);
  EXPECT_FALSE(a.machine.on_timer(a.order, a.refunds, t0 + 7000).legal);
  EXPECT_EQ(a.order.refund_due_ms, t0 + 6000 + minute);
}

TEST(refund_machine, a_faulted_order_parks_its_refunds_until_the_operators_retry) {
  aggregate a;
  a.request("R000001", 40, t0);
  a.take(a.machine.fault(a.order, "crashed", t0 + 1000));
  EXPECT_EQ(a.order.state, order_state::faulted);
  EXPECT_FALSE(facts_of(a.order).has_timer());
  auto parked = a.take(a.machine.on_refund_notify(
    a.order, a.refunds, refund_notification("R000001", "SUCCESS"), t0 + 2000));
  EXPECT_EQ(parked.events.back().kind, "refund_parked");
  EXPECT_EQ(a.refund("R000001").state, refund_state::requested);
  a.take(a.machine.on_operator_retry(a.order, a.refunds, t0 + 3000));
  EXPECT_EQ(a.order.state, order_state::confirmed);
  EXPECT_EQ(a.order.refund_due_ms, t0);
  EXPECT_EQ(a.machine.on_timer(a.order, a.refunds, t0 + 3000).effect,
            order_effect::refund_apply);
}

} // namespace
