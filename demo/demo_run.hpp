#pragma once

#include <atomic>

#include "demo/demo_options.hpp"

namespace paycoord::demo {

/// Exit statuses of `paydemo`.
enum demo_status : int {
  demo_passed = 0,
  demo_invariant_failed = 1,
  demo_setup_failed = 2,
  demo_interrupted = 130,
};

/// The whole demo: starts paysim and paycoord in the run directory, plays
/// the scenario with live progress on stdout, waits until every paid order
/// is confirmed (or gives up), writes report.json and report.html, prints
/// the report and stops both processes. `interrupt` set (e.g. by SIGINT)
/// ends the run early. Returns a `demo_status`.
int run_demo(const demo_options& opts, const std::atomic<bool>& interrupt);

} // namespace paycoord::demo
