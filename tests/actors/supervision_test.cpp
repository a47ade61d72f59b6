// Supervision by the registry: crashed order actors respawn from their
// stored record; too many crashes park the order FAULTED; a crashed timers
// service is replaced and every order re-arms; recovery re-arms every
// non-terminal order and none of the terminal ones.

#include <gtest/gtest.h>

#include "tests/actors/actor_fixture.hpp"

using namespace paycoord;
using namespace paycoord::testing;
using namespace std::chrono_literals;

namespace {

class supervision_test : public actor_fixture {};

} // namespace

TEST_F(supervision_test, a_crashed_order_respawns_with_its_stored_state) {
  start_registry();
  ASSERT_EQ(ask(create_atom_v, new_order("A1")).status, 201u);
  auto before = stored("A1");
  clock->throws = 1; // the next thing the order does, it throws
  auto lost = ask(verify_atom_v, std::string{"A1"});
  EXPECT_EQ(lost.status, 0u) << "the crashing message is never answered";
  EXPECT_EQ(live_orders(), 1u);
  auto snap = snapshot("A1");
  EXPECT_TRUE(snap.alive);
  EXPECT_EQ(snap.restarts, 1u);
  EXPECT_EQ(snap.next_action, "verify");
  EXPECT_EQ(snap.next_due_ms, before->next_due_ms);
  EXPECT_EQ(*stored("A1"), *before);
  // The respawned actor works: its verify timer fires and it gets paid.
  world->query["A1"] = paid("A1");
  advance(5s);
  EXPECT_EQ(stored("A1")->state, order_state::confirmed);
}

TEST_F(supervision_test, the_fourth_crash_in_a_minute_parks_the_order_faulted) {
  start_registry();
  ASSERT_EQ(ask(create_atom_v, new_order("A1")).status, 201u);
  for (int i = 0; i < 3; ++i) {
    clock->throws = 1;
    ask(verify_atom_v, std::string{"A1"});
    EXPECT_EQ(stored("A1")->state, order_state::pending) << "crash " << i + 1;
    EXPECT_EQ(live_orders(), 1u);
  }
  clock->throws = 1;
  ask(verify_atom_v, std::string{"A1"});
  auto x = stored("A1");
  EXPECT_EQ(x->state, order_state::faulted);
  EXPECT_NE(x->parked_reason.find("crashed 4 times"), std::string::npos);
  EXPECT_EQ(live_orders(), 0u);
  advance(2h);
  EXPECT_TRUE(world->queries.empty()) << "a faulted order is never moved";
}

TEST_F(supervision_test, crashes_spread_over_more_than_a_minute_keep_restarting) {
  start_registry();
  ASSERT_EQ(ask(create_atom_v, new_order("A1")).status, 201u);
  for (int i = 0; i < 6; ++i) {
    clock->throws = 1;
    ask(verify_atom_v, std::string{"A1"});
    clock->now += 25'000; // 25 s apart: never 4 within 60 s
  }
  EXPECT_EQ(stored("A1")->state, order_state::pending);
  EXPECT_EQ(live_orders(), 1u);
}

TEST_F(supervision_test, timers_arm_replace_cancel_and_fire_in_due_order) {
  std::vector<std::string> fired;
  auto target = sys->spawn([&fired](caf::event_based_actor*) -> caf::behavior {
    return {[&fired](const timer_fired& t) { fired.push_back(t.out_trade_no); }};
  });
  auto timers = sys->spawn(timers_actor, target, timer_options());
  auto t = clock->now;
  caf::anon_send(timers, arm_timer{"A", t + 10'000, 1});
  caf::anon_send(timers, arm_timer{"B", t + 5'000, 1});
  caf::anon_send(timers, arm_timer{"C", t + 20'000, 1});
  caf::anon_send(timers, arm_timer{"D", t + 7'000, 1});
  caf::anon_send(timers, arm_timer{"C", t + 1'000, 2}); // replaces C
  caf::anon_send(timers, cancel_atom_v, std::string{"B"});
  run();
  EXPECT_EQ(request<uint64_t>(timers, live_atom_v), 3u);
  advance(6s);
  EXPECT_EQ(fired, (std::vector<std::string>{"C"}));
  advance(30s);
  EXPECT_EQ(fired, (std::vector<std::string>{"C", "D", "A"}));
  EXPECT_EQ(request<uint64_t>(timers, live_atom_v), 0u);
  caf::anon_send_exit(timers, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(target, caf::exit_reason::user_shutdown);
  run();
}

TEST_F(supervision_test, a_crashed_timers_service_is_replaced_and_orders_re_arm) {
  start_registry();
  ASSERT_EQ(ask(create_atom_v, new_order("A1")).status, 201u);
  auto old_timers = current_timers();
  ASSERT_TRUE(old_timers);
  caf::anon_send_exit(old_timers, caf::exit_reason::kill);
  run();
  auto new_timers = current_timers();
  ASSERT_TRUE(new_timers);
  EXPECT_NE(new_timers, old_timers);
  EXPECT_EQ(request<uint64_t>(new_timers, live_atom_v), 1u);
  world->query["A1"] = paid("A1");
  advance(5s);
  EXPECT_EQ(world->queries.size(), 1u);
  EXPECT_EQ(stored("A1")->state, order_state::confirmed);
}

TEST_F(supervision_test, recovery_re_arms_every_non_terminal_order_and_no_terminal_one) {
  // A previous process left orders in every state.
  auto m = deps().machine;
  write_set set;
  int64_t t = clock->now - 60'000;
  for (auto s : {order_state::pending, order_state::paid,
                 order_state::confirmed, order_state::closed,
                 order_state::anomaly, order_state::orphan,
                 order_state::faulted}) {
    auto x = m->create(new_order(std::string{"R_"} + to_string(s)), t).record;
    x.state = s;
    if (s == order_state::paid) {
      x.action = next_action::forward;
      x.next_due_ms = t + 1000; // overdue
      x.transaction_id = "42";
    } else if (s != order_state::pending) {
      x.action = next_action::none;
    }
    set.orders.push_back(x);
  }
  ASSERT_TRUE(db->commit(set));
  start_registry();
  EXPECT_EQ(request<uint64_t>(registry, recover_atom_v), 2u);
  EXPECT_EQ(live_orders(), 2u);
  for (auto n : metrics->order_counts())
    EXPECT_EQ(n, 1) << "the recovery scan counts every state";
  EXPECT_EQ(request<uint64_t>(current_timers(), live_atom_v), 2u);
  world->query["R_PENDING"] = paid("R_PENDING");
  advance(1s);
  EXPECT_EQ(stored("R_PAID")->state, order_state::confirmed)
    << "overdue timers fire at once after recovery";
  EXPECT_EQ(stored("R_PENDING")->state, order_state::confirmed);
  for (auto id : {"R_CONFIRMED", "R_CLOSED", "R_ANOMALY", "R_ORPHAN", "R_FAULTED"})
    EXPECT_EQ(std::count(world->queries.begin(), world->queries.end(), id), 0)
      << id;
}

TEST_F(supervision_test, recovery_spreads_a_backlog_over_what_the_rate_limit_needs) {
  // 400 pending orders whose first query fell due while paycoord was down;
  // WeChat takes 100 calls a second: the backlog needs 4 s, so its timers
  // are spread over 4 s (not the 1 s fixed window), and never more than a
  // second's worth of calls is due in any one second.
  auto m = deps().machine;
  write_set set;
  for (int i = 0; i < 400; ++i) {
    auto x = m->create(new_order("B" + std::to_string(1000 + i)), clock->now - 60'000).record;
    set.orders.push_back(x);
  }
  ASSERT_TRUE(db->commit(set));
  recovery_jitter_ms = 1000;
  start_registry(100);
  EXPECT_EQ(request<uint64_t>(registry, recover_atom_v), 400u);
  size_t before = 0;
  for (int second = 1; second <= 4; ++second) {
    advance(1s);
    auto fired = world->queries.size() - before;
    EXPECT_GT(fired, 50u) << "second " << second;
    EXPECT_LT(fired, 150u) << "second " << second;
    before = world->queries.size();
  }
  EXPECT_EQ(world->queries.size(), 400u) << "every overdue order asked once";
}
