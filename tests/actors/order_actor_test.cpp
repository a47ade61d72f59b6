// The order actor under its registry, with the real store actor and LevelDB,
// scripted WeChat and business actors, and simulated time.

#include <gtest/gtest.h>

#include "tests/actors/actor_fixture.hpp"
#include "tests/storage/failing_env.hpp"

using namespace paycoord;
using namespace paycoord::testing;
using namespace std::chrono_literals;

namespace {

class order_actor_test : public actor_fixture {
protected:
  void SetUp() override {
    start_registry();
  }
};

} // namespace

TEST_F(order_actor_test, create_syncs_a_pending_order_with_its_prepay_id) {
  auto out = ask(create_atom_v, new_order("A1"));
  ASSERT_EQ(out.status, 201u);
  ASSERT_TRUE(out.has_record);
  EXPECT_EQ(out.record.prepay_id, "wx_prepay_A1");
  auto x = stored("A1");
  ASSERT_TRUE(x);
  EXPECT_EQ(x->state, order_state::pending);
  EXPECT_EQ(x->prepay_id, "wx_prepay_A1");
  EXPECT_EQ(event_kinds("A1"), (std::vector<std::string>{"created", "prepay"}));
  EXPECT_EQ(live_orders(), 1u);
}

TEST_F(order_actor_test, re_create_is_idempotent_and_a_different_order_conflicts) {
  ASSERT_EQ(ask(create_atom_v, new_order("A1")).status, 201u);
  auto again = ask(create_atom_v, new_order("A1"));
  EXPECT_EQ(again.status, 200u);
  EXPECT_EQ(again.record.prepay_id, "wx_prepay_A1");
  EXPECT_EQ(world->prepays.size(), 1u) << "no second prepay";
  auto conflict = ask(create_atom_v, new_order("A1", 500));
  EXPECT_EQ(conflict.status, 409u);
  EXPECT_EQ(conflict.code, "ORDER_CONFLICT");
  EXPECT_EQ(stored("A1")->amount_total, 100);
}

TEST_F(order_actor_test, failed_prepay_keeps_the_order_and_a_retry_places_it) {
  world->prepay_ok = false;
  auto out = ask(create_atom_v, new_order("A1"));
  EXPECT_EQ(out.status, 502u);
  EXPECT_EQ(out.code, "PREPAY_FAILED");
  ASSERT_TRUE(stored("A1"));
  EXPECT_EQ(stored("A1")->state, order_state::pending);
  EXPECT_TRUE(stored("A1")->prepay_id.empty());
  world->prepay_ok = true;
  auto retry = ask(create_atom_v, new_order("A1"));
  EXPECT_EQ(retry.status, 200u);
  EXPECT_EQ(stored("A1")->prepay_id, "wx_prepay_A1");
}

TEST_F(order_actor_test, a_lost_notification_is_recovered_by_the_first_verify_query) {
  ASSERT_EQ(ask(create_atom_v, new_order("A1")).status, 201u);
  world->query["A1"] = paid("A1");
  advance(4s);
  EXPECT_TRUE(world->queries.empty()) << "nothing before the first step";
  advance(1s);
  ASSERT_EQ(world->queries.size(), 1u);
  auto x = stored("A1");
  EXPECT_EQ(x->state, order_state::confirmed);
  EXPECT_EQ(x->via, paid_via::query);
  ASSERT_EQ(world->forwards.size(), 1u);
  EXPECT_EQ(world->forwards[0].transaction_id, "4200A1");
  EXPECT_EQ(live_orders(), 0u) << "a confirmed order's actor exits";
}

TEST_F(order_actor_test, notify_is_answered_after_sync_and_duplicates_change_nothing) {
  ASSERT_EQ(ask(create_atom_v, new_order("A1")).status, 201u);
  auto first = ask(notify_atom_v, payment_notification("A1"));
  EXPECT_EQ(first.status, 204u);
  EXPECT_EQ(stored("A1")->state, order_state::confirmed);
  auto dup = ask(notify_atom_v, payment_notification("A1", 100, "EV-2"));
  EXPECT_EQ(dup.status, 204u);
  EXPECT_EQ(world->forwards.size(), 1u) << "no second forward";
  auto id = db->find_notification("EV-1");
  ASSERT_TRUE(id && id->has_value());
  EXPECT_EQ(**id, "A1");
}

TEST_F(order_actor_test, business_outage_retries_with_backoff_and_confirms_once) {
  world->business_up = false;
  ASSERT_EQ(ask(create_atom_v, new_order("A1")).status, 201u);
  ASSERT_EQ(ask(notify_atom_v, payment_notification("A1")).status, 204u);
  advance(40s);
  auto x = stored("A1");
  EXPECT_EQ(x->state, order_state::paid);
  EXPECT_TRUE(x->stuck) << "flagged after stuck_after of failures";
  auto attempts = world->forwards.size();
  EXPECT_GE(attempts, 5u);
  world->business_up = true;
  advance(10s);
  EXPECT_EQ(stored("A1")->state, order_state::confirmed);
  EXPECT_EQ(world->forwards.size(), attempts + 1);
  for (auto& f : world->forwards)
    EXPECT_EQ(f.out_trade_no, "A1");
}

TEST_F(order_actor_test, expiry_closes_at_wechat_and_ends_closed) {
  ASSERT_EQ(ask(create_atom_v, new_order("A1")).status, 201u);
  advance(59min);
  EXPECT_TRUE(world->closes.empty());
  EXPECT_EQ(stored("A1")->state, order_state::pending);
  advance(1min + 1s); // expiry (1 h): final query NOTPAY, close, confirm
  ASSERT_EQ(world->closes.size(), 1u);
  auto x = stored("A1");
  EXPECT_EQ(x->state, order_state::closed);
  EXPECT_TRUE(x->closed_at_wechat);
  EXPECT_TRUE(world->forwards.empty());
  auto kinds = event_kinds("A1");
  EXPECT_EQ(std::vector<std::string>(kinds.end() - 3, kinds.end()),
            (std::vector<std::string>{"close", "query", "state"}));
  EXPECT_EQ(live_orders(), 0u);
}

TEST_F(order_actor_test, payment_in_the_last_moment_before_close_is_delivered) {
  world->paid_before_close.insert("A1");
  ASSERT_EQ(ask(create_atom_v, new_order("A1")).status, 201u);
  advance(1h + 1s); // expiry query said NOTPAY, close sent, confirm: SUCCESS
  ASSERT_EQ(world->closes.size(), 1u);
  auto x = stored("A1");
  EXPECT_EQ(x->state, order_state::confirmed);
  EXPECT_TRUE(x->late);
  ASSERT_EQ(world->forwards.size(), 1u);
  EXPECT_TRUE(world->forwards[0].late);
}

TEST_F(order_actor_test, a_notification_for_a_closed_order_is_paid_late) {
  ASSERT_EQ(ask(create_atom_v, new_order("A1")).status, 201u);
  world->query["A1"] = trade("CLOSED");
  advance(5s);
  ASSERT_EQ(stored("A1")->state, order_state::closed);
  EXPECT_EQ(ask(notify_atom_v, payment_notification("A1")).status, 204u);
  auto x = stored("A1");
  EXPECT_EQ(x->state, order_state::confirmed);
  EXPECT_TRUE(x->late);
}

TEST_F(order_actor_test, unknown_order_payment_is_kept_as_orphan) {
  EXPECT_EQ(ask(notify_atom_v, payment_notification("GHOST1")).status, 204u);
  auto x = stored("GHOST1");
  ASSERT_TRUE(x);
  EXPECT_EQ(x->state, order_state::orphan);
  EXPECT_EQ(x->transaction_id, "4200GHOST1");
  EXPECT_TRUE(world->forwards.empty());
  EXPECT_EQ(live_orders(), 0u);
}

namespace {

verified_notification refund_event(const std::string& id, std::string nid) {
  verified_notification n;
  n.notification_id = std::move(nid);
  n.event_type = "REFUND.SUCCESS";
  n.fact.out_trade_no = id;
  n.plaintext = R"({"out_trade_no":")" + id + R"(","refund_status":"SUCCESS"})";
  return n;
}

} // namespace

// Defect 7: a refund event for an unknown order made an ORPHAN record, so a
// later create of that out_trade_no got 409.
TEST_F(order_actor_test, a_refund_event_for_an_unknown_order_blocks_no_create) {
  EXPECT_EQ(ask(notify_atom_v, refund_event("LATER1", "EV-R1")).status, 204u);
  EXPECT_FALSE(stored("LATER1").has_value()) << "no order record";
  auto orphans = db->orphan_events("LATER1", "", 10);
  ASSERT_TRUE(orphans);
  ASSERT_EQ(orphans->size(), 1u);
  EXPECT_EQ(orphans->front().notification_id, "EV-R1");
  EXPECT_EQ(ask(notify_atom_v, refund_event("LATER1", "EV-R1")).status, 204u);
  EXPECT_EQ(db->orphan_events("LATER1", "", 10)->size(), 1u) << "a redelivery adds nothing";
  EXPECT_EQ(ask(create_atom_v, new_order("LATER1")).status, 201u);
  EXPECT_EQ(live_orders(), 1u);
}

// Defect 5 through the actor: redelivered events cost no write and no event.
TEST_F(order_actor_test, a_redelivered_notification_adds_no_event) {
  ASSERT_EQ(ask(create_atom_v, new_order("A1")).status, 201u);
  auto before = stored("A1")->event_seq;
  for (int i = 0; i < 30; ++i)
    EXPECT_EQ(ask(notify_atom_v, refund_event("A1", "EV-R1")).status, 204u);
  EXPECT_EQ(stored("A1")->event_seq, before + 1) << "30 deliveries, one event";
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(ask(notify_atom_v, payment_notification("A1", 100, "EV-P1")).status, 204u);
  auto kinds = event_kinds("A1");
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "notify"), 1);
}

TEST_F(order_actor_test, amount_mismatch_ends_anomaly_and_is_never_delivered) {
  ASSERT_EQ(ask(create_atom_v, new_order("A1")).status, 201u);
  EXPECT_EQ(ask(notify_atom_v, payment_notification("A1", 1)).status, 204u);
  EXPECT_EQ(stored("A1")->state, order_state::anomaly);
  advance(2h);
  EXPECT_TRUE(world->forwards.empty());
  EXPECT_TRUE(world->queries.empty()) << "parked: no timer moves it";
}

TEST_F(order_actor_test, operator_actions_go_through_the_order) {
  ASSERT_EQ(ask(create_atom_v, new_order("A1")).status, 201u);
  world->query["A1"] = paid("A1");
  world->business_up = false;
  EXPECT_EQ(ask(verify_atom_v, std::string{"A1"}).status, 202u);
  EXPECT_EQ(stored("A1")->state, order_state::paid);
  EXPECT_EQ(ask(verify_atom_v, std::string{"A1"}).status, 409u);
  world->business_up = true;
  EXPECT_EQ(ask(forward_atom_v, std::string{"A1"}).status, 202u);
  EXPECT_EQ(stored("A1")->state, order_state::confirmed);
  EXPECT_EQ(ask(forward_atom_v, std::string{"NOPE99"}).status, 404u);
  auto kinds = event_kinds("A1");
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "operator"), 2);
}

TEST_F(order_actor_test, a_failing_disk_makes_the_order_back_off_not_spin) {
  // A store of its own over an Env whose writes fail on demand. Static: the
  // fixture closes the store after this body, and both must outlive it.
  static failing_env env;
  static temp_dir other;
  store_options opts;
  opts.env = &env;
  auto opened = order_store::open(other.str(), opts);
  ASSERT_TRUE(opened);
  db = std::shared_ptr<order_store>{std::move(*opened)};
  store = sys->spawn(store_actor, db, metrics, store_actor_options{});
  caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
  run();
  start_registry();

  ASSERT_EQ(ask(create_atom_v, new_order("F1")).status, 201u);
  env.failing = true;
  advance(5s); // t = 5 s, the first verify step: its result cannot be stored
  ASSERT_EQ(world->queries.size(), 1u);
  EXPECT_GT(env.refused.load(), 0);
  advance(250ms); // 5.25 s
  EXPECT_EQ(world->queries.size(), 1u) << "no query again before the backoff";
  advance(250ms); // 5.5 s
  EXPECT_EQ(world->queries.size(), 2u) << "retried after 0.5 s";
  advance(750ms); // 6.25 s
  EXPECT_EQ(world->queries.size(), 2u) << "the next backoff is 1 s";
  env.failing = false;
  advance(250ms); // 6.5 s
  ASSERT_EQ(world->queries.size(), 3u);
  auto x = stored("F1");
  ASSERT_TRUE(x);
  EXPECT_EQ(x->verify_step, 1u) << "the schedule goes on once the disk is back";
  EXPECT_EQ(x->queries, 1u) << "only the stored query counts";
}
