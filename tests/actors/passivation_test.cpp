// Passivation: an open order whose next step is far away leaves memory
// through the registry's idle/stop/busy handshake, and its timer, a
// notification or an operator's request brings it back from the store with
// nothing lost. Recovery loads no order at all. (Every interleaving of the
// handshake with concurrent messages: handshake_interleavings_test.cpp.)

#include <gtest/gtest.h>

#include "tests/actors/actor_fixture.hpp"

using namespace paycoord;
using namespace paycoord::testing;
using namespace std::chrono_literals;

namespace {

class passivation_test : public actor_fixture {
protected:
  passivation_test() {
    passivate_after_ms = 10'000;
  }

  size_t queries_of(const std::string& id) const {
    return static_cast<size_t>(std::count(world->queries.begin(), world->queries.end(), id));
  }
};

} // namespace

TEST_F(passivation_test, an_order_due_soon_stays_and_one_due_later_leaves_memory) {
  start_registry();
  ASSERT_EQ(ask(create_atom_v, new_order("A1")).status, 201u);
  EXPECT_EQ(live_orders(), 1u) << "its first query is 5 s away";
  advance(5s);
  EXPECT_EQ(queries_of("A1"), 1u);
  EXPECT_EQ(live_orders(), 0u) << "the next one is 25 s away: passivated";
  auto snap = snapshot("A1");
  EXPECT_FALSE(snap.alive);
  auto x = stored("A1");
  ASSERT_TRUE(x);
  EXPECT_EQ(x->state, order_state::pending);
  EXPECT_TRUE(*db->timer_indexed(*x)) << "its timer is the index entry";
}

TEST_F(passivation_test, its_timer_brings_it_back_on_time) {
  start_registry();
  ASSERT_EQ(ask(create_atom_v, new_order("A1")).status, 201u);
  advance(5s);
  ASSERT_EQ(live_orders(), 0u);
  advance(24s);
  EXPECT_EQ(queries_of("A1"), 1u) << "not before its step at 30 s";
  world->query["A1"] = paid("A1");
  advance(1s);
  EXPECT_EQ(queries_of("A1"), 2u);
  EXPECT_EQ(stored("A1")->state, order_state::confirmed);
  EXPECT_EQ(live_orders(), 0u) << "terminal: gone for good";
}

TEST_F(passivation_test, a_notification_for_a_passivated_order_is_answered_once_durable) {
  start_registry();
  ASSERT_EQ(ask(create_atom_v, new_order("A1")).status, 201u);
  advance(5s);
  ASSERT_EQ(live_orders(), 0u);
  auto r = ask(notify_atom_v, payment_notification("A1"));
  EXPECT_EQ(r.status, 204u);
  EXPECT_EQ(r.notified, notify_outcome::accepted);
  EXPECT_EQ(stored("A1")->state, order_state::confirmed);
  EXPECT_EQ(world->forwards.size(), 1u);
  // WeChat's retry of the same notification: a duplicate, not a second
  // delivery.
  auto again = ask(notify_atom_v, payment_notification("A1"));
  EXPECT_EQ(again.status, 204u);
  EXPECT_EQ(world->forwards.size(), 1u);
}

TEST_F(passivation_test, an_operators_request_brings_it_back) {
  start_registry();
  ASSERT_EQ(ask(create_atom_v, new_order("A1")).status, 201u);
  advance(5s);
  ASSERT_EQ(live_orders(), 0u);
  auto r = ask(verify_atom_v, std::string{"A1"});
  EXPECT_EQ(r.status, 202u);
  EXPECT_EQ(queries_of("A1"), 2u);
  auto x = stored("A1");
  EXPECT_EQ(x->state, order_state::pending);
  EXPECT_TRUE(*db->timer_indexed(*x));
}

TEST_F(passivation_test, a_paid_order_stays_while_its_delivery_is_due_soon) {
  world->business_up = false;
  start_registry();
  ASSERT_EQ(ask(create_atom_v, new_order("A1")).status, 201u);
  ASSERT_EQ(ask(notify_atom_v, payment_notification("A1")).status, 204u);
  EXPECT_EQ(stored("A1")->state, order_state::paid);
  EXPECT_EQ(live_orders(), 1u) << "its retry is a second away";
  // The backoff grows to its cap (8 s here, below passivate_after): the
  // order keeps retrying in memory; once the business server is back it is
  // confirmed.
  advance(30s);
  EXPECT_GT(world->forwards.size(), 3u);
  world->business_up = true;
  advance(10s);
  EXPECT_EQ(stored("A1")->state, order_state::confirmed);
}

// Recovery reads the first window of the timer index and nothing else: no
// order is loaded (a spy in front of the store counts the loads).
TEST_F(passivation_test, recovery_loads_no_order) {
  write_set set;
  auto m = deps().machine;
  for (int i = 0; i < 50; ++i)
    set.put(m->create(new_order("R" + std::to_string(i)), clock->now).record, nullptr);
  ASSERT_TRUE(db->commit(set));
  auto loads = std::make_shared<int>(0);
  auto pages = std::make_shared<int>(0);
  auto real = store;
  store = sys->spawn([=](caf::event_based_actor* self) -> caf::behavior {
    return {
      [=](load_atom a, const std::string& id) {
        ++*loads;
        return self->delegate(real, a, id);
      },
      [=](index_atom a, const timer_entry& after, int64_t until, uint32_t limit) {
        ++*pages;
        return self->delegate(real, a, after, until, limit);
      },
      [=](write_atom a, write_set& s) { return self->delegate(real, a, std::move(s)); },
    };
  });
  start_registry();
  EXPECT_EQ(request<uint64_t>(registry, recover_atom_v), 50u) << "all due within the window";
  EXPECT_EQ(*loads, 0);
  EXPECT_EQ(*pages, 1);
  EXPECT_EQ(live_orders(), 0u);
  advance(5s);
  EXPECT_EQ(*loads, 50) << "each loads when its timer fires";
  EXPECT_EQ(world->queries.size(), 50u);
  caf::anon_send_exit(real, caf::exit_reason::user_shutdown);
}

// A record that does not decode, with its timer due: loading it fails, and
// it is not tried again and again (it would fail the same way): once per
// fire, and its index entry waits for a person (the audit counts it).
TEST_F(passivation_test, an_unreadable_record_is_not_loaded_in_a_loop) {
  order_record x;
  x.out_trade_no = "BROKEN01";
  x.action = next_action::verify;
  x.next_due_ms = clock->now + 1'000;
  write_set set;
  set.put(x, nullptr);
  ASSERT_TRUE(db->commit(set));
  ASSERT_TRUE(db->put_raw(order_store::order_key("BROKEN01"), "{not json"));
  auto loads = std::make_shared<int>(0);
  auto real = store;
  store = sys->spawn([=](caf::event_based_actor* self) -> caf::behavior {
    return {
      [=](load_atom a, const std::string& id) {
        ++*loads;
        return self->delegate(real, a, id);
      },
      [=](index_atom a, const timer_entry& after, int64_t until, uint32_t limit) {
        return self->delegate(real, a, after, until, limit);
      },
      [=](write_atom a, write_set& s) { return self->delegate(real, a, std::move(s)); },
    };
  });
  start_registry();
  advance(30s);
  EXPECT_EQ(*loads, 1);
  EXPECT_EQ(live_orders(), 0u);
  caf::anon_send_exit(real, caf::exit_reason::user_shutdown);
}
