// The original design's model: a global poll every 10 minutes over every
// order the business server still has as unpaid.

#include "demo/poll_model.hpp"

#include <gtest/gtest.h>

using namespace paycoord;
using namespace paycoord::demo;
using namespace std::chrono_literals;

namespace {

poll_model every_10_min(duration phase = 0ms) {
  poll_model m;
  m.phase = phase;
  return m;
}

} // namespace

TEST(poll_model, polls_run_at_the_phase_and_every_period) {
  auto m = every_10_min(3min);
  EXPECT_EQ(next_poll(m, 0ms), 3min);
  EXPECT_EQ(next_poll(m, 3min), 3min);
  EXPECT_EQ(next_poll(m, 3min + 1ms), 13min);
  EXPECT_EQ(polls_between(m, 0ms, 3min), 1);
  EXPECT_EQ(polls_between(m, 3min, 13min), 1);
  EXPECT_EQ(polls_between(m, 0ms, 2h), 12);
  EXPECT_EQ(polls_between(m, 5min, 5min), 0);
}

TEST(poll_model, a_lost_notification_waits_for_the_next_poll) {
  auto m = every_10_min();
  polled_order o{1min, 4min, true};
  auto out = simulate_polls(m, o, 1h);
  ASSERT_TRUE(out.time_to_fix);
  EXPECT_EQ(*out.time_to_fix, 6min);
  // The poll at 10 min finds it; it is its only query.
  EXPECT_EQ(out.queries, 1);
}

TEST(poll_model, the_worst_wait_is_a_whole_period) {
  auto m = every_10_min();
  polled_order o{0ms, 10min + 1ms, true};
  EXPECT_EQ(*simulate_polls(m, o, 1h).time_to_fix, 10min - 1ms);
}

TEST(poll_model, an_order_paid_with_its_notification_costs_the_polls_before_the_payment) {
  auto m = every_10_min();
  polled_order o{5min, 25min + 30s, false};
  auto out = simulate_polls(m, o, 2h);
  EXPECT_FALSE(out.time_to_fix);
  EXPECT_EQ(out.queries, 2); // at 10 and 20 min
}

TEST(poll_model, a_never_paid_order_is_polled_until_its_expiry_or_the_window_end) {
  auto m = every_10_min();
  EXPECT_EQ(simulate_polls(m, {0ms, std::nullopt, false}, 10h).queries, 12);
  EXPECT_EQ(simulate_polls(m, {0ms, std::nullopt, false}, 35min).queries, 3);
}

TEST(poll_model, mean_time_to_fix_over_uniform_payments_is_half_a_period) {
  auto m = every_10_min();
  double total = 0;
  constexpr int n = 600;
  for (int i = 0; i < n; ++i) {
    auto at = duration{static_cast<int64_t>(i) * 1000 + 1};
    total += static_cast<double>(simulate_polls(m, {0ms, at, true}, 1h).time_to_fix->count());
  }
  EXPECT_NEAR(total / n / 1000.0, 300.0, 1.0);
}

TEST(poll_model, the_largest_poll_counts_every_order_unpaid_at_that_moment) {
  auto m = every_10_min();
  std::vector<polled_order> orders{
    {0ms, std::nullopt, false}, // unpaid: in every poll up to the window end
    {1min, 5min, false},        // paid before the first poll
    {2min, 3min, true},         // lost: found by the first poll
    {11min, std::nullopt, false},
  };
  // Poll at 10 min: the first and the third; at 20 min: the first and the fourth.
  EXPECT_EQ(largest_poll(m, orders, 30min), 2);
}
