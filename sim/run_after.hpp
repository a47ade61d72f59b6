#pragma once

#include <functional>

#include <boost/asio/io_context.hpp>

#include "common/time.hpp"

namespace paycoord::sim {

/// Runs `fn` after `delay` on `io` via an asio steady_timer, or at once (on
/// the calling thread) when `delay` is not positive. Never blocks: this is
/// how paysim's simulated latency waits without holding an io thread.
void run_after(boost::asio::io_context& io, duration delay, std::function<void()> fn);

} // namespace paycoord::sim
