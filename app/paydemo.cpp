// paydemo: wiring only. Reads the command line and runs the main job
// (demo/demo_run.hpp): paysim and paycoord on loopback, customers and their
// refunds, faults, live progress and the reconciliation report.

#include <atomic>
#include <csignal>
#include <filesystem>
#include <string>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "demo/demo_run.hpp"
#include "demo/process.hpp"

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
  paycoord::demo::demo_options opts;
  opts.bin_dir = env_or("PAYCOORD_BIN_DIR", own_dir(argv[0]));
  opts.source_dir = env_or("PAYCOORD_SOURCE_DIR", PAYCOORD_DEFAULT_SOURCE_DIR);
  bool no_crash = false, no_color = false;

  CLI::App app{"paydemo: 'the customer paid but the order still says unpaid', reproduced "
               "against paysim and resolved by paycoord"};
  app.add_option("--orders", opts.orders, "customers, one order each")
    ->check(CLI::Range(1, 50'000))
    ->capture_default_str();
  app.add_option("--lost", opts.lost_pct,
                 "percent of WeChat notifications lost (payments and refunds)")
    ->check(CLI::Range(0.0, 100.0))
    ->capture_default_str();
  app.add_option("--refunds", opts.refund_pct,
                 "percent of paying customers who ask for a refund once their order is confirmed")
    ->check(CLI::Range(0.0, 100.0))
    ->capture_default_str();
  app.add_option("--seed", opts.seed, "seeds customers and faults; same seed, same run")
    ->capture_default_str();
  app.add_flag("--no-crash", no_crash, "do not kill -9 paycoord in the middle");
  app.add_flag("--keep", opts.keep, "keep the store and the logs of a passed run");
  app.add_option("--data-dir", opts.data_dir,
                 "run directory (configs, store, logs, report); default: a new temporary one");
  app.add_flag("--no-color", no_color, "no ANSI colours");
  app.add_option("--compression", opts.compression,
                 "1 s of the run stands for this many seconds of real time")
    ->check(CLI::Range(1, 600))
    ->capture_default_str();
  app.add_option("--clients", opts.clients, "customers creating orders at once")
    ->check(CLI::Range(1, 64))
    ->capture_default_str();
  app.add_option("--bin-dir", opts.bin_dir, "folder of the paycoord and paysim binaries")
    ->capture_default_str();
  app.add_option("--source-dir", opts.source_dir, "repository root (config/ examples and keys)")
    ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  opts.crash = !no_crash;
  opts.color = !no_color;

  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  return paycoord::demo::run_demo(opts, interrupted);
}
