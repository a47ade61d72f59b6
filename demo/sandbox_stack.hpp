#pragma once

// paysim and paycoord as real processes on free loopback ports, wired to each
// other: paycoord's WeChat base URL and business callback point at paysim,
// paysim notifies paycoord. Their config files are the examples under
// config/ merged with the caller's patches, written into the run directory
// next to their logs and paycoord's store.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "demo/process.hpp"

namespace paycoord::demo {

struct stack_options {
  /// Folder holding the `paycoord` and `paysim` binaries.
  std::string bin_dir;
  /// The repository root: config/paycoord.example.json, config/paysim.example.json
  /// and the sandbox keys they name.
  std::string source_dir;
  /// Receives paycoord.json, paysim.json, the logs and paycoord's `data/`.
  std::string run_dir;
  /// Merged (RFC 7386) into the example paycoord config; listeners, URLs,
  /// data_dir and key paths are set by the stack.
  nlohmann::json paycoord_patch = nlohmann::json::object();
  /// Merged into the example paysim config; listeners and key paths are set
  /// by the stack.
  nlohmann::json paysim_patch = nlohmann::json::object();
  /// Bound on waiting for a process to become ready.
  std::chrono::milliseconds ready_timeout{30'000};
};

/// Not thread-safe: one thread starts, kills and stops; the URL accessors
/// may be called from any thread once `start` returned.
class sandbox_stack {
public:
  explicit sandbox_stack(stack_options opts);

  /// Kills whatever still runs (SIGKILL).
  ~sandbox_stack();

  sandbox_stack(const sandbox_stack&) = delete;
  sandbox_stack& operator=(const sandbox_stack&) = delete;

  /// Picks the ports, writes both configs, starts paysim and then paycoord
  /// and waits until paysim answers and paycoord's /readyz says ready.
  /// Returns nullopt on success, else what failed (with the log's tail).
  std::optional<std::string> start();

  /// kill -9 of paycoord, then a new paycoord over the same data directory;
  /// returns once it is ready (nullopt) or why it is not.
  std::optional<std::string> kill_and_restart_paycoord();

  /// SIGTERM to paycoord, then to paysim; waits for both. Returns
  /// paycoord's exit status (nullopt if it had to be killed).
  std::optional<int> stop();

  /// How many times paycoord was started.
  int paycoord_starts() const {
    return paycoord_starts_;
  }

  std::string public_url(const std::string& path) const;
  std::string control_url(const std::string& path) const;
  std::string metrics_url(const std::string& path) const;
  std::string admin_url(const std::string& path) const;

  /// Absolute paths of what the stack writes into the run directory.
  std::string paycoord_config_file() const;
  std::string paysim_config_file() const;
  std::string data_dir() const;
  std::string paycoord_log(int start) const;
  std::string paysim_log() const;

private:
  std::optional<std::string> start_paycoord();
  /// Waits until `url` answers 200 while `child` runs; else why not.
  std::optional<std::string> await_ready(child_process& child, const std::string& url,
                                         const std::string& log) const;
  void write_configs() const;
  std::string endpoint(const char* listener) const;

  stack_options opts_;
  uint16_t public_port_ = 0;
  uint16_t admin_port_ = 0;
  uint16_t metrics_port_ = 0;
  uint16_t wechat_port_ = 0;
  uint16_t business_port_ = 0;
  uint16_t control_port_ = 0;
  std::unique_ptr<child_process> paysim_;
  std::unique_ptr<child_process> paycoord_;
  int paycoord_starts_ = 0;
};

} // namespace paycoord::demo
