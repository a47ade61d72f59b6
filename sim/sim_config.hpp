#pragma once

#include <cstdint>
#include <string>

#include "common/expected.hpp"
#include "common/time.hpp"
#include "config/config.hpp"
#include "sim/faults.hpp"

namespace paycoord::sim {

// -- the typed model (defaults in code; sim/README.md lists every key) ---------

/// Listener addresses, `host:port` each (port 0 picks a free one).
struct sim_listen_config {
  std::string wechat = "127.0.0.1:8090";
  std::string business = "127.0.0.1:9000";
  std::string control = "127.0.0.1:8091";
};

/// The sandbox's WeChat Pay identity and keys.
struct sim_wechatpay_config {
  std::string mchid;
  std::string appid;
  std::string apiv3_key; // secret
  /// When set, a request's `serial_no` must name it (hex, case-insensitive).
  std::string merchant_serial_no;
  /// Verifies the merchant's `Authorization` signatures.
  std::string merchant_public_key_file;
  /// Signs responses and notifications.
  std::string platform_private_key_file;
  /// Sent as `Wechatpay-Serial`.
  std::string platform_public_key_id;
  /// Replay window for the merchant's signed timestamps.
  duration max_clock_skew = std::chrono::minutes{5};
};

/// The simulated business server.
struct sim_business_config {
  std::string path = "/orders/paid";
  std::string secret; // secret
  /// Replay window for `X-Paycoord-Timestamp`.
  duration max_clock_skew = std::chrono::minutes{5};
};

/// How notifications are sent.
struct sim_notify_config {
  /// Worker threads (one blocking HTTP client each).
  int64_t workers = 4;
  /// Bound on one attempt (WeChat expects an answer within 5 s).
  duration timeout = std::chrono::seconds{5};
  /// Attempts waiting to be sent, at most; beyond it a new notification is
  /// refused (counted as dropped).
  int64_t max_pending = 100'000;
};

struct paysim_config {
  sim_listen_config listen;
  sim_wechatpay_config wechatpay;
  sim_business_config business;
  sim_notify_config notify;
  /// Scales WeChat's notification retry schedule (0.01: 15 s -> 150 ms).
  double time_factor = 1.0;
  /// Seeds every fault draw (and nothing else), so runs repeat.
  int64_t seed = 1;
  /// Orders (and unknown business keys) remembered, at most; then prepay
  /// answers 503.
  int64_t max_orders = 100'000;
  /// Threads running the listeners (used by app/paysim.cpp).
  int64_t threads = 2;
  fault_config faults;
};

/// Loads `file` (JSON, at most 1 MiB) over the defaults, strictly: unknown
/// keys, wrong types and out-of-range values are errors naming the key
/// (`faults.notify.drop_rate: 1.5 is outside [0, 1]`). Relative key file
/// paths resolve against the file's folder. Checks that the required keys
/// are set, not the keys' contents (`paysim::start` loads them). Never
/// throws; the reason never contains a secret's value.
expected<paysim_config, config_error> load_paysim_config(const std::string& file);

} // namespace paycoord::sim
