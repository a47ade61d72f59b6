// The store's per-state counters: moved by the facts of each write, and
// read back from their encoding.

#include "storage/order_counts.hpp"

#include <gtest/gtest.h>

using namespace paycoord;

namespace {

order_record order(order_state s) {
  order_record x;
  x.out_trade_no = "C0000001";
  x.state = s;
  x.action = is_active(s) ? next_action::verify : next_action::none;
  x.next_due_ms = 1'000;
  return x;
}

size_t at(order_state s) {
  return static_cast<size_t>(s);
}

} // namespace

TEST(order_counts, move_with_every_state_change_stuck_flag_and_resolution) {
  order_counts c;
  auto pending = order(order_state::pending);
  auto paid = order(order_state::paid);
  auto stuck = paid;
  stuck.stuck = true;
  auto confirmed = order(order_state::confirmed);
  c.moved(std::nullopt, facts_of(pending));
  c.moved(facts_of(pending), facts_of(pending)); // a query: same state
  EXPECT_EQ(c.of(order_state::pending), 1);
  c.moved(facts_of(pending), facts_of(paid));
  c.moved(facts_of(paid), facts_of(stuck));
  EXPECT_EQ(c.of(order_state::pending), 0);
  EXPECT_EQ(c.of(order_state::paid), 1);
  EXPECT_EQ(c.stuck, 1);
  c.moved(facts_of(stuck), facts_of(confirmed));
  EXPECT_EQ(c.stuck, 0);
  EXPECT_EQ(c.of(order_state::paid), 0);
  EXPECT_EQ(c.of(order_state::confirmed), 1);

  auto anomaly = order(order_state::anomaly);
  c.moved(std::nullopt, facts_of(anomaly));
  EXPECT_EQ(c.unresolved[at(order_state::anomaly)], 1);
  auto resolved = anomaly;
  resolved.resolved_at_ms = 5;
  c.moved(facts_of(anomaly), facts_of(resolved));
  EXPECT_EQ(c.unresolved[at(order_state::anomaly)], 0) << "a person resolved it";
  EXPECT_EQ(c.of(order_state::anomaly), 1) << "the state stays";
}

TEST(order_counts, facts_name_the_timer_of_active_orders_only) {
  EXPECT_EQ(facts_of(order(order_state::pending)).timer_due_ms, 1'000);
  EXPECT_EQ(facts_of(order(order_state::paid)).timer_due_ms, 1'000);
  for (auto s : {order_state::confirmed, order_state::closed, order_state::anomaly,
                 order_state::orphan, order_state::faulted}) {
    auto x = order(s);
    x.action = next_action::verify; // a stale action on a parked record
    EXPECT_FALSE(facts_of(x).has_timer()) << to_string(s);
  }
  auto idle = order(order_state::pending);
  idle.action = next_action::none;
  EXPECT_FALSE(facts_of(idle).has_timer());
}

TEST(order_counts, encode_and_decode_round_trip_and_refuse_garbage) {
  order_counts c;
  c.by_state[at(order_state::pending)] = 7'000'000;
  c.by_state[at(order_state::orphan)] = 3;
  c.unresolved[at(order_state::orphan)] = 2;
  c.stuck = 4;
  auto back = decode_counts("m/counts", encode(c));
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(*back, c);
  EXPECT_FALSE(decode_counts("m/counts", "{"));
  EXPECT_FALSE(decode_counts("m/counts", R"({"v":1,"states":{"NOPE":1},"unresolved":{},"stuck":0})"));
  auto future = decode_counts("m/counts", R"({"v":2})");
  ASSERT_FALSE(future);
  EXPECT_EQ(future.error().code, store_errc::unknown_version);
}
