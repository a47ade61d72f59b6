#pragma once

// The customers of a run, as real ones behave: each opens the checkout at
// its arrival time (POST /v1/orders at paycoord, retried while paycoord is
// down, as a front end would), and the paying ones pay at WeChat (paysim's
// control API) after their think time.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <map>
#include <queue>
#include <string>
#include <vector>

#include "demo/order_log.hpp"
#include "demo/scenario.hpp"
#include "net/http_client.hpp"

namespace paycoord::demo {

struct customer_endpoints {
  /// POST {orders_url} creates an order (paycoord's public API).
  std::string orders_url;
  /// POST {pay_url_prefix}/{id}/pay pays it (paysim's control API).
  std::string pay_url_prefix;
};

class customer_driver {
public:
  /// `start` is the run's time zero (arrival offsets count from it). `stop`
  /// set: every customer gives up at once.
  customer_driver(const scenario& script, customer_endpoints endpoints, order_log& log,
                  int clients, std::chrono::steady_clock::time_point start,
                  const std::atomic<bool>& stop);

  /// Runs every customer; returns when each has created its order (or given
  /// up) and every paying one has paid. Blocks the caller.
  void run();

  /// The POST /v1/orders calls out at this moment (sent, not answered).
  /// Thread-safe: the soak reads it just before a kill -9.
  std::vector<create_call> creates_in_flight() const;

private:
  struct pay_job {
    std::chrono::steady_clock::time_point due;
    std::size_t index;
    bool operator>(const pay_job& other) const {
      return due > other.due;
    }
  };

  void create_orders();
  void pay_orders();
  /// True once the order exists at paycoord; false when the customer gave up.
  bool create_one(std::size_t index, net::http_client& client);
  void pay_one(std::size_t index, net::http_client& client);
  bool stopping() const {
    return stop_.load();
  }

  const scenario& script_;
  customer_endpoints endpoints_;
  order_log& log_;
  int clients_;
  std::chrono::steady_clock::time_point start_;
  const std::atomic<bool>& stop_;
  std::atomic<std::size_t> next_customer_{0};

  std::mutex mutex_;
  std::condition_variable wake_;
  // guarded by mutex_
  std::priority_queue<pay_job, std::vector<pay_job>, std::greater<>> pay_queue_;
  int creators_running_ = 0;

  mutable std::mutex in_flight_mutex_;
  // guarded by in_flight_mutex_
  std::map<std::size_t, int> creates_in_flight_; // customer -> attempt
};

} // namespace paycoord::demo
