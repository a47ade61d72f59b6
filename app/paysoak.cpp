// paysoak: wiring only. Reads the command line and runs the crash soak
// (demo/soak_run.hpp): paysim and paycoord on loopback under steady load
// and every fault, paycoord killed with SIGKILL again and again, then the
// invariants as counts.

#include <atomic>
#include <csignal>
#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>

#include "demo/process.hpp"
#include "demo/soak_run.hpp"

#ifndef PAYCOORD_DEFAULT_SOURCE_DIR
#define PAYCOORD_DEFAULT_SOURCE_DIR "."
#endif

namespace {

std::atomic<bool> interrupted{false};

extern "C" void on_interrupt(int) {
  interrupted = true;
}

} // namespace

using paycoord::demo::env_or;
using paycoord::demo::own_dir;

int main(int argc, char** argv) {
  paycoord::demo::soak_options opts;
  auto& run = opts.run;
  run.bin_dir = env_or("PAYCOORD_BIN_DIR", own_dir(argv[0]));
  run.source_dir = env_or("PAYCOORD_SOURCE_DIR", PAYCOORD_DEFAULT_SOURCE_DIR);

  CLI::App app{"paysoak: the crash soak. paycoord under steady load and every fault, killed "
               "with SIGKILL every few seconds and restarted over the same store; then the "
               "invariants as counts"};
  app.add_option("--minutes", opts.minutes, "minutes of load (kills throughout), then a drain")
    ->check(CLI::Range(0.1, 24 * 60.0))
    ->capture_default_str();
  app.add_option("--rate", opts.rate, "customers arriving per second")
    ->check(CLI::Range(0.5, 500.0))
    ->capture_default_str();
  app.add_option("--kill-min", opts.kill_gap_min_s, "shortest uptime before a kill -9, seconds")
    ->check(CLI::Range(0.5, 3600.0))
    ->capture_default_str();
  app.add_option("--kill-max", opts.kill_gap_max_s, "longest uptime before a kill -9, seconds")
    ->check(CLI::Range(0.5, 3600.0))
    ->capture_default_str();
  app.add_option("--drain", opts.drain_limit_s,
                 "after the load, seconds to wait for the last confirmations")
    ->check(CLI::Range(1.0, 3600.0))
    ->capture_default_str();
  app.add_option("--lost", run.lost_pct, "percent of WeChat notifications lost")
    ->check(CLI::Range(0.0, 100.0))
    ->capture_default_str();
  app.add_option("--seed", run.seed, "seeds customers, faults and kill times; printed")
    ->capture_default_str();
  app.add_flag("--keep", run.keep, "keep the store and the logs of a passed run");
  app.add_option("--data-dir", run.data_dir,
                 "run directory (configs, store, logs, soak.json); default: a new temporary one");
  app.add_option("--compression", run.compression,
                 "1 s of the run stands for this many seconds of real time")
    ->check(CLI::Range(1, 600))
    ->capture_default_str();
  app.add_option("--clients", run.clients, "customers creating orders at once")
    ->check(CLI::Range(1, 64))
    ->capture_default_str();
  app.add_option("--bin-dir", run.bin_dir, "folder of the paycoord and paysim binaries")
    ->capture_default_str();
  app.add_option("--source-dir", run.source_dir, "repository root (config/ examples and keys)")
    ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (opts.kill_gap_max_s < opts.kill_gap_min_s) {
    std::fprintf(stderr, "paysoak: --kill-max must not be below --kill-min\n");
    return 2;
  }

  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  return paycoord::demo::run_soak(opts, interrupted);
}
