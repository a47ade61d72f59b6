#pragma once

#include <cstdint>

#include "demo/demo_options.hpp"

namespace paycoord::demo {

/// What `paysoak` was asked to do (its command line, app/paysoak.cpp).
struct soak_options {
  /// Seed, lost share, compression, clients, run directory, binaries: as in
  /// the demo. `orders`, `arrival_rate` and `crash` are set from the fields
  /// below.
  demo_options run;
  /// How long customers keep arriving (the load), in minutes; kills happen
  /// throughout it, then a drain without kills follows.
  double minutes = 10;
  /// Customers arriving per second, all through the load.
  double rate = 20;
  /// paycoord is killed with SIGKILL after an uptime drawn uniformly from
  /// [kill_gap_min_s, kill_gap_max_s] seconds (from the seed), then restarted
  /// over the same store.
  double kill_gap_min_s = 2;
  double kill_gap_max_s = 6;
  /// After the load, how long the drain may take before the run reports
  /// what is still missing.
  double drain_limit_s = 120;
};

} // namespace paycoord::demo
