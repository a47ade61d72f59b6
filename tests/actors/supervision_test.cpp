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
  caf::anon_send(timers, arm_timer{"A", t + 10'000});
  caf::anon_send(timers, arm_timer{"B", t + 5'000});
  caf::anon_send(timers, arm_timer{"C", t + 20'000});
  caf::anon_send(timers, arm_timer{"D", t + 7'000});
  caf::anon_send(timers, arm_timer{"C", t + 1'000}); // replaces C
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
    set.put(x, nullptr);
  }
  ASSERT_TRUE(db->commit(set));
  for (auto n : db->counts().by_state)
    EXPECT_EQ(n, 1) << "the store counts every state as it writes";
  world->query["R_PENDING"] = paid("R_PENDING");
  // The timers service pages the index in as it starts; both overdue
  // timers fire at once, and their orders load from the store.
  start_registry();
  EXPECT_TRUE(request<uint64_t>(registry, recover_atom_v).has_value());
  advance(1s);
  EXPECT_EQ(stored("R_PAID")->state, order_state::confirmed)
    << "overdue timers fire at once after recovery";
  EXPECT_EQ(stored("R_PENDING")->state, order_state::confirmed);
  for (auto id : {"R_CONFIRMED", "R_CLOSED", "R_ANOMALY", "R_ORPHAN", "R_FAULTED"})
    EXPECT_EQ(std::count(world->queries.begin(), world->queries.end(), id), 0)
      << id;
  auto counts = metrics->orders_by_state();
  EXPECT_EQ(counts[static_cast<size_t>(order_state::confirmed)], 3);
  EXPECT_EQ(counts[static_cast<size_t>(order_state::pending)], 0);
}

TEST_F(supervision_test, recovery_spreads_a_backlog_over_what_the_rate_limit_needs) {
  // 400 pending orders whose first query fell due while paycoord was down;
  // WeChat takes 100 calls a second: the backlog needs 4 s, so its late
  // timers fire over 4 s, never more than a second's worth in any second.
  auto m = deps().machine;
  write_set set;
  for (int i = 0; i < 400; ++i) {
    auto x = m->create(new_order("B" + std::to_string(1000 + i)), clock->now - 60'000).record;
    set.put(x, nullptr);
  }
  ASSERT_TRUE(db->commit(set));
  late_fires_per_s = 100;
  start_registry();
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

// -- the ways out of FAULTED, and store failures (issue "the promise, proven")

namespace {

/// A store whose first `failing_loads` loads fail; everything else goes to
/// the real store.
caf::behavior flaky_store(caf::event_based_actor* self, caf::actor real,
                          std::shared_ptr<int> failing_loads) {
  return {
    [=](load_atom a, const std::string& id) -> caf::result<order_lookup> {
      if (*failing_loads > 0) {
        --*failing_loads;
        return make_error(store_error{store_errc::io, "o/" + id, "injected: disk unreadable"});
      }
      auto rp = self->make_response_promise<order_lookup>();
      self->request(real, caf::infinite, a, id)
        .then([rp](order_lookup& x) mutable { rp.deliver(std::move(x)); },
              [rp](caf::error& e) mutable { rp.deliver(std::move(e)); });
      return rp;
    },
    [=](write_atom a, write_set& set) { return self->delegate(real, a, std::move(set)); },
    [=](index_atom a, const timer_entry& after, int64_t until, uint32_t limit) {
      return self->delegate(real, a, after, until, limit);
    },
  };
}

void crash_until_faulted(supervision_test& t, const std::string& id) {
  for (int i = 0; i < 4; ++i) {
    t.clock->throws = 1;
    t.ask(verify_atom_v, id);
  }
}

} // namespace

TEST_F(supervision_test, retry_brings_a_faulted_order_back_and_applies_a_held_payment) {
  start_registry();
  ASSERT_EQ(ask(create_atom_v, new_order("A1")).status, 201u);
  crash_until_faulted(*this, "A1");
  ASSERT_EQ(stored("A1")->state, order_state::faulted);
  EXPECT_EQ(stored("A1")->faulted_from, order_state::pending);
  // Paid while FAULTED: answered 204, held, not forwarded.
  EXPECT_EQ(ask(notify_atom_v, payment_notification("A1")).status, 204u);
  EXPECT_EQ(stored("A1")->held.transaction_id, "4200A1");
  EXPECT_TRUE(world->forwards.empty());
  world->business_up = true;
  auto out = ask(retry_atom_v, std::string{"A1"});
  EXPECT_EQ(out.status, 200u);
  EXPECT_EQ(stored("A1")->state, order_state::confirmed) << "the held payment was delivered";
  ASSERT_EQ(world->forwards.size(), 1u);
  EXPECT_EQ(ask(retry_atom_v, std::string{"A1"}).status, 409u);
  EXPECT_EQ(ask(retry_atom_v, std::string{"NOPE99"}).status, 404u);
}

TEST_F(supervision_test, retry_re_arms_a_faulted_pending_order_with_a_fresh_budget) {
  start_registry();
  ASSERT_EQ(ask(create_atom_v, new_order("A1")).status, 201u);
  crash_until_faulted(*this, "A1");
  ASSERT_EQ(stored("A1")->state, order_state::faulted);
  world->queries.clear();
  EXPECT_EQ(ask(retry_atom_v, std::string{"A1"}).status, 200u);
  EXPECT_EQ(stored("A1")->state, order_state::pending);
  advance(1s);
  EXPECT_EQ(world->queries.size(), 1u) << "its next step (a query) was due at once";
  // A fresh budget: three more crashes keep it alive.
  for (int i = 0; i < 3; ++i) {
    clock->throws = 1;
    ask(verify_atom_v, std::string{"A1"});
  }
  EXPECT_EQ(stored("A1")->state, order_state::pending);
}

TEST_F(supervision_test, resolve_keeps_the_state_and_leaves_the_unresolved_count) {
  start_registry();
  ASSERT_EQ(ask(create_atom_v, new_order("A1")).status, 201u);
  crash_until_faulted(*this, "A1");
  auto faulted = static_cast<size_t>(order_state::faulted);
  EXPECT_EQ(metrics->unresolved_counts()[faulted], 1);
  EXPECT_EQ(ask(resolve_atom_v, std::string{"A1"}, std::string{"checked the logs"}).status, 200u);
  auto x = stored("A1");
  EXPECT_EQ(x->state, order_state::faulted);
  EXPECT_EQ(x->resolved_note, "checked the logs");
  EXPECT_EQ(metrics->unresolved_counts()[faulted], 0);
  EXPECT_EQ(ask(resolve_atom_v, std::string{"A1"}, std::string{"again"}).status, 409u);
  auto kinds = event_kinds("A1");
  // The crashing verifies were never written: the resolve is the one
  // operator event.
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "operator"), 1);
}

// Defect 4: a failed load after a crash left the order stranded: its
// messages held forever, nothing armed.
TEST_F(supervision_test, a_failed_load_answers_503_and_is_retried_until_the_order_is_live) {
  auto failing = std::make_shared<int>(0);
  auto real = store;
  store = sys->spawn(flaky_store, real, failing);
  start_registry();
  ASSERT_EQ(ask(create_atom_v, new_order("A1")).status, 201u);
  *failing = 2;
  clock->throws = 1;
  ask(verify_atom_v, std::string{"A1"}); // crashes; the respawn's load fails
  EXPECT_EQ(live_orders(), 0u);
  auto held = std::make_shared<order_outcome>();
  caf::anon_send(registry, verify_atom_v, std::string{"A1"},
                 order_reply{[held](order_outcome o) { *held = std::move(o); }});
  run();
  advance(500ms); // the retried load fails too: the held request is answered
  EXPECT_EQ(held->status, 503u);
  EXPECT_EQ(held->code, "STORE_UNAVAILABLE");
  advance(1s); // the third load works
  EXPECT_EQ(live_orders(), 1u);
  EXPECT_EQ(*failing, 0);
  world->query["A1"] = paid("A1");
  world->business_up = true;
  advance(5s); // its verify timer is armed again
  EXPECT_EQ(stored("A1")->state, order_state::confirmed);
  caf::anon_send_exit(real, caf::exit_reason::user_shutdown);
}

// Defect 8: an admin request during recovery loaded the order on demand
// while recovery spawned it too: two actors for one order.
TEST_F(supervision_test, an_admin_request_during_recovery_spawns_no_second_actor) {
  start_registry();
  ASSERT_EQ(ask(create_atom_v, new_order("A1")).status, 201u);
  // A fresh registry over the same store, as after a restart.
  caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
  run();
  registry_options opts;
  auto topts = timer_options();
  opts.spawn_timers = [topts](caf::local_actor* self, caf::actor target) {
    return self->spawn(timers_actor, std::move(target), topts);
  };
  registry = sys->spawn(registry_actor, deps(), opts);
  run();
  auto before = sys->registry().running();
  // Recovery first, the admin request right behind it: the on-demand load
  // is answered after the recovery scan.
  caf::anon_send(registry, recover_atom_v);
  caf::anon_send(registry, verify_atom_v, std::string{"A1"}, order_reply{});
  run();
  EXPECT_EQ(live_orders(), 1u);
  EXPECT_EQ(sys->registry().running(), before + 1) << "one order actor, not two";
}
