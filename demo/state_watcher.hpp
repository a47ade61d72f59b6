#pragma once

// Asks paycoord (GET /v1/orders/{id}) about every order that was paid at
// WeChat and not yet seen CONFIRMED, over and over, so the live view can show
// how many customers have paid while their order still says unpaid.

#include <atomic>
#include <cstddef>
#include <string>
#include <thread>
#include <vector>

#include "demo/order_log.hpp"
#include "demo/scenario.hpp"

namespace paycoord::demo {

class state_watcher {
public:
  /// `order_url_prefix` + "/" + id is an order's URL at paycoord.
  state_watcher(const scenario& script, std::string order_url_prefix, order_log& log);

  /// Stops and joins the thread.
  ~state_watcher();

  state_watcher(const state_watcher&) = delete;
  state_watcher& operator=(const state_watcher&) = delete;

  /// Starts watching on a thread of its own.
  void start();
  void stop();

  /// Reads the current state of `indices` once, from `threads` threads at
  /// once, into the log (blocking). Orders paycoord cannot answer for keep
  /// their last known state.
  void read_states(const std::vector<std::size_t>& indices, int threads) const;

private:
  void watch();

  const scenario& script_;
  std::string order_url_prefix_;
  order_log& log_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

} // namespace paycoord::demo
