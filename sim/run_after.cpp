#include "sim/run_after.hpp"

#include <memory>

#include <boost/asio/steady_timer.hpp>

namespace paycoord::sim {

void run_after(boost::asio::io_context& io, duration delay, std::function<void()> fn) {
  if (delay <= duration::zero())
    return fn();
  auto timer = std::make_shared<boost::asio::steady_timer>(io, delay);
  // The handler owns the timer, so it lives until it fires (or the io_context
  // is destroyed with the handler still queued).
  timer->async_wait([timer, fn = std::move(fn)](const boost::system::error_code&) { fn(); });
}

} // namespace paycoord::sim
