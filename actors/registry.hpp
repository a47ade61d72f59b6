#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "actors/order.hpp"

namespace paycoord {

struct registry_options {
  /// Restarts allowed per order within `restart_window_ms`; one more crash
  /// parks the order as FAULTED.
  uint32_t max_restarts = 3;
  int64_t restart_window_ms = 60'000;
  /// Spawns a fresh timers service targeting the registry (on start and
  /// after it crashed).
  std::function<caf::actor(caf::local_actor*, caf::actor registry)>
    spawn_timers;
};

struct registry_state {
  static inline const char* name = "registry";

  struct live_order {
    caf::actor actor;
    uint32_t restarts = 0;
    std::deque<int64_t> crashes; // within the restart window
    /// The actor asked to stop and was told to: its messages wait in
    /// `loading` until it is down (or says it is busy after all).
    bool retiring = false;
  };

  order_deps deps; // template for every order actor (timers kept current)
  registry_options options;
  std::unordered_map<std::string, live_order> live;
  std::unordered_map<caf::actor_addr, std::string> ids;
  /// Messages for orders being loaded from the store, in arrival order.
  std::unordered_map<std::string, std::vector<caf::message>> loading;
  /// Crash history of orders that are being respawned.
  std::unordered_map<std::string, live_order> respawning;
  /// Order actors spawned so far (passivated orders come back as new ones).
  uint64_t spawned = 0;
  uint64_t restarts_total = 0;
};

/// Maps out_trade_no to its order actor: spawns one on demand (loading the
/// record from the store) for a create, a notification, a fired timer or a
/// request, and lets it go when it asks to stop (terminal, parked or
/// passivated: the handshake of order.hpp). Monitors every order actor,
/// respawns a crashed one from its stored record, and after the
/// `max_restarts`+1-th crash within the window parks the order as FAULTED.
/// It also supervises the timers service: a crashed one is replaced and every
/// live order re-arms.
///
/// Messages:
/// - `(create_atom, create_order, order_reply)`
/// - `(notify_atom, verified_notification, order_reply)` (routed by
///   `fact.out_trade_no`)
/// - `timer_fired` (from the timers service)
/// - `(verify_atom, std::string id, order_reply)`,
///   `(forward_atom, std::string id, order_reply)`,
///   `(retry_atom, std::string id, order_reply)`,
///   `(resolve_atom, std::string id, std::string note, order_reply)`:
///   operator actions
/// - `(refund_atom, create_refund, order_reply)` (routed by out_trade_no),
///   `(refund_atom, verify_atom, id, out_refund_no, order_reply)`,
///   `(refund_atom, resolve_atom, id, out_refund_no, note, order_reply)`
/// - `(load_atom, id, restarts, attempt)`, `(fault_atom, id, reason,
///   attempt)`: internal retries after a store failure
/// - `(snapshot_atom, std::string id, snapshot_reply)`
/// - `(recover_atom)` -> `uint64_t`: answers once the timers service holds
///   the first window of the durable timer index (how many entries); no
///   order is loaded for it. Call once at start, before serving
/// - `(live_atom)` -> `uint64_t`: live order actors
/// - `(stats_atom)` -> `uint64_t`: order actor restarts so far
/// - `(timer_atom)` -> `caf::actor`: the current timers service
/// - `(idle_atom)`, `(busy_atom)` from an order actor: the stop handshake of
///   order.hpp; while an order retires its messages are held, then go to a
///   fresh actor loaded from the store (one actor per order at any time)
caf::behavior registry_actor(caf::stateful_actor<registry_state>* self,
                             order_deps deps, registry_options options);

} // namespace paycoord
