#include "demo/demo_config.hpp"

#include <algorithm>
#include <cmath>

#include "common/time.hpp"

namespace paycoord::demo {

using json = nlohmann::json;

namespace {

duration compress(duration d, int factor) {
  auto ms = static_cast<int64_t>(std::llround(static_cast<double>(d.count()) / factor));
  // Zero stays zero (e.g. close_not_before "0s"); anything else at least 1 ms.
  return duration{d.count() == 0 ? 0 : std::max<int64_t>(1, ms)};
}

} // namespace

json compress_durations(const json& value, int factor) {
  if (value.is_string()) {
    auto d = parse_duration(value.get<std::string>());
    if (!d)
      return value;
    return format_duration(compress(*d, factor));
  }
  if (value.is_array() || value.is_object()) {
    json out = value;
    for (auto& [key, item] : out.items())
      item = compress_durations(item, factor);
    return out;
  }
  return value;
}

json paycoord_patch(const json& example_schedule, const demo_options& opts) {
  return {
    {"schedule", compress_durations(example_schedule, opts.compression)},
    {"wechatpay", {{"rate_limit_qps", 100 * opts.compression}}},
  };
}

json paysim_patch(const demo_options& opts) {
  // A refund takes WeChat 30 s to 3 min of real time (paysim does not scale
  // these by time_factor).
  auto processing_min = format_duration(compress(std::chrono::seconds{30}, opts.compression));
  auto processing_max = format_duration(compress(std::chrono::minutes{3}, opts.compression));
  return {
    {"time_factor", 1.0 / opts.compression},
    {"seed", opts.seed},
    {"notify", {{"timeout", "2s"}}},
    {"faults",
     {{"notify",
       {{"drop_rate", 0},
        {"duplicate_rate", 0.1},
        {"probe_rate", 0.03},
        {"delay", "0ms"},
        {"reorder", "50ms"}}},
      {"refund",
       {{"processing_min", processing_min},
        {"processing_max", processing_max},
        {"closed_rate", refund_closed_rate},
        {"abnormal_rate", refund_abnormal_rate},
        {"notify_drop_rate", opts.lost_pct / 100.0},
        {"apply_error_rate", refund_apply_error_rate},
        {"apply_answer_lost_rate", refund_apply_answer_lost_rate}}}}},
  };
}

} // namespace paycoord::demo
