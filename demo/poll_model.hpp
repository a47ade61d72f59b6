#pragma once

// The original design, as a model: one global job every `period` queries
// WeChat for every order the business server still has as unpaid. An order
// is unpaid from its creation until its payment is known (its notification
// arrived, or the first poll after a lost one found it) or it expires. Times
// are real-world offsets on one timeline (the demo's times multiplied by its
// compression); polls run at `phase`, `phase + period`, ...

#include <cstdint>
#include <optional>
#include <vector>

#include "common/time.hpp"

namespace paycoord::demo {

struct poll_model {
  duration period = std::chrono::minutes{10};
  /// Orders stop being polled at their expiry (paycoord's default: 2 h).
  duration expiry = std::chrono::hours{2};
  /// The first poll, as an offset on the timeline (in [0, period)).
  duration phase{0};
};

/// One order, as offsets on the timeline.
struct polled_order {
  duration created{0};
  /// Paid at WeChat; none: never paid.
  std::optional<duration> paid;
  /// WeChat never delivered the notification: only a poll finds the payment.
  bool notification_lost = false;
};

struct poll_outcome {
  /// Queries the polls spend on the order up to `window_end`.
  int64_t queries = 0;
  /// A lost notification: from the payment to the poll that finds it.
  std::optional<duration> time_to_fix;
};

/// What the polls do for `order`, counting polls up to `window_end` (the
/// poll that fixes a lost notification is counted even past it).
poll_outcome simulate_polls(const poll_model& model, const polled_order& order,
                            duration window_end);

/// The number of polls `t` with `from < t <= to`.
int64_t polls_between(const poll_model& model, duration from, duration to);

/// The first poll at or after `t`.
duration next_poll(const poll_model& model, duration t);

/// The most orders any single poll queries at once (its burst at WeChat).
int64_t largest_poll(const poll_model& model, const std::vector<polled_order>& orders,
                     duration window_end);

} // namespace paycoord::demo
