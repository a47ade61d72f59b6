#include "sim/faults.hpp"

#include <nlohmann/json.hpp>

namespace paycoord::sim {

using json = nlohmann::json;

namespace {

void read_rate(strict_object& section, std::string_view key, double& out) {
  section.number(key, out, 0.0, 1.0);
}

void read_close_unknown_status(strict_object& section, int64_t& out) {
  int64_t status = out;
  section.integer("close_unknown_status", status, 0, 999);
  if (status != 204 && status != 404)
    return section.fail("close_unknown_status", std::to_string(status) + " is not 204 or 404");
  out = status;
}

/// Bounded so that a control call cannot make every error answer huge; the
/// JSON parser has already checked that the text is valid UTF-8.
void read_error_message(strict_object& section, std::string& out) {
  constexpr std::size_t max_bytes = 4096;
  std::string message = out;
  section.text("error_message", message);
  if (message.size() > max_bytes)
    return section.fail("error_message", "is longer than " + std::to_string(max_bytes) + " bytes");
  out = std::move(message);
}

void read_windows(strict_object& section, std::vector<down_window>& out) {
  const json* value = section.raw("down");
  if (value == nullptr)
    return;
  constexpr auto shape = "expected a list of [\"start\", \"end\"] duration pairs";
  if (!value->is_array())
    return section.fail("down", shape);
  std::vector<down_window> windows;
  for (auto& pair : *value) {
    if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string() || !pair[1].is_string())
      return section.fail("down", shape);
    auto start = parse_duration(pair[0].get<std::string>());
    auto end = parse_duration(pair[1].get<std::string>());
    if (!start || !end || *end <= *start)
      return section.fail("down", pair.dump() + ": need two durations with start < end");
    windows.push_back({*start, *end});
  }
  out = std::move(windows);
}

/// The processing window, checked as a whole: a control call may move one end.
void read_refund(strict_object& section, refund_faults& out) {
  constexpr duration max_processing = std::chrono::hours{24};
  section.span("processing_min", out.processing_min);
  section.span("processing_max", out.processing_max);
  if (out.processing_max > max_processing)
    section.fail("processing_max", format_duration(out.processing_max) + " is longer than 24h");
  if (out.processing_min > out.processing_max)
    section.fail("processing_max", format_duration(out.processing_max)
                                       + " is shorter than processing_min "
                                       + format_duration(out.processing_min));
  read_rate(section, "closed_rate", out.closed_rate);
  read_rate(section, "abnormal_rate", out.abnormal_rate);
  read_rate(section, "notify_drop_rate", out.notify_drop_rate);
  read_rate(section, "apply_error_rate", out.apply_error_rate);
  read_rate(section, "apply_answer_lost_rate", out.apply_answer_lost_rate);
}

} // namespace

void read_faults(strict_object& faults, fault_config& out) {
  if (auto wechat = faults.object("wechat")) {
    read_rate(*wechat, "query_error_rate", out.wechat.query_error_rate);
    read_rate(*wechat, "query_throttle_rate", out.wechat.query_throttle_rate);
    read_rate(*wechat, "probe_rate", out.wechat.probe_rate);
    wechat->span("latency", out.wechat.latency);
    read_rate(*wechat, "prepay_error_rate", out.wechat.prepay_error_rate);
    read_close_unknown_status(*wechat, out.wechat.close_unknown_status);
    read_error_message(*wechat, out.wechat.error_message);
    wechat->reject_unknown_keys();
  }
  if (auto notify = faults.object("notify")) {
    read_rate(*notify, "drop_rate", out.notify.drop_rate);
    read_rate(*notify, "duplicate_rate", out.notify.duplicate_rate);
    read_rate(*notify, "probe_rate", out.notify.probe_rate);
    notify->span("delay", out.notify.delay);
    notify->span("reorder", out.notify.reorder);
    notify->reject_unknown_keys();
  }
  if (auto business = faults.object("business")) {
    read_windows(*business, out.business.down);
    read_rate(*business, "error_rate", out.business.error_rate);
    business->span("latency", out.business.latency);
    business->reject_unknown_keys();
  }
  if (auto refund = faults.object("refund")) {
    read_refund(*refund, out.refund);
    refund->reject_unknown_keys();
  }
  faults.reject_unknown_keys();
}

json to_json(const fault_config& faults) {
  json windows = json::array();
  for (auto& w : faults.business.down)
    windows.push_back({format_duration(w.start), format_duration(w.end)});
  return {
    {"wechat",
     {{"query_error_rate", faults.wechat.query_error_rate},
      {"query_throttle_rate", faults.wechat.query_throttle_rate},
      {"probe_rate", faults.wechat.probe_rate},
      {"latency", format_duration(faults.wechat.latency)},
      {"prepay_error_rate", faults.wechat.prepay_error_rate},
      {"close_unknown_status", faults.wechat.close_unknown_status},
      {"error_message", faults.wechat.error_message}}},
    {"notify",
     {{"drop_rate", faults.notify.drop_rate},
      {"duplicate_rate", faults.notify.duplicate_rate},
      {"probe_rate", faults.notify.probe_rate},
      {"delay", format_duration(faults.notify.delay)},
      {"reorder", format_duration(faults.notify.reorder)}}},
    {"business",
     {{"down", windows},
      {"error_rate", faults.business.error_rate},
      {"latency", format_duration(faults.business.latency)}}},
    {"refund",
     {{"processing_min", format_duration(faults.refund.processing_min)},
      {"processing_max", format_duration(faults.refund.processing_max)},
      {"closed_rate", faults.refund.closed_rate},
      {"abnormal_rate", faults.refund.abnormal_rate},
      {"notify_drop_rate", faults.refund.notify_drop_rate},
      {"apply_error_rate", faults.refund.apply_error_rate},
      {"apply_answer_lost_rate", faults.refund.apply_answer_lost_rate}}},
  };
}

} // namespace paycoord::sim
