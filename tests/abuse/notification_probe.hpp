#pragma once

// Valid, signed notifications that keep flowing while a test abuses the
// server: a background thread POSTs one every `interval`, each on a fresh
// connection from 127.0.0.1 (as WeChat connects), and records how long the
// answer took. A test asks for the worst of those sent during its abuse.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/abuse/notification_maker.hpp"
#include "tests/abuse/raw_connection.hpp"

namespace paycoord::testing {

class notification_probe {
public:
  using clock = std::chrono::steady_clock;
  using milliseconds = std::chrono::milliseconds;

  /// One valid notification and its answer.
  struct sample {
    clock::time_point sent;
    milliseconds latency{0};
    /// The HTTP status; 0 when none came within the probe's 5 s bound.
    unsigned status = 0;
  };

  /// What the valid notifications of one period got.
  struct summary {
    milliseconds worst{0};
    std::size_t count = 0;
    /// Those not answered 204 (the contract's answer for a verified payment,
    /// first time or duplicate).
    std::size_t failed = 0;
    std::string first_failure;
  };

  /// Starts POSTing payment notifications of `orders` (round robin) to the
  /// notify route on 127.0.0.1:`port`.
  notification_probe(const notification_maker& maker, std::uint16_t port,
                     std::vector<paid_order> orders,
                     milliseconds interval = milliseconds{20})
    : maker_(maker), port_(port), orders_(std::move(orders)), interval_(interval),
      thread_([this] { run(); }) {
  }

  ~notification_probe() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    thread_.join();
  }

  notification_probe(const notification_probe&) = delete;
  notification_probe& operator=(const notification_probe&) = delete;

  /// The notifications sent in [from, to], once each has its answer: waits
  /// (at most 10 s) for one sent after `to` to finish, so that a request
  /// still hanging at `to` counts with its whole latency.
  summary between(clock::time_point from, clock::time_point to) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, std::chrono::seconds{10}, [&] {
      return !samples_.empty() && samples_.back().sent > to;
    });
    summary s;
    for (const auto& x : samples_) {
      if (x.sent < from || x.sent > to)
        continue;
      ++s.count;
      s.worst = std::max(s.worst, x.latency);
      if (x.status != 204) {
        if (s.failed++ == 0)
          s.first_failure = "status " + std::to_string(x.status) + " after "
                            + std::to_string(x.latency.count()) + " ms";
      }
    }
    if (samples_.empty() || samples_.back().sent <= to) {
      ++s.failed;
      s.first_failure = "the probe is stuck: no notification finished after the abuse";
    }
    return s;
  }

  /// Waits until `n` notifications were answered; false after `bound`.
  bool await_samples(std::size_t n, milliseconds bound) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, bound, [&] { return samples_.size() >= n; });
  }

private:
  void run() {
    std::size_t next = 0;
    auto due = clock::now();
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        if (changed_.wait_until(lock, due, [&] { return stopping_; }))
          return;
      }
      // Sealing (RSA signing) is ours, not the server's: not timed.
      auto request = maker_.payment_request(orders_[next++ % orders_.size()]);
      sample x;
      x.sent = clock::now();
      raw_connection c{port_};
      http_answer answer;
      if (c.await_connected(std::chrono::seconds{5}) && c.send(request)
          && c.read_until(answer, x.sent + std::chrono::seconds{5})
               == raw_connection::read_end::answer)
        x.status = answer.result_int();
      x.latency = std::chrono::duration_cast<milliseconds>(clock::now() - x.sent);
      {
        std::lock_guard lock(mutex_);
        samples_.push_back(x);
      }
      changed_.notify_all();
      due = std::max(due + interval_, clock::now());
    }
  }

  const notification_maker& maker_;
  const std::uint16_t port_;
  const std::vector<paid_order> orders_;
  const milliseconds interval_;

  // Guarded by mutex_.
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<sample> samples_;
  bool stopping_ = false;

  std::thread thread_; // last: starts once the rest is built
};

} // namespace paycoord::testing
