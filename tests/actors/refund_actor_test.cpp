// Refunds through the real actors (registry, order actor, store over
// LevelDB, timers) with a scripted WeChat and business server: the
// lifecycle, lost refund notifications found by the query, apply retries
// after WeChat errors, partial and over-refunds, and a crash between the
// REQUESTED sync and the apply.

#include <gtest/gtest.h>

#include "tests/actors/actor_fixture.hpp"

using namespace paycoord;
using namespace paycoord::testing;
using namespace std::chrono_literals;

namespace {

class refund_actor_test : public actor_fixture {
protected:
  void SetUp() override {
    start_registry();
  }

  /// A CONFIRMED order of 100 fen.
  void confirmed(const std::string& id) {
    ASSERT_EQ(ask(create_atom_v, new_order(id)).status, 201u);
    ASSERT_EQ(ask(notify_atom_v, payment_notification(id, 100, "EV-" + id)).status, 204u);
    run();
    ASSERT_EQ(stored(id)->state, order_state::confirmed);
  }

  order_outcome refund(const std::string& id, const std::string& no, int64_t amount) {
    create_refund req;
    req.out_trade_no = id;
    req.out_refund_no = no;
    req.amount_refund = amount;
    req.reason = "退货";
    return ask(refund_atom_v, req);
  }

  std::optional<refund_record> stored_refund(const std::string& id, const std::string& no) {
    auto all = db->refunds(id);
    EXPECT_TRUE(all);
    if (!all)
      return std::nullopt;
    auto* r = find_refund(*all, no);
    return r ? std::optional<refund_record>{*r} : std::nullopt;
  }

  verified_notification refund_notice(const std::string& id, const std::string& no,
                                      const std::string& status, int64_t amount) {
    verified_notification n;
    n.notification_id = "EV-" + no + "-" + status;
    n.event_type = "REFUND." + status;
    n.is_refund = true;
    n.fact.out_trade_no = id;
    n.refund = refund_object(id, no, amount, status).fact;
    n.plaintext = "{}";
    return n;
  }

  std::vector<std::string> delivered_events(const std::string& no) {
    std::vector<std::string> out;
    for (auto& d : world->refund_deliveries)
      if (d.out_refund_no == no)
        out.push_back(d.event);
    return out;
  }
};

TEST_F(refund_actor_test, a_refund_is_accepted_then_succeeds_by_notification_and_is_delivered) {
  confirmed("A1");
  auto out = refund("A1", "R000001", 40);
  ASSERT_EQ(out.status, 201u) << out.code << " " << out.message;
  ASSERT_TRUE(out.has_refund);
  EXPECT_EQ(out.refund.state, refund_state::processing);
  EXPECT_EQ(out.refund.refund_id, "5030R000001");
  EXPECT_EQ(world->refund_applies, std::vector<std::string>{"R000001"});
  // The same request again: 200, no second apply.
  auto again = refund("A1", "R000001", 40);
  EXPECT_EQ(again.status, 200u);
  EXPECT_EQ(world->refund_applies.size(), 1u);
  // WeChat refunds it and says so.
  world->refund_status["R000001"] = "SUCCESS";
  ASSERT_EQ(ask(notify_atom_v, refund_notice("A1", "R000001", "SUCCESS", 40)).status, 204u);
  run();
  auto r = stored_refund("A1", "R000001");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, refund_state::success);
  EXPECT_TRUE(r->undelivered.empty());
  EXPECT_EQ(r->action, refund_action::none);
  EXPECT_EQ(delivered_events("R000001"), std::vector<std::string>{"refund.succeeded"});
  ASSERT_EQ(world->refund_deliveries.size(), 1u);
  EXPECT_EQ(world->refund_deliveries[0].refund, 40);
  EXPECT_EQ(world->refund_deliveries[0].total, 100);
  // The order stays CONFIRMED and needs no timer any more.
  auto x = stored("A1");
  EXPECT_EQ(x->state, order_state::confirmed);
  EXPECT_FALSE(facts_of(*x).has_timer());
  EXPECT_EQ(live_orders(), 0u);
}

TEST_F(refund_actor_test, a_lost_refund_notification_is_found_by_the_refund_query) {
  confirmed("A1");
  ASSERT_EQ(refund("A1", "R000001", 100).status, 201u);
  world->refund_status["R000001"] = "SUCCESS"; // the notification never comes
  advance(59s);
  EXPECT_TRUE(world->refund_queries.empty());
  advance(2s); // schedule.refund_verify: 1 minute after acceptance
  EXPECT_EQ(world->refund_queries, std::vector<std::string>{"R000001"});
  EXPECT_EQ(stored_refund("A1", "R000001")->state, refund_state::success);
  EXPECT_EQ(delivered_events("R000001"), std::vector<std::string>{"refund.succeeded"});
}

TEST_F(refund_actor_test, an_apply_that_fails_answers_202_and_is_retried_until_wechat_accepts) {
  confirmed("A1");
  world->refund_apply_errors = 2;
  auto out = refund("A1", "R000001", 40);
  ASSERT_EQ(out.status, 202u);
  EXPECT_EQ(out.refund.state, refund_state::requested);
  EXPECT_EQ(out.refund.last_error_code, "SYSTEM_ERROR");
  advance(30s);
  EXPECT_EQ(world->refund_applies.size(), 3u);
  auto r = stored_refund("A1", "R000001");
  EXPECT_EQ(r->state, refund_state::processing);
  EXPECT_TRUE(r->last_error_code.empty());
  EXPECT_EQ(r->apply_attempts, 3u);
}

TEST_F(refund_actor_test, an_accepted_apply_whose_answer_was_lost_is_not_applied_twice_over) {
  confirmed("A1");
  world->refund_apply_lost = 1; // WeChat took it; the answer was a 500
  ASSERT_EQ(refund("A1", "R000001", 40).status, 202u);
  advance(30s);
  // The retry carries the same out_refund_no: WeChat answers with the refund.
  EXPECT_EQ(world->refund_applies,
            (std::vector<std::string>{"R000001", "R000001"}));
  EXPECT_EQ(stored_refund("A1", "R000001")->state, refund_state::processing);
}

TEST_F(refund_actor_test, a_refused_apply_closes_the_refund_answers_502_and_delivers_closed) {
  confirmed("A1");
  world->refund_refuse = true;
  auto out = refund("A1", "R000001", 40);
  EXPECT_EQ(out.status, 502u);
  EXPECT_EQ(out.code, "REFUND_REFUSED");
  EXPECT_EQ(out.refund.state, refund_state::closed);
  EXPECT_EQ(out.refund.last_error_code, "NOT_ENOUGH");
  run();
  EXPECT_EQ(delivered_events("R000001"), std::vector<std::string>{"refund.closed"});
}

TEST_F(refund_actor_test, partial_refunds_up_to_the_total_and_no_further) {
  confirmed("A1");
  EXPECT_EQ(refund("A1", "R000001", 30).status, 201u);
  EXPECT_EQ(refund("A1", "R000002", 70).status, 201u);
  auto over = refund("A1", "R000003", 1);
  EXPECT_EQ(over.status, 409u);
  EXPECT_EQ(over.code, "REFUND_EXCEEDS_PAID");
  auto conflict = refund("A1", "R000001", 31);
  EXPECT_EQ(conflict.code, "REFUND_CONFLICT");
  ASSERT_EQ(ask(create_atom_v, new_order("P1")).status, 201u);
  auto unpaid = refund("P1", "R000009", 1);
  EXPECT_EQ(unpaid.code, "ORDER_NOT_PAID");
  auto missing = refund("NOSUCH1", "R000010", 1);
  EXPECT_EQ(missing.status, 404u);
  EXPECT_EQ(world->refund_applies.size(), 2u);
}

TEST_F(refund_actor_test, an_out_refund_no_belongs_to_one_order) {
  confirmed("A1");
  confirmed("B1");
  ASSERT_EQ(refund("A1", "R000001", 30).status, 201u);
  auto other = refund("B1", "R000001", 30);
  EXPECT_EQ(other.status, 409u);
  EXPECT_EQ(other.code, "REFUND_CONFLICT");
  EXPECT_FALSE(stored_refund("B1", "R000001"));
  EXPECT_EQ(world->refund_applies.size(), 1u);
}

TEST_F(refund_actor_test, a_crash_between_the_requested_sync_and_the_apply_loses_nothing) {
  confirmed("A1");
  // The REQUESTED refund is synced, then the process dies before WeChat is
  // asked: write what the actor writes, with no actor and no timer armed.
  auto x = *stored("A1");
  auto machine = deps().machine;
  create_refund req;
  req.out_trade_no = "A1";
  req.out_refund_no = "R000001";
  req.amount_refund = 40;
  auto d = machine->request_refund(x, {}, req, clock->now);
  ASSERT_TRUE(d.legal);
  write_set set;
  for (auto& e : d.events)
    set.events.emplace_back("A1", e);
  set.put(d.record, &x);
  set.put(d.refunds[0], nullptr);
  ASSERT_TRUE(db->commit(set));
  // A new registry (as after kill -9): the timers service finds the order in
  // the durable index, and the order applies.
  caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
  run();
  start_registry();
  advance(1s);
  EXPECT_EQ(world->refund_applies, std::vector<std::string>{"R000001"});
  EXPECT_EQ(stored_refund("A1", "R000001")->state, refund_state::processing);
}

TEST_F(refund_actor_test, an_abnormal_refund_is_delivered_resolved_by_a_person_and_still_queried) {
  confirmed("A1");
  ASSERT_EQ(refund("A1", "R000001", 40).status, 201u);
  world->refund_status["R000001"] = "ABNORMAL";
  ASSERT_EQ(ask(notify_atom_v, refund_notice("A1", "R000001", "ABNORMAL", 40)).status, 204u);
  run();
  EXPECT_EQ(delivered_events("R000001"), std::vector<std::string>{"refund.abnormal"});
  EXPECT_EQ(metrics->unresolved_refunds(), 1);
  auto resolved = ask(refund_atom_v, resolve_atom_v, std::string{"A1"}, std::string{"R000001"},
                      std::string{"customer's bank card replaced"});
  EXPECT_EQ(resolved.status, 200u);
  EXPECT_EQ(metrics->unresolved_refunds(), 0);
  // A person fixes it at WeChat; the query every refund_verify_every finds it.
  world->refund_status["R000001"] = "SUCCESS";
  advance(31min);
  EXPECT_EQ(stored_refund("A1", "R000001")->state, refund_state::success);
  EXPECT_EQ(delivered_events("R000001"),
            (std::vector<std::string>{"refund.abnormal", "refund.succeeded"}));
}

} // namespace
