#pragma once

// The run's script, drawn from the seed before anything starts: who arrives
// when, who pays after how long, whose notification WeChat loses, who asks
// for a refund, and when the business server goes down and paycoord is
// killed. All offsets are demo time from the start of the run.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/time.hpp"
#include "demo/demo_options.hpp"

namespace paycoord::demo {

/// What a customer's refund request is for (the report judges each kind by
/// its own rule).
enum class refund_request_kind {
  refund,      ///< a refund the customer wants: must end settled and delivered
  repeat,      ///< the first request sent again (a double submit): must answer 200
  over_refund, ///< one fen more than is left: must answer 409 REFUND_EXCEEDS_PAID
};

const char* to_string(refund_request_kind k);

/// One refund a customer asks for.
struct refund_step {
  std::string out_refund_no;
  int64_t amount = 0; // fen, 1..the order's total
  /// The first step: from the order seen CONFIRMED; the second: from the
  /// first step's answer.
  duration wait{0};
  /// When WeChat parks this refund ABNORMAL, a person fixes it at WeChat
  /// this long after paycoord shows it; none: it stays parked.
  std::optional<duration> fix_after;
};

/// A customer's refunds: one or two steps that together never exceed the
/// order's total, and perhaps a repeat or an over-refund to test paycoord.
struct refund_plan {
  std::vector<refund_step> steps;
  /// The first step's request is sent again as soon as it is answered.
  bool repeat_first = false;
  /// Once the steps are answered and past PROCESSING, after this long the
  /// customer asks for one fen more than is left (`over_refund_no`).
  std::optional<duration> over_refund_after;
  std::string over_refund_no;
};

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
  /// Asks for a refund once the order is CONFIRMED (only payers).
  std::optional<refund_plan> refund;
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
/// Of the customers asking for a refund: half want it all back, the others
/// part of it; of those, this share in two steps.
inline constexpr double refund_partial_share = 0.5;
inline constexpr double refund_two_step_share = 0.4;
/// Of the customers asking for a refund, the share who send the first
/// request twice, and the share who then ask for more than is left.
inline constexpr double refund_repeat_share = 0.2;
inline constexpr double refund_over_share = 0.2;
/// Of the refunds WeChat parks ABNORMAL, the share a person fixes.
inline constexpr double refund_fix_share = 0.67;

/// The script for `opts` (orders, arrival_rate, lost_pct, refund_pct, seed,
/// crash, compression). The same options give the same scenario. Think
/// times and refund waits are drawn at real-world scale (most customers pay
/// within a minute, a few take up to eight; a refund comes 30 s to 8 min
/// after the confirmation) and divided by the compression. Refund plans come
/// from a generator of their own, so `refund_pct` changes nothing else.
scenario make_scenario(const demo_options& opts);

/// The order id of customer `index` in a run seeded with `seed`.
std::string order_id(uint64_t seed, int index);

/// The `out_refund_no` of a customer's refund request: the order id and
/// `suffix` ("R1", "R2", "RX").
std::string refund_id(const std::string& out_trade_no, const char* suffix);

} // namespace paycoord::demo
