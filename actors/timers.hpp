#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <unordered_map>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "actors/metrics.hpp"

namespace paycoord {

struct timers_options {
  /// Wall clock in Unix milliseconds (a fake one in tests).
  std::function<int64_t()> now_ms;
  /// Longest single sleep, so that a wall-clock jump is noticed soon.
  int64_t max_sleep_ms = 10'000;
  /// Most timers fired per tick; the rest fire on an immediate next tick so
  /// a burst of overdue timers never floods one mailbox turn.
  size_t max_fires_per_tick = 512;
  /// Told the number of armed entries after every change (optional).
  std::shared_ptr<paycoord::metrics> metrics;
};

struct timers_state {
  static inline const char* name = "timers";

  struct entry {
    int64_t due_ms;
    uint64_t generation;
  };

  /// One entry per order: arming replaces, cancel removes.
  std::unordered_map<std::string, entry> entries;
  /// The same entries ordered by due time.
  std::set<std::pair<int64_t, std::string>> queue;
  /// Due time the earliest pending tick was scheduled for.
  int64_t tick_at_ms = std::numeric_limits<int64_t>::max();
  /// Receives `timer_fired` (the registry, which spawns missing orders).
  caf::actor target;
  timers_options options;
  uint64_t fired = 0;
};

/// The cancellable per-order timer service of DESIGN.md: a min-ordered set
/// keyed by due time with one `delayed_send` to itself for its earliest
/// entry (CAF 0.17 cannot cancel a delayed_send, and one per order would pin
/// finished order actors until it fires).
///
/// Protocol:
/// - `arm_timer{out_trade_no, due_ms, generation}`: replaces the order's entry
/// - `(cancel_atom, std::string out_trade_no)`: removes it
/// - `(tick_atom)`: internal; fires every due entry as `timer_fired` to target
/// - `(live_atom)` -> `uint64_t` number of armed entries
/// - `(snapshot_atom, std::string out_trade_no)` -> `arm_timer` (due 0 when
///   none armed)
caf::behavior timers_actor(caf::stateful_actor<timers_state>* self,
                           caf::actor target, timers_options options);

} // namespace paycoord
