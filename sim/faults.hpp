#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/time.hpp"
#include "config/config.hpp"
#include "sim/strict_json.hpp"

namespace paycoord::sim {

// What paysim does wrong on purpose. One shape serves the config file's
// `faults` section and `POST /control/faults`; rates are probabilities in
// [0, 1] drawn from paysim's seeded generator, durations are not scaled by
// `time_factor` (they are faults, not WeChat's schedule).

/// Faults of the WeChat Pay API (`faults.wechat`).
struct wechat_faults {
  /// Share of queries answered 500 SYSTEM_ERROR (signed, as WeChat does).
  double query_error_rate = 0;
  /// Share of queries answered 429 FREQUENCY_LIMITED.
  double query_throttle_rate = 0;
  /// Share of API responses (prepay, query, close) whose signature is a
  /// `WECHATPAY/SIGNTEST/` probe.
  double probe_rate = 0;
  /// Added before every API response (an asio timer; never blocks a thread).
  duration latency{0};
  /// Share of prepays answered 500 SYSTEM_ERROR without remembering the
  /// order: WeChat never knew it (queries 404, closes per
  /// `close_unknown_status`).
  double prepay_error_rate = 0;
  /// What a close of an id WeChat does not know answers: 204 (WeChat's
  /// documented answer) or 404 ORDER_NOT_EXIST (what it also does).
  int64_t close_unknown_status = 204;
  /// When not empty, the `message` of every error body of the WeChat API
  /// (WeChat's are often long and Chinese: multi-byte UTF-8).
  std::string error_message;

  friend bool operator==(const wechat_faults&, const wechat_faults&) = default;
};

/// Faults of the notifications paysim sends (`faults.notify`).
struct notify_faults {
  /// Share of notifications never sent at all (WeChat lost them).
  double drop_rate = 0;
  /// Share of notifications whose first attempt is sent twice at once.
  double duplicate_rate = 0;
  /// Share of notifications whose first attempt carries a probe signature
  /// (the retries on WeChat's schedule are signed properly).
  double probe_rate = 0;
  /// Extra wait before the first attempt of every notification.
  duration delay{0};
  /// Up to this much more (uniformly drawn per notification), so later
  /// notifications overtake earlier ones.
  duration reorder{0};

  friend bool operator==(const notify_faults&, const notify_faults&) = default;
};

/// `[start, end)` offsets from paysim's start during which the business
/// server is down.
struct down_window {
  duration start{0};
  duration end{0};

  friend bool operator==(const down_window&, const down_window&) = default;
};

/// Faults of the simulated business server (`faults.business`).
struct business_faults {
  /// While inside a window every callback is answered 503.
  std::vector<down_window> down;
  /// Share of callbacks answered 500 (not recorded as delivered).
  double error_rate = 0;
  /// Added before every answer (the delivery is recorded at once, so a
  /// latency beyond the caller's timeout models "processed, ack lost").
  duration latency{0};

  friend bool operator==(const business_faults&, const business_faults&) = default;
};

/// How WeChat resolves refunds, and what goes wrong with them
/// (`faults.refund`). Unlike the other sections, the processing delay is on
/// by default (1 to 3 s): an accepted refund is PROCESSING first, as at WeChat.
struct refund_faults {
  /// An accepted refund stays PROCESSING for a delay drawn uniformly from
  /// [processing_min, processing_max], then resolves (at most a day each).
  duration processing_min = std::chrono::seconds{1};
  duration processing_max = std::chrono::seconds{3};
  /// Share of accepted refunds that resolve CLOSED instead of SUCCESS.
  double closed_rate = 0;
  /// Share of the others that resolve ABNORMAL (a person must act at WeChat:
  /// `POST /control/refunds/{out_refund_no}/resolve`).
  double abnormal_rate = 0;
  /// Share of refund notifications never sent (only a refund query finds
  /// the outcome).
  double notify_drop_rate = 0;
  /// Share of applies answered 500 SYSTEM_ERROR without accepting the refund.
  double apply_error_rate = 0;
  /// Share of applies accepted and still answered 500 SYSTEM_ERROR (the
  /// answer is lost: a retry with the same out_refund_no gets the refund).
  double apply_answer_lost_rate = 0;

  friend bool operator==(const refund_faults&, const refund_faults&) = default;
};

struct fault_config {
  wechat_faults wechat;
  notify_faults notify;
  business_faults business;
  refund_faults refund;

  friend bool operator==(const fault_config&, const fault_config&) = default;
};

/// Applies the keys present in `faults` (the reader of a `faults` object) to
/// `out`; absent keys keep their value, so a control call can change one knob.
/// Errors go to the reader's error slot, naming the key; `out` may then be
/// partly changed, so apply to a copy.
void read_faults(strict_object& faults, fault_config& out);

/// The same shape as the config file's `faults` section, every key present.
nlohmann::json to_json(const fault_config& faults);

} // namespace paycoord::sim
