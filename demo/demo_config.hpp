#pragma once

// The demo's configs, as patches over config/paycoord.example.json and
// config/paysim.example.json: paycoord's whole schedule and WeChat's
// notification retries divided by the compression, paysim's faults.

#include <nlohmann/json.hpp>

#include "demo/demo_options.hpp"

namespace paycoord::demo {

/// Every duration string in `value` (a string, or a list or object holding
/// them, like a `schedule` section) divided by `factor`, rounded to whole
/// milliseconds and at least 1 ms: "5s" / 60 -> "83ms", ["1m"] -> ["1s"].
/// Other values are kept.
nlohmann::json compress_durations(const nlohmann::json& value, int factor);

/// Merged into paycoord's example config: `example_schedule` compressed
/// (the refund schedule, `refund_verify` and `refund_verify_every`, too), and
/// the WeChat rate limit raised by the same factor (the run's requests come
/// that much faster).
nlohmann::json paycoord_patch(const nlohmann::json& example_schedule,
                              const demo_options& opts);

/// WeChat's refund faults in the demo (paysim's seeded draws): refunds that
/// end CLOSED or ABNORMAL, applies answered 500 having accepted nothing, and
/// applies accepted whose answer is lost.
inline constexpr double refund_closed_rate = 0.03;
inline constexpr double refund_abnormal_rate = 0.08;
inline constexpr double refund_apply_error_rate = 0.05;
inline constexpr double refund_apply_answer_lost_rate = 0.05;

/// Merged into paysim's example config: WeChat's retry schedule compressed
/// (`time_factor`), the seed, and the faults drawn by paysim: duplicated,
/// delayed and reordered notifications, probe-signed first attempts, and
/// the refund faults above with `lost_pct`% of refund notifications lost and
/// a refund's processing (30 s to 3 min real) compressed. Lost payment
/// notifications and the business outage are the scenario's, not paysim's
/// draws.
nlohmann::json paysim_patch(const demo_options& opts);

} // namespace paycoord::demo
