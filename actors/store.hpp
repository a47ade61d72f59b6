#pragma once

#include <memory>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "actors/metrics.hpp"
#include "storage/order_store.hpp"

namespace paycoord {

struct store_actor_options {
  /// Records (then index entries) the background audit reads per turn of
  /// the store; 0 = no audit. Small, so that writes wait a few ms at most.
  size_t audit_chunk = 512;
};

struct store_actor_state {
  static inline const char* name = "store";

  store_actor_options options;
  /// Unreadable stretches of the log the opens skipped, and records the
  /// migration could not read.
  int64_t salvaged = 0;
  /// What the audit found so far.
  int64_t audit_unreadable = 0;
  int64_t audit_repaired = 0;

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
///   the set was skipped whole: it carried a notification id that was
///   processed before (see write_set), or a new refund whose out_refund_no
///   another order holds; or a store error
/// - `(load_atom, std::string out_trade_no)` -> `order_lookup` (with refunds)
/// - `(events_atom, std::string out_trade_no, uint64_t after, uint32_t limit)`
///   -> `std::vector<order_event>`
/// - `(history_atom, std::string out_trade_no, uint32_t limit)` ->
///   `order_history`: the record and its newest `limit` events, consistent
/// - `(scan_atom, std::string after, uint32_t limit, std::string state, bool
///   stuck_only, bool unresolved_only)` -> `order_page` (state empty = all)
/// - `(refunds_atom, std::string after, uint32_t limit, std::string state)`
///   -> `order_store::refund_page` (state empty = all; see scan_refunds)
/// - `(index_atom, timer_entry after, int64_t until_ms, uint32_t limit)` ->
///   `std::vector<timer_entry>`: the timer index after `after` (due_ms < 0:
///   from the start), see order_store::timers
/// - `(audit_atom, std::string after, bool index_pass)`: internal; the
///   background audit, started at spawn (see order_store::audit_records)
///
/// Metrics: the order counts after every synced batch and at spawn (the
/// store's persisted counters: no scan), and the unreadable records (what
/// the open skipped, then what the audit finds).
/// - `(orphans_atom, std::string out_trade_no, std::string after, uint32_t
///   limit)` -> `std::vector<orphan_event>` (out_trade_no empty = all)
/// - `(stats_atom)` -> `store_stats`
/// - `(reopen_atom)`: internal (the reopen timer)
caf::behavior store_actor(caf::stateful_actor<store_actor_state>* self,
                          std::shared_ptr<order_store> db,
                          std::shared_ptr<metrics> metrics,
                          store_actor_options options);

} // namespace paycoord
