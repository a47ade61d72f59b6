#pragma once

#include <atomic>

#include "demo/soak_options.hpp"

namespace paycoord::demo {

/// The crash soak: paysim and paycoord in the run directory, customers
/// creating and paying orders at a steady rate for `opts.minutes`, lost,
/// duplicated and probe-signed notifications, a business server that flaps
/// down and answers some callbacks 500, and paycoord killed with SIGKILL
/// after a random uptime (seeded) and restarted over the same store, again
/// and again. Then a drain without kills, and the audit: paysim's record
/// against the store, read back through the admin API. Prints the
/// invariants as counts, writes soak.json, returns a `demo_status`
/// (demo_run.hpp): 0 when every count is 0. `interrupt` ends it early.
int run_soak(const soak_options& opts, const std::atomic<bool>& interrupt);

} // namespace paycoord::demo
