#pragma once

// The run's script, drawn from the seed before anything starts: who arrives
// when, who pays after how long, whose notification WeChat loses, and when
// the business server goes down and paycoord is killed. All offsets are
// demo time from the start of the run.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/time.hpp"
#include "demo/demo_options.hpp"

namespace paycoord::demo {

/// One customer and the order they create.
struct customer {
  std::string out_trade_no;
  int64_t amount = 0; // fen
  /// When the customer opens the checkout (POST /v1/orders).
  duration arrive_at{0};
  /// False: the customer abandons the checkout and never pays.
  bool pays = false;
  /// From the order's creation to the payment at WeChat.
  duration think{0};
  /// WeChat never sends this payment's notification.
  bool notification_lost = false;
};

/// `[from, to)` offsets of the run.
struct time_window {
  duration from{0};
  duration to{0};
};

struct scenario {
  std::vector<customer> customers;
  /// Customers arrive evenly over this span.
  duration arrival_span{0};
  /// The business server answers 503 to every callback.
  time_window business_outage;
  /// When paycoord gets SIGKILL (then it is restarted at once); none with
  /// `--no-crash`.
  std::optional<duration> kill_at;
  /// See `demo_options::compression`.
  int compression = 60;
};

/// The shortest arrival span (`demo_options::arrival_rate` gives the rest).
inline constexpr duration min_arrival_span = std::chrono::seconds{10};
/// Share of customers who pay.
inline constexpr double pay_share = 0.85;

/// The script for `opts` (orders, arrival_rate, lost_pct, seed, crash,
/// compression). The same options give the same scenario. Think times are
/// drawn at real-world scale (most customers pay within a minute, a few take
/// up to eight) and divided by the compression.
scenario make_scenario(const demo_options& opts);

/// The order id of customer `index` in a run seeded with `seed`.
std::string order_id(uint64_t seed, int index);

} // namespace paycoord::demo
