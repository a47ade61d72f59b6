#pragma once

#include "common/expected.hpp"
#include "common/time.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace paycoord {

// -- the typed model (defaults in code; CONTRACTS.md §2, config/README.md) ----

/// Listener addresses, `host:port` each (JSON keys listen.public, listen.admin,
/// listen.metrics).
struct listen_config {
  std::string public_endpoint = "127.0.0.1:8080";
  std::string admin = "127.0.0.1:8081";
  std::string metrics = "127.0.0.1:9464";
  /// CONTRACTS.md §8: when set, the WeChat notify route is served here only
  /// and `public_endpoint` serves the order API alone. Empty: both on public.
  std::string notify;

  friend bool operator==(const listen_config&, const listen_config&) = default;
};

/// The order API's access (CONTRACTS.md §8).
struct api_config {
  /// When set, every /v1/orders route needs `Authorization: Bearer {token}`;
  /// the notify route never does. Secret.
  std::string token;

  friend bool operator==(const api_config&, const api_config&) = default;
};

struct wechatpay_config {
  std::string base_url = "https://api.mch.weixin.qq.com";
  std::string mchid;
  std::string appid;
  std::string apiv3_key; // secret
  std::string merchant_serial_no;
  std::string merchant_private_key_file;
  std::string platform_public_key_id;
  std::string platform_public_key_file;
  std::string platform_certificates_dir;
  std::string notify_url;
  std::string notify_path = "/v1/wechatpay/notify";
  duration max_clock_skew = std::chrono::minutes{5};
  int rate_limit_qps = 100;
  duration timeout = std::chrono::seconds{5};
  /// Calls in flight at once (worker threads). rate_limit_qps is reached only
  /// with at least qps x WeChat's latency of them (100/s x 0.15 s = 15).
  int concurrency = 16;

  friend bool operator==(const wechatpay_config&, const wechatpay_config&) = default;
};

struct business_config {
  std::string callback_url = "http://127.0.0.1:9000/orders/paid";
  std::string secret; // secret
  duration timeout = std::chrono::seconds{3};
  int concurrency = 32;

  friend bool operator==(const business_config&, const business_config&) = default;
};

struct schedule_config {
  std::vector<duration> verify = {
    std::chrono::seconds{5},  std::chrono::seconds{30}, std::chrono::minutes{1},
    std::chrono::minutes{3},  std::chrono::minutes{5},  std::chrono::minutes{10},
    std::chrono::minutes{30}};
  duration verify_every = std::chrono::minutes{30};
  duration userpaying_retry = std::chrono::seconds{5};
  duration default_expiry = std::chrono::hours{2};
  duration forward_backoff_initial = std::chrono::seconds{1};
  duration forward_backoff_max = std::chrono::minutes{5};
  duration stuck_after = std::chrono::hours{1};
  duration close_not_before = std::chrono::minutes{5};
  duration passivate_after = std::chrono::seconds{15};
  /// Refund queries, counted from WeChat's acceptance (CONTRACTS.md §10),
  /// then every refund_verify_every until the refund is final.
  std::vector<duration> refund_verify = {std::chrono::minutes{1}, std::chrono::minutes{5},
                                         std::chrono::minutes{10}, std::chrono::minutes{20},
                                         std::chrono::minutes{30}};
  duration refund_verify_every = std::chrono::minutes{30};

  friend bool operator==(const schedule_config&, const schedule_config&) = default;
};

struct admin_config {
  std::string token; // secret

  friend bool operator==(const admin_config&, const admin_config&) = default;
};

struct paycoord_config {
  std::string data_dir = "./data";
  listen_config listen;
  wechatpay_config wechatpay;
  business_config business;
  schedule_config schedule;
  admin_config admin;
  api_config api;

  friend bool operator==(const paycoord_config&, const paycoord_config&) = default;
};

/// True for a listener address that only this machine can reach
/// (127.0.0.0/8, ::1, localhost).
bool is_loopback(std::string_view listen_address);

/// What a valid config still gets wrong for a deployment, one sentence each
/// naming the key (an order API on a non-loopback address without
/// api.token) or the file and its mode (a merchant private key, or a
/// `config_file` that sets a secret, that group or others may read: any of
/// the mode bits 077). Never names a secret's value. Reads the modes of those
/// files and `config_file` itself; the caller logs the warnings at start.
std::vector<std::string> config_warnings(const paycoord_config& cfg,
                                         const std::string& config_file = {});

// -- errors ------------------------------------------------------------------

/// What is wrong with a configuration. `key` names the culprit: a config key
/// path (`schedule.verify`), an environment variable (`PAYCOORD_WECHATPAY__APIV3KEY`
/// when no key has that name), or the config file's path when the file itself
/// is at fault (unreadable, over 1 MiB, not JSON). `reason` never contains a
/// secret's value.
struct config_error {
  std::string key;
  std::string reason;

  /// `key: reason`, e.g. `schedule.verify: "5 parsecs" is not a duration (use
  /// 250ms, 5s, 1m or 2h)`; just `reason` when `key` is empty.
  std::string message() const;
};

// -- loading -----------------------------------------------------------------

/// Environment variables that share the PAYCOORD_ prefix but belong to the
/// build and test scripts, not to the config; load_config ignores them.
inline constexpr std::string_view reserved_environment_names[] = {
  "PAYCOORD_SOURCE_DIR", "PAYCOORD_BIN_DIR", "PAYCOORD_BUILD_DIR",
  "PAYCOORD_JOBS", "PAYCOORD_TEST_JOBS", "PAYCOORD_ARTIFACT_DIR",
  "PAYCOORD_CMAKE_ARGS", "PAYCOORD_SANITIZE_BUILD_DIR", "PAYCOORD_FUZZ_SECONDS",
  "PAYCOORD_FUZZ_BUILD_DIR", "PAYCOORD_MODEL_DEPTH",
};

/// Builds the effective config from the defaults, then `file` (JSON; empty
/// string = no file), then `env` (PAYCOORD_* variables, e.g. from
/// paycoord_environment(); other names are ignored), then `overrides` (key
/// path, value text), each later layer winning, and validates it.
///
/// Env and override values are read as JSON when they parse as JSON (lists,
/// numbers, "quoted strings"), else as plain text; a string key takes the
/// plain text when the JSON is not a string (PAYCOORD_WECHATPAY__MCHID=1900000001
/// is the string "1900000001"). Unknown keys in the file, unknown PAYCOORD_
/// variables (except reserved_environment_names), unknown override keys, type
/// errors and failed validation are errors naming the key. Relative
/// `merchant_private_key_file`, `platform_public_key_file` and
/// `platform_certificates_dir` given in the file resolve against the file's
/// directory; given by env or override they stay relative to the working
/// directory, as does `data_dir` always. Never throws; reads only `file`.
expected<paycoord_config, config_error>
load_config(const std::string& file, const std::map<std::string, std::string>& env,
            const std::vector<std::pair<std::string, std::string>>& overrides = {});

/// The JSON object of a config file, read as load_config reads it (at most
/// 1 MiB, 16 deep, no key twice); the error names the file or the key.
expected<nlohmann::json, config_error> read_config_file(const std::string& file);

/// The PAYCOORD_* variables of this process, name -> value. The only reader of
/// the process environment in the codebase. Not thread-safe against setenv.
std::map<std::string, std::string> paycoord_environment();

/// Checks every constraint of config/README.md and returns `cfg` (with a
/// trailing '/' of wechatpay.base_url removed) or the first error, naming its
/// key. Checks that key-file paths are set, not what the files contain.
expected<paycoord_config, config_error> validate(paycoord_config cfg);

/// The effective config as the JSON of the config file: every key, durations
/// as strings with a unit ("5m"). With `mask_secrets`, a non-empty
/// wechatpay.apiv3_key, business.secret and admin.token print as "***" (key
/// file *paths* are not secrets). Loading the unmasked output as a config file
/// yields the same config.
nlohmann::json to_json(const paycoord_config& cfg, bool mask_secrets = true);

/// The environment variable that sets `key`: `wechatpay.apiv3_key` ->
/// `PAYCOORD_WECHATPAY__APIV3_KEY`.
std::string environment_name(std::string_view key);

// -- endpoints ---------------------------------------------------------------

struct endpoint {
  std::string host; // without brackets: "::1"
  uint16_t port = 0;
};

/// Parses a listener address `host:port` ("127.0.0.1:8080", "localhost:80",
/// "[::1]:80"); port 0 (any free port) is allowed. Errors name `key`.
expected<endpoint, config_error> parse_endpoint(std::string_view text,
                                                std::string_view key);

} // namespace paycoord
