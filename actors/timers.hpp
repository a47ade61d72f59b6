#pragma once

#include <cstdint>
#include <functional>
#include <deque>
#include <limits>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "actors/metrics.hpp"

namespace paycoord {

struct timers_options {
  /// Wall clock in Unix milliseconds (a fake one in tests).
  std::function<int64_t()> now_ms;
  /// The store actor, whose timer index (`index_atom`) is paged in.
  caf::actor store;
  /// Entries of the index due within this much of now are held in memory;
  /// the rest are only their durable keys.
  int64_t horizon_ms = 60'000;
  /// Most entries the service pages in from the index (arms of live orders
  /// are always kept on top: they are few, and the index has no newer copy).
  size_t max_entries = 100'000;
  /// Index entries read per page.
  uint32_t page_size = 4096;
  /// Longest single sleep, so that a wall-clock jump is noticed soon.
  int64_t max_sleep_ms = 10'000;
  /// Most timers fired per tick; the rest fire on an immediate next tick so
  /// a burst never floods one mailbox turn.
  size_t max_fires_per_tick = 512;
  /// A timer due longer ago than this is late (counted so in the metrics).
  int64_t late_after_ms = 1'000;
  /// The backlog: index entries that fell due while paycoord was down (due
  /// before its start, less `late_after_ms`), or while the wall clock jumped
  /// ahead. They fire at most this many a second, in due order, each in a
  /// slot of its own (WeChat's rate limit: a restart after downtime is no
  /// thundering herd). They are paged in by a cursor of their own, a few
  /// seconds' worth at a time, so that timers due now, in the window, are
  /// never held up by them. 0 = no backlog: everything fires when due.
  int64_t late_fires_per_s = 0;
  /// Seconds of backlog fires held in memory at once.
  int64_t backlog_seconds = 10;
  /// A page that failed (the store cannot read) is asked again this soon.
  int64_t page_retry_ms = 1'000;
  /// Told the number of entries in memory after every change (optional).
  std::shared_ptr<paycoord::metrics> metrics;
};

struct timers_state {
  static inline const char* name = "timers";

  struct entry {
    int64_t due_ms;
    /// The due time it had before it was moved to a backlog slot.
    int64_t first_due_ms;
    /// Paged in from the backlog (counted in `backlog_held`).
    bool backlog;
  };

  /// One entry per order (in memory): arming replaces, cancel removes.
  std::unordered_map<std::string, entry> entries;
  /// The same entries ordered by due time.
  std::set<std::pair<int64_t, std::string>> queue;
  /// Due time the earliest pending tick was scheduled for.
  int64_t tick_at_ms = std::numeric_limits<int64_t>::max();
  /// Receives `timer_fired` (the registry, which spawns missing orders).
  caf::actor target;
  timers_options options;

  // -- the window over the durable index --------------------------------------

  /// Every index entry up to here (in index order) was paged in, or is in
  /// the backlog; due_ms < 0: none yet.
  timer_entry cursor{-1, {}};
  /// A page is being read (of the window or of the backlog: one at a
  /// time); a window page covers entries up to `page_until_ms`.
  bool paging = false;
  int64_t page_until_ms = 0;
  /// Orders armed or cancelled while a page is read: the page may hold a
  /// stale entry of theirs, and the service already knows better.
  std::unordered_set<std::string> touched;
  /// The first page is in: the service is ready (see `recover_atom`).
  bool loaded = false;
  std::vector<caf::response_promise> waiting;

  // -- the backlog ------------------------------------------------------------

  /// Stretches of the index behind the window still to fire: entries after
  /// `after` (in index order) due before `before_ms`.
  struct stretch {
    timer_entry after;
    int64_t before_ms;
  };
  std::deque<stretch> backlog;
  /// Backlog entries in memory (waiting for their slot).
  size_t backlog_held = 0;
  /// Next free slot of a backlog entry.
  double late_slot_ms = 0;
  /// The clock at the previous tick (a jump shows as a gap).
  int64_t last_tick_ms = 0;

  uint64_t fired = 0;
  uint64_t fired_late = 0;
  uint64_t paged = 0;
};

/// The order timers of DESIGN.md, durable and in a window. Every active
/// order has one entry in the store's timer index (`t/<due>/<id>`, written
/// with its record). This service holds in memory only what falls due
/// within `horizon_ms` (at most about `max_entries`), and pages the index
/// forward as time passes: an order due in two hours costs its durable key
/// and nothing here. What fell due while paycoord was down (or while the
/// clock jumped) is the backlog: paged in by a cursor of its own and fired
/// at `late_fires_per_s`, beside the window, never in its way. One
/// `delayed_send` to itself for the earliest entry (CAF 0.17 cannot cancel
/// a delayed_send, and one per order would pin finished order actors until
/// it fires).
///
/// Why no timer is lost: an entry leaves memory only by firing, by cancel,
/// or by an arm whose index entry lies beyond everything the window paged
/// in so far (and beyond the page being read), which a later page brings
/// back. A page's entry for an order armed or cancelled while it was read
/// is skipped: the arm is newer. The backlog's stretches and the window
/// cover the index between them without a gap. An extra fire is harmless
/// (the order acts only when its record is due); a lost one would strand an
/// order.
///
/// Protocol:
/// - `arm_timer{out_trade_no, due_ms, index_due_ms}`: replaces the order's
///   entry (`index_due_ms`: its durable index entry's due time)
/// - `(cancel_atom, std::string out_trade_no)`: removes it
/// - `(recover_atom)` -> `uint64_t`: answers once the first page of the
///   index is in memory (with the entries held)
/// - `(tick_atom)`: internal; fires every due entry as `timer_fired` to target
/// - `(live_atom)` -> `uint64_t` number of entries in memory
/// - `(snapshot_atom, std::string out_trade_no)` -> `int64_t` due time in
///   memory (0 when none)
caf::behavior timers_actor(caf::stateful_actor<timers_state>* self,
                           caf::actor target, timers_options options);

} // namespace paycoord
