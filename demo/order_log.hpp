#pragma once

// What the demo's customers and its watcher saw of each order, as it
// happened. Thread-safe: customers, the watcher and the progress view use it
// at once.

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace paycoord::demo {

/// One order as seen from outside paycoord. Times are unix milliseconds,
/// 0 = not (yet).
struct order_trace {
  /// POST /v1/orders answered 201 or 200.
  int64_t created_ms = 0;
  /// Calls of POST /v1/orders it took (more than one: paycoord was down).
  int create_attempts = 0;
  /// The customer gave up creating (paycoord never answered).
  bool create_failed = false;
  /// The answer that ended the creating: 201, or 200 when an earlier call
  /// had stored the order already and its answer was lost (a kill -9 after
  /// the sync). 0 while not created.
  int create_status = 0;
  /// WeChat has charged the customer: when the payment call (answered 200)
  /// was sent.
  int64_t paid_ms = 0;
  /// The state paycoord last reported (GET /v1/orders/{id}); empty: never read.
  std::string state;
  /// `paid_via` and `late` from the same answer.
  std::string paid_via;
  bool late = false;
  /// When the watcher first saw CONFIRMED.
  int64_t confirmed_seen_ms = 0;
};

/// A POST /v1/orders that is out: the customer and which attempt it is
/// (1 = the first). A later attempt in the trace means this one was cut.
struct create_call {
  std::size_t index = 0;
  int attempt = 0;
};

/// Counts for the live view.
struct order_counts {
  int created = 0;
  int create_failed = 0;
  int create_retries = 0;
  int paid = 0;
  /// Paid at WeChat, paycoord still says PENDING: the incident's symptom,
  /// until a notification or a query resolves it.
  int paid_but_pending = 0;
  /// Paid and known to paycoord (PAID), not yet acknowledged by the business.
  int paid_forwarding = 0;
  int confirmed = 0;
  /// Paid, but paycoord has not been asked yet (or could not answer).
  int paid_unknown = 0;
};

class order_log {
public:
  explicit order_log(std::size_t orders);

  void record_create_attempt(std::size_t index);
  void record_created(std::size_t index, int64_t now_ms, int status);
  void record_create_failed(std::size_t index);
  void record_paid(std::size_t index, int64_t now_ms);

  /// A state read from paycoord; marks `confirmed_seen_ms` the first time it
  /// is CONFIRMED.
  void record_state(std::size_t index, const std::string& state, const std::string& paid_via,
                    bool late, int64_t now_ms);

  /// Orders paid at WeChat that the watcher has not yet seen CONFIRMED.
  std::vector<std::size_t> paid_unconfirmed() const;

  order_counts counts() const;

  /// A copy of every trace, by customer index.
  std::vector<order_trace> snapshot() const;

  /// A copy of one customer's trace.
  order_trace trace(std::size_t index) const;

private:
  mutable std::mutex mutex_;
  // guarded by mutex_
  std::vector<order_trace> traces_;
};

} // namespace paycoord::demo
