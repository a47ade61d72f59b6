#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/time.hpp"

namespace paycoord::sim {

/// Runs `fn` after `delay` on `io` via an asio steady_timer, or at once (on
/// the calling thread) when `delay` is not positive. Never blocks: this is
/// how paysim's simulated latency waits without holding an io thread.
void run_after(boost::asio::io_context& io, duration delay, std::function<void()> fn);

/// `run_after` for work that may wait long (a refund's deadline): the timers
/// can all be cancelled at once, so that a stopping paysim's io threads need
/// not wait for them. Thread-safe. At most one entry per pending timer.
class cancellable_timers {
public:
  explicit cancellable_timers(boost::asio::io_context& io);

  /// Runs `fn` after `delay` (at once, on the calling thread, when it is not
  /// positive) unless `cancel_all` comes first; then `fn` never runs. After
  /// `cancel_all`, does nothing.
  void run_after(duration delay, std::function<void()> fn);

  /// Cancels every pending timer and refuses new ones. Idempotent.
  void cancel_all();

  std::size_t pending() const;

private:
  boost::asio::io_context& io_;
  mutable std::mutex mutex_;
  // -- guarded by mutex_ (so is every call on a timer here) ---------------------------
  std::map<uint64_t, std::shared_ptr<boost::asio::steady_timer>> pending_;
  uint64_t next_id_ = 0;
  bool cancelled_ = false;
};

} // namespace paycoord::sim
