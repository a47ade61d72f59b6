#include "actors/token_bucket.hpp"

#include <cstdint>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

namespace paycoord {
namespace {

constexpr int64_t ms = 1'000'000; // nanoseconds

class token_bucket_test : public ::testing::Test {
protected:
  token_bucket make(int64_t rate, int64_t burst) {
    return token_bucket{rate, burst, [now = now_] { return *now; }};
  }

  void advance(int64_t ns) {
    *now_ += ns;
  }

  /// Takes every token available right now.
  static int drain(token_bucket& bucket) {
    int taken = 0;
    while (bucket.try_take())
      ++taken;
    return taken;
  }

  std::shared_ptr<int64_t> now_ = std::make_shared<int64_t>(5'000 * ms);
};

TEST_F(token_bucket_test, starts_full_with_the_burst) {
  auto bucket = make(100, 100);
  EXPECT_EQ(bucket.wait_ns(), 0);
  EXPECT_EQ(drain(bucket), 100);
  EXPECT_FALSE(bucket.try_take());
}

TEST_F(token_bucket_test, refills_one_token_per_interval) {
  auto bucket = make(100, 100);
  drain(bucket);
  EXPECT_EQ(bucket.interval_ns(), 10 * ms);
  EXPECT_EQ(bucket.wait_ns(), 10 * ms);
  advance(9 * ms);
  EXPECT_FALSE(bucket.try_take());
  EXPECT_EQ(bucket.wait_ns(), 1 * ms);
  advance(1 * ms);
  EXPECT_TRUE(bucket.try_take());
  EXPECT_FALSE(bucket.try_take());
  advance(35 * ms);
  EXPECT_EQ(drain(bucket), 3);
}

TEST_F(token_bucket_test, a_failed_take_costs_nothing) {
  auto bucket = make(10, 1);
  EXPECT_TRUE(bucket.try_take());
  for (int i = 0; i < 50; ++i)
    EXPECT_FALSE(bucket.try_take());
  advance(100 * ms);
  EXPECT_TRUE(bucket.try_take());
}

TEST_F(token_bucket_test, idle_time_never_saves_more_than_the_burst) {
  auto bucket = make(100, 20);
  advance(3'600'000 * ms);
  EXPECT_EQ(drain(bucket), 20);
}

TEST_F(token_bucket_test, a_backlog_after_a_restart_never_exceeds_the_rate) {
  // 10,000 overdue timers all ask at once, then keep asking every
  // millisecond: over ten seconds the bucket lets through the burst plus the
  // rate, never more.
  auto bucket = make(100, 100);
  int64_t started = 0;
  int64_t backlog = 10'000;
  for (int step = 0; step < 10'000 && backlog > 0; ++step) {
    while (backlog > 0 && bucket.try_take()) {
      ++started;
      --backlog;
    }
    advance(1 * ms);
  }
  EXPECT_LE(started, 100 + 100 * 10);
  EXPECT_GE(started, 100 * 10);
}

TEST_F(token_bucket_test, any_one_second_window_holds_at_most_burst_plus_rate) {
  auto bucket = make(50, 50);
  std::vector<int64_t> taken_at;
  for (int step = 0; step < 5'000; ++step) {
    while (bucket.try_take())
      taken_at.push_back(*now_);
    advance(1 * ms);
  }
  size_t first = 0;
  for (size_t last = 0; last < taken_at.size(); ++last) {
    while (taken_at[last] - taken_at[first] >= 1'000 * ms)
      ++first;
    EXPECT_LE(last - first + 1, 50u + 50u) << "window ending at " << taken_at[last];
  }
}

TEST_F(token_bucket_test, rounds_the_interval_up_so_rounding_never_speeds_it_up) {
  auto bucket = make(3, 1);
  EXPECT_EQ(bucket.interval_ns(), 333'333'334);
  EXPECT_TRUE(bucket.try_take());
  advance(333'333'333);
  EXPECT_FALSE(bucket.try_take());
  advance(1);
  EXPECT_TRUE(bucket.try_take());
}

} // namespace
} // namespace paycoord
