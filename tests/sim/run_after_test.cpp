#include "sim/run_after.hpp"

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
using paycoord::sim::cancellable_timers;

TEST(cancellable_timers, a_due_timer_runs_its_work) {
  boost::asio::io_context io;
  cancellable_timers timers(io);
  std::atomic<int> ran{0};
  timers.run_after(10ms, [&] { ++ran; });
  timers.run_after(0ms, [&] { ++ran; }); // at once, on this thread
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(timers.pending(), 1u);
  io.run(); // returns when the timer has fired
  EXPECT_EQ(ran, 2);
  EXPECT_EQ(timers.pending(), 0u);
}

TEST(cancellable_timers, cancel_all_lets_the_io_threads_return_and_drops_the_work) {
  boost::asio::io_context io;
  cancellable_timers timers(io);
  std::atomic<bool> ran{false};
  timers.run_after(1h, [&] { ran = true; });
  auto finished = std::async(std::launch::async, [&] { io.run(); });
  EXPECT_EQ(finished.wait_for(50ms), std::future_status::timeout); // the hour keeps it busy
  timers.cancel_all();
  ASSERT_EQ(finished.wait_for(5s), std::future_status::ready);
  EXPECT_FALSE(ran);
  EXPECT_EQ(timers.pending(), 0u);

  // Cancelled for good: later work never runs, not even work due at once.
  timers.run_after(0ms, [&] { ran = true; });
  timers.run_after(1ms, [&] { ran = true; });
  io.restart();
  io.run();
  EXPECT_FALSE(ran);
  timers.cancel_all(); // idempotent
}

} // namespace
