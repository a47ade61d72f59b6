#pragma once

#include <memory>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "actors/metrics.hpp"
#include "storage/order_store.hpp"

namespace paycoord {

struct store_actor_state {
  static inline const char* name = "store";

  std::shared_ptr<order_store> db;

  /// Batches and their sizes; seeded with the order counts at recovery
  /// (optional).
  std::shared_ptr<paycoord::metrics> metrics;

  /// Writes received since the last commit, each with its writer's promise.
  std::vector<std::pair<write_set, caf::response_promise>> pending;

  /// A flush message is on its way to ourselves.
  bool flush_scheduled = false;

  /// Reopens tried in a row (their backoff); a reopen is scheduled.
  uint32_t reopen_failures = 0;
  bool reopen_scheduled = false;
};

/// The only writer of LevelDB. Spawn it `detached`: it blocks on fsync.
///
/// Group commit: a write is queued and answered only after the synced
/// WriteBatch that contains it. The first write of a round sends `flush` to
/// ourselves; because the mailbox is FIFO, every write that arrives before
/// that flush (and all that pile up while the previous batch syncs) lands in
/// the same batch. Under load, many writers share one fsync.
///
/// A failing disk: after a failed commit the store refuses every later write
/// until LevelDB is reopened (order_store::reopen says why). The store then
/// reports itself not writable (`metrics::store_writable`, read by /readyz)
/// and reopens LevelDB with a backoff (0.5 s doubling to 30 s) until a synced
/// write works again. Writes meanwhile fail fast, so their writers back off
/// and retry; reads go on; nothing is answered as durable that is not.
///
/// Protocol:
/// - `(write_atom, write_set)` -> `bool` after the sync: true, or false when
///   the set carried a notification id that was processed before (the set
///   was skipped whole: see write_set); or a store error
/// - `(load_atom, std::string out_trade_no)` -> `order_lookup`
/// - `(events_atom, std::string out_trade_no, uint64_t after, uint32_t limit)`
///   -> `std::vector<order_event>`
/// - `(history_atom, std::string out_trade_no, uint32_t limit)` ->
///   `order_history`: the record and its newest `limit` events, consistent
/// - `(scan_atom, std::string after, uint32_t limit, std::string state, bool
///   stuck_only, bool unresolved_only)` -> `order_page` (state empty = all)
/// - `(recover_atom)` -> `std::vector<order_record>`: every PENDING and PAID
///   order (corrupt records are logged by key and skipped); the same scan
///   seeds `metrics` with the count of every state and of the unreadable
///   records (with the stretches of the log the open skipped)
/// - `(orphans_atom, std::string out_trade_no, std::string after, uint32_t
///   limit)` -> `std::vector<orphan_event>` (out_trade_no empty = all)
/// - `(stats_atom)` -> `store_stats`
/// - `(reopen_atom)`: internal (the reopen timer)
caf::behavior store_actor(caf::stateful_actor<store_actor_state>* self,
                          std::shared_ptr<order_store> db,
                          std::shared_ptr<metrics> metrics);

} // namespace paycoord
