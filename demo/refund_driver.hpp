#pragma once

// The customers who want their money back, as real ones (and a careless
// front end) behave: once their order is seen CONFIRMED and their wait is
// over, each asks paycoord for its refunds (POST /v1/orders/{id}/refunds,
// retried with the same out_refund_no while paycoord is down), sends the
// first request twice or asks for more than is left when the scenario says
// so, and follows each refund until paycoord has settled it and the business
// server has heard it. A refund WeChat parks ABNORMAL is fixed at WeChat by
// "a person" (paysim's control API) when the scenario says so.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <thread>
#include <vector>

#include "demo/order_log.hpp"
#include "demo/refund_log.hpp"
#include "demo/scenario.hpp"
#include "net/http_client.hpp"

namespace paycoord::demo {

struct refund_endpoints {
  /// {orders_url_prefix}/{id}/refunds[/{no}] (paycoord's public API).
  std::string orders_url_prefix;
  /// {control_refunds_prefix}/{no}[/resolve] (paysim's control API).
  std::string control_refunds_prefix;
};

class refund_driver {
public:
  /// `orders` tells when an order is CONFIRMED; `customers_done` set means
  /// every customer has paid or given up (so one who never paid is skipped).
  refund_driver(const scenario& script, refund_endpoints endpoints, const order_log& orders,
                refund_log& log, const std::atomic<bool>& customers_done);

  /// Stops and joins the workers.
  ~refund_driver();

  refund_driver(const refund_driver&) = delete;
  refund_driver& operator=(const refund_driver&) = delete;

  /// Starts the workers (threads of their own).
  void start();
  /// Every customer gives up at once; joins the workers.
  void stop();

  /// Every refund customer is done: each request answered, each refund
  /// SUCCESS, CLOSED or (left) ABNORMAL at paycoord and its callback at the
  /// business server; customers who never paid skipped. Thread-safe.
  bool settled() const;

  /// Customers of the script who ask for a refund.
  std::size_t customers() const {
    return progress_.size();
  }

  /// After `stop`: reads paycoord's state and the business server's record
  /// of every refund not yet settled, once (blocking; no fixes).
  void read_states();

private:
  using steady = std::chrono::steady_clock;

  /// One refund customer's way through its plan; touched by one worker at a
  /// time (the one that popped its job).
  struct progress {
    std::size_t customer = 0;
    bool confirmed = false;
    std::size_t next_step = 0;
    steady::time_point next_step_at{};
    /// Log indices of its refund requests (kind refund).
    std::vector<std::size_t> requests;
    std::optional<steady::time_point> over_refund_at;
    bool over_refund_done = false;
  };

  struct job {
    steady::time_point due;
    std::size_t index; // into progress_
    bool operator>(const job& other) const {
      return due > other.due;
    }
  };

  void work();
  /// Does what is due for customer `index`; the next time it needs a look,
  /// or none when it is done.
  std::optional<steady::time_point> advance(std::size_t index, net::http_client& client);
  /// Sends one refund request until paycoord answers it (or the customer
  /// gives up); returns its log index.
  std::size_t request(net::http_client& client, std::size_t customer, refund_request_kind kind,
                      const std::string& out_refund_no, int64_t amount,
                      std::optional<duration> fix_after);
  /// One look at refund `index`: paycoord's state, the business server's
  /// record, and the fix at WeChat when it is due (`may_fix`).
  void watch(net::http_client& client, std::size_t index, bool may_fix);

  const scenario& script_;
  refund_endpoints endpoints_;
  const order_log& orders_;
  refund_log& log_;
  const std::atomic<bool>& customers_done_;
  std::vector<progress> progress_;
  std::atomic<std::size_t> finished_{0};
  std::atomic<bool> stop_{false};
  std::vector<std::thread> workers_;

  std::mutex mutex_;
  std::condition_variable wake_;
  // guarded by mutex_
  std::priority_queue<job, std::vector<job>, std::greater<>> queue_;
};

} // namespace paycoord::demo
