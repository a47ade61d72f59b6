#pragma once

// Runs a binary of ours as a real child process: arguments, extra environment,
// output captured to a log file, signals, and a bounded wait for its exit.
// The demo and the integration tests share it.

#include <chrono>
#include <map>
#include <optional>
#include <cstdint>
#include <string>
#include <vector>

#include <sys/types.h>

namespace paycoord::demo {

class child_process {
public:
  /// Starts `binary` with `args`; `env` entries are added to (or override)
  /// this process's environment. Output goes to `log_file`.
  child_process(const std::string& binary, const std::vector<std::string>& args,
                const std::map<std::string, std::string>& env,
                const std::string& log_file);

  /// Kills the child with SIGKILL if it still runs.
  ~child_process();

  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  void signal(int sig);

  /// Waits up to `timeout` for the exit; returns the exit code, or 128 + the
  /// signal number, or nullopt if it is still running.
  std::optional<int> wait(std::chrono::milliseconds timeout);

  pid_t pid() const {
    return pid_;
  }

  /// The captured output so far.
  std::string output() const;

private:
  pid_t pid_ = -1;
  std::string log_file_;
  std::optional<int> status_;
};

/// A TCP port on 127.0.0.1 that was free a moment ago.
uint16_t free_port();

/// The environment variable `name`, or `fallback` when it is unset or empty.
std::string env_or(const char* name, const std::string& fallback);

/// The folder of this executable (paycoord and paysim are built next to
/// paydemo and paysoak); `argv0` when /proc/self/exe cannot be read.
std::string own_dir(const char* argv0);

/// The path of a binary built into build/bin (PAYCOORD_BIN_DIR from ctest).
std::string bin_path(const std::string& name);

/// The repository root (PAYCOORD_SOURCE_DIR from ctest).
std::string source_path(const std::string& relative);

} // namespace paycoord::demo
