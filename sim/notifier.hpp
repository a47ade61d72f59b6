#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <queue>
#include <string>
#include <thread>
#include <vector>

#include "common/time.hpp"
#include "net/http_client.hpp"
#include "net/wechatpay/notification_opener.hpp"
#include "sim/sandbox_signer.hpp"
#include "sim/sim_state.hpp"

namespace paycoord::sim {

/// WeChat's notification retry schedule: the waits after the first, second,
/// ... failed attempt (15 retries, 24 h 4 min in all), before `time_factor`.
const std::vector<duration>& wechat_retry_schedule();

/// Sends notifications the way WeChat Pay does: each attempt sealed afresh
/// (resource encrypted with the APIv3 key, body signed with the platform
/// key), POSTed to the order's notify_url by a pool of worker threads with
/// one blocking HTTP client each, and retried on WeChat's schedule (scaled by
/// `time_factor`) until answered 2xx or the schedule ends. Faults (drop,
/// duplicate, delay, reorder, probe) are drawn from `sim_state` per job.
///
/// Thread-safe. The destructor stops the workers (an attempt in flight ends
/// within `timeout`); queued attempts are dropped.
class notifier {
public:
  struct options {
    std::size_t workers = 4;
    duration timeout = std::chrono::seconds{5};
    double time_factor = 1.0;
    std::size_t max_pending = 100'000;
    std::string apiv3_key;
  };

  notifier(options opts, sim_state& state, const sandbox_signer& signer);
  ~notifier();

  notifier(const notifier&) = delete;
  notifier& operator=(const notifier&) = delete;

  /// Plans and queues `job`. Returns false when the queue is full (the job
  /// is then counted as refused, never sent).
  bool submit(notification_job job);

  /// Attempts queued and not yet started.
  std::size_t pending() const;

  /// Drops every queued attempt (for a reset).
  void clear();

private:
  struct attempt {
    std::chrono::steady_clock::time_point due;
    uint64_t sequence; // FIFO among equal due times
    notification_job job;
    std::size_t number = 0;      // 0 for the first attempt
    bool probe = false;          // carry a probe signature
    bool duplicate_copy = false; // the extra copy of a duplicated attempt: never retried

    bool operator>(const attempt& other) const {
      return due != other.due ? due > other.due : sequence > other.sequence;
    }
  };

  /// The notification as WeChat would send it now: resource encrypted,
  /// envelope signed (or probe-signed).
  expected<wechatpay::sealed_notification, wechatpay::protocol_error>
  seal(const notification_job& job, bool probe) const;
  void run_worker();
  void deliver(const attempt& item, net::http_client& client);
  bool push(attempt item); // mutex_ held

  const options options_;
  sim_state& state_;
  const sandbox_signer& signer_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  // -- guarded by mutex_ -------------------------------------------------------------
  std::priority_queue<attempt, std::vector<attempt>, std::greater<>> queue_;
  uint64_t next_sequence_ = 0;
  bool stopping_ = false;
  // -- set up by the constructor, joined by the destructor ---------------------------
  std::vector<std::thread> workers_;
};

} // namespace paycoord::sim
