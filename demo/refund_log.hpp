#pragma once

// What the demo's customers saw of their refund requests, as it happened:
// every request (a refund, its repeat, an over-refund), paycoord's answer,
// the refund's state at paycoord and whether the business server has heard
// it. Thread-safe: the refund driver's workers write, the live view and the
// report read.

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "demo/scenario.hpp"

namespace paycoord::demo {

/// One refund request as seen from outside paycoord. Times are unix
/// milliseconds, 0 = not (yet).
struct refund_trace {
  /// The customer (index in the scenario) and what the request is for.
  std::size_t customer = 0;
  refund_request_kind kind = refund_request_kind::refund;
  std::string out_trade_no;
  std::string out_refund_no;
  int64_t amount = 0;
  /// The first POST was sent; the calls it took (more than one: paycoord
  /// was down or restarting).
  int64_t sent_ms = 0;
  int attempts = 0;
  /// The answer that ended the request: 201, 202, 200, a 4xx or 502; 0 while
  /// none came. `code` is the error code of a refusal.
  int status = 0;
  std::string code;
  int64_t answered_ms = 0;
  /// paycoord's state of the refund, from the answer and then GET; empty
  /// while unknown.
  std::string state;
  /// A person is to fix this refund at WeChat if it is parked ABNORMAL,
  /// `fix_after_ms` after paycoord shows it.
  bool fix_planned = false;
  int64_t fix_after_ms = 0;
  int64_t abnormal_seen_ms = 0;
  /// When the demo resolved it at WeChat (POST /control/refunds/{no}/resolve).
  int64_t fixed_ms = 0;
  /// The business server has the callback of `state` (paysim's record).
  bool delivered = false;
  /// Nothing more to wait for: final (or parked for good) and delivered, or
  /// a repeat or an over-refund that was answered.
  bool settled = false;
};

/// The paycoord answer made a refund that paycoord holds (201, 202, 200, or
/// 502 REFUND_REFUSED: held, CLOSED).
bool refund_held(int status);

/// SUCCESS, CLOSED or ABNORMAL: paycoord has nothing more to ask WeChat
/// (an ABNORMAL one waits for a person).
bool refund_state_settles(const std::string& state);

/// Counts for the live view.
struct refund_counts {
  /// Refunds asked for (kind refund) and answered by paycoord.
  int requested = 0;
  int succeeded = 0; ///< SUCCESS at paycoord
  int delivered_succeeded = 0;
  int abnormal = 0; ///< ABNORMAL at paycoord now
  int settled = 0;
  int total = 0; ///< refunds asked for so far
};

class refund_log {
public:
  /// Adds a request; returns its index.
  std::size_t add(refund_trace trace);
  /// A copy of request `index`.
  refund_trace get(std::size_t index) const;
  /// Replaces request `index` (one worker owns a customer's requests).
  void put(std::size_t index, refund_trace trace);

  refund_counts counts() const;
  /// A copy of every request, in the order they were added.
  std::vector<refund_trace> snapshot() const;

private:
  mutable std::mutex mutex_;
  // guarded by mutex_
  std::vector<refund_trace> traces_;
};

} // namespace paycoord::demo
