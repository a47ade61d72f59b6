#pragma once

// The crash soak's report: what the kills hit, what paycoord's store holds
// at the end against what it must hold, and the mission's invariants as
// counts. Pure functions over what the run collected, so every count can be
// tested from synthetic rows (tests/demo/soak_report_test.cpp).

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "demo/order_log.hpp"
#include "demo/reconciliation.hpp"

namespace paycoord::demo {

// -- the kills -----------------------------------------------------------------

/// What the restarted paycoord's recovery reported, from its own log and
/// LevelDB's (`data/LOG`, rewritten at every open).
struct recovery_facts {
  /// The store's background audit ran through (`event=audit_done`).
  bool audited = false;
  /// PENDING and PAID orders at open (the store's counters:
  /// `event=store_opened active=`).
  int64_t active = 0;
  /// Records the audit could not decode.
  int64_t unreadable = 0;
  /// Timer index entries the audit had to add or remove: after any crash the
  /// index and the records agree, so this stays 0.
  int64_t index_repairs = 0;
  /// LevelDB replayed a write-ahead log at open ("Recovering log #N"): the
  /// killed process's latest commits lived only there.
  int64_t logs_replayed = 0;
  /// LevelDB dropped bytes of a torn or corrupt log record ("dropping N
  /// bytes"): a kill inside a write.
  int64_t torn_records = 0;
};

/// Reads `paycoord_log` (the restarted process's output) and `leveldb_log`
/// (its store's LOG).
recovery_facts parse_recovery(const std::string& paycoord_log, const std::string& leveldb_log);

/// One kill -9 of paycoord and the restart after it.
struct kill_sample {
  /// Aimed: after the random uptime the kill waited for the next
  /// POST /v1/orders to be out (at most a second), so that it lands inside a
  /// create's commits; the others fall wherever the uptime ends.
  bool aimed = false;
  /// From the start of the run.
  double at_s = 0;
  /// How long the killed process had been ready.
  double uptime_s = 0;
  /// From the kill to the next process's 200 on /readyz.
  double downtime_ms = 0;
  /// The POST /v1/orders calls out at the kill. paycoord answers a create
  /// after its synced write, so each one that the kill cut had its commit
  /// outstanding or just done when the process died.
  std::vector<create_call> creates_out;
  /// Share of the ~300 ms before the kill the store spent in synced writes
  /// (from paycoord_store_sync_duration_seconds); the chance that the kill
  /// landed inside an fsync.
  double store_busy_share = 0;
  /// Synced write batches (group commits) the killed process had written,
  /// by the last scrape before the kill.
  int64_t store_batches = 0;
  /// The restart's recovery.
  recovery_facts recovery;
};

struct kill_summary {
  int64_t kills = 0;
  int64_t aimed_kills = 0;
  /// Kills with at least one create out.
  int64_t kills_with_creates_out = 0;
  int64_t creates_out = 0;
  /// Of those, the calls the kill cut (the customer had to try again; the
  /// rest had their answer on the way).
  int64_t creates_cut = 0;
  /// Of those, the retry answered 200: the order was stored before the kill
  /// and only its answer was lost.
  int64_t cut_after_sync = 0;
  /// The retry answered 201: the kill came before the order's commit was
  /// durable, and nothing of it was left to find.
  int64_t cut_before_sync = 0;
  /// Sum of `store_busy_share` over the kills: how many kills are expected
  /// to have landed inside an fsync.
  double expected_inside_sync = 0;
  /// Kills whose store was busy in the 300 ms before them (share > 0).
  int64_t kills_store_busy = 0;
  /// Synced batches over every killed process.
  int64_t store_batches = 0;
  double uptime_mean_s = 0;
  double downtime_mean_ms = 0;
  double downtime_max_ms = 0;
  // Over every restart's recovery.
  int64_t recoveries_audited = 0;
  int64_t recovered_active_max = 0;
  int64_t unreadable_at_recovery = 0;
  int64_t index_repairs = 0;
  int64_t logs_replayed = 0;
  int64_t torn_records = 0;
};

/// `traces` by customer index tell which calls were cut (a later attempt
/// followed) and the answer the customer finally got.
kill_summary summarize_kills(const std::vector<kill_sample>& kills,
                             const std::vector<order_trace>& traces);

// -- the store at the end --------------------------------------------------------

/// An order paycoord must hold: it answered 201/200 for it, or WeChat saw
/// its prepay (paycoord syncs the record before it calls prepay).
struct expected_order {
  std::string out_trade_no;
  /// The customer's amount (fen); 0 = unknown (only seen at WeChat).
  int64_t amount = 0;
};

/// One order as paycoord's admin API showed it at the end.
struct stored_order {
  /// In the admin listing (`GET /admin/api/orders`, every page).
  bool listed = false;
  /// `GET /admin/api/orders/{id}`: 200, 404, another status, 0 = no answer.
  int detail_status = 0;
  std::string state;
  int64_t amount_total = 0;
  /// Every event 1..`events_total` came back (or the detail truncated them).
  bool events_complete = true;
  // The live side (`actor` of the detail).
  bool actor_alive = false;
  /// Open, not in memory, its timer in the store's index.
  bool passivated = false;
  bool in_flight = false;
  /// The armed action; empty when none.
  std::string next_action;
  int64_t next_due_ms = 0;
};

/// Whether an open order's timer will move it: a live actor with its call
/// in flight or its timer armed, or a passivated one whose index entry is
/// in the store; `overdue` when it was due longer ago than `lateness_ms`.
enum class timer_status { armed, missing, overdue };

timer_status timer_of(const stored_order& x, int64_t now_ms, int64_t lateness_ms);

struct store_audit {
  int64_t expected = 0;
  int64_t listed = 0;
  /// Listing pages not answered 200 (a record that does not decode fails
  /// its page).
  int64_t listing_errors = 0;
  /// `unreadable_records` of the last recovery scan (admin summary).
  int64_t summary_unreadable = 0;
  /// Expected but not there (404).
  int64_t records_lost = 0;
  /// The detail answered neither 200 nor 404.
  int64_t records_unreadable = 0;
  /// The amount differs from the customer's, or the timeline has a gap.
  int64_t records_inconsistent = 0;
  /// PENDING or PAID at the end.
  int64_t active = 0;
  /// Active with no live actor holding an armed timer or a call in flight.
  int64_t without_timer = 0;
  /// Armed, but due longer than the allowed lateness ago: a timer that does
  /// not fire.
  int64_t overdue_timers = 0;
  /// ANOMALY, ORPHAN or FAULTED (none is expected in a soak).
  int64_t parked = 0;
  /// The ids behind every failing count, for the evidence.
  std::vector<std::string> failing;
};

/// Audits `stored` (by id: every listed order, and every expected one) at
/// `now_ms`; a timer counts as overdue after `lateness_ms`. An order whose
/// actor is not alive has no timer: paycoord keeps every PENDING and PAID
/// order in memory (when passivation lands, issue 12, its timer is the
/// durable index entry and this rule must take the record's `next_due`).
store_audit audit_store(const std::vector<expected_order>& expected,
                        const std::map<std::string, stored_order>& stored,
                        int64_t listing_errors, int64_t summary_unreadable, int64_t now_ms,
                        int64_t lateness_ms);

// -- the verdict -----------------------------------------------------------------

/// The mission's four invariants as counts (each expected 0), from the
/// reconciliation's (paid/delivered/confirmed), the store audit and the
/// recoveries (records unreadable at any restart).
std::vector<invariant_check> soak_invariants(const reconciliation& r, const store_audit& a,
                                             const kill_summary& k);

nlohmann::json to_json(const kill_summary& k);
nlohmann::json to_json(const store_audit& a);

/// The soak's report (soak.json) for a terminal or a log: the run, the
/// kills, the faults, then every invariant with its count and verdict.
std::string render_soak_text(const nlohmann::json& report);

} // namespace paycoord::demo
