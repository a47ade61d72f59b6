#include "sim/run_after.hpp"

namespace paycoord::sim {

void run_after(boost::asio::io_context& io, duration delay, std::function<void()> fn) {
  if (delay <= duration::zero())
    return fn();
  auto timer = std::make_shared<boost::asio::steady_timer>(io, delay);
  // The handler owns the timer, so it lives until it fires (or the io_context
  // is destroyed with the handler still queued).
  timer->async_wait([timer, fn = std::move(fn)](const boost::system::error_code&) { fn(); });
}

cancellable_timers::cancellable_timers(boost::asio::io_context& io) : io_(io) {
}

void cancellable_timers::run_after(duration delay, std::function<void()> fn) {
  if (delay <= duration::zero()) {
    {
      std::lock_guard lock(mutex_);
      if (cancelled_)
        return;
    }
    return fn();
  }
  std::lock_guard lock(mutex_);
  if (cancelled_)
    return;
  auto id = next_id_++;
  auto timer = std::make_shared<boost::asio::steady_timer>(io_, delay);
  pending_.emplace(id, timer);
  // Only this class calls the timer's members, always under mutex_; the
  // handler just holds it alive. A cancelled wait completes with an error:
  // its work is dropped.
  timer->async_wait([this, id, timer, fn = std::move(fn)](const boost::system::error_code& ec) {
    {
      std::lock_guard lock(mutex_);
      pending_.erase(id);
      if (ec || cancelled_)
        return;
    }
    fn();
  });
}

void cancellable_timers::cancel_all() {
  std::lock_guard lock(mutex_);
  cancelled_ = true;
  for (auto& [id, timer] : pending_)
    timer->cancel();
  pending_.clear();
}

std::size_t cancellable_timers::pending() const {
  std::lock_guard lock(mutex_);
  return pending_.size();
}

} // namespace paycoord::sim
