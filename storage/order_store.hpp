#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/expected.hpp"
#include "storage/order_counts.hpp"
#include "storage/order_record.hpp"
#include "storage/refund_record.hpp"
#include "storage/store_error.hpp"

namespace leveldb {
class DB;
class Env;
class WriteBatch;
} // namespace leveldb

namespace paycoord {

class log_sync_env;

/// Success without a value.
using done = std::monostate;

/// A verified non-payment event (a refund paycoord never asked for) whose
/// order paycoord does not have: kept under
/// `u/<out_trade_no>/<notification id>` for the inspector. It creates no
/// order record, so it never blocks a later create of that out_trade_no.
struct orphan_event {
  std::string out_trade_no;
  std::string notification_id;
  order_event event; ///< seq is 0: the order has no timeline
};

/// One order record to write, with the facts of the durable version it
/// replaces (nullopt for a new order). The store moves the order's timer
/// index entry and the per-state counts by them in the same batch, without
/// reading the old record back: the writer knows them, because its record is
/// the durable one (order.hpp says how the order actor keeps it so).
struct order_write {
  order_record record;
  std::optional<order_facts> before;
};

/// One refund record to write, with the facts of the durable version it
/// replaces (nullopt for a new refund: its out_refund_no is then claimed for
/// its order under `f/<out_refund_no>`).
struct refund_write {
  refund_record record;
  std::optional<refund_facts> before;
};

/// Everything one writer wants to make durable atomically: records, their
/// events and processed notification ids.
///
/// A set that carries notification ids is a notification's effect: the store
/// applies it only if none of those ids was processed before, and skips it
/// whole otherwise (a redelivery costs no write and adds no event).
struct write_set {
  std::vector<order_write> orders;
  std::vector<refund_write> refunds;
  /// (out_trade_no, event); the event's seq must be unique per order.
  std::vector<std::pair<std::string, order_event>> events;
  /// (notification id, out_trade_no) to remember as processed.
  std::vector<std::pair<std::string, std::string>> notifications;
  std::vector<orphan_event> orphan_events;

  bool empty() const {
    return orders.empty() && refunds.empty() && events.empty() && notifications.empty()
           && orphan_events.empty();
  }

  /// Adds the refund `after`, replacing the durable `before` (null: new).
  void put(refund_record after, const refund_record* before) {
    std::optional<refund_facts> was;
    if (before != nullptr)
      was = refund_facts_of(*before);
    refunds.push_back(refund_write{std::move(after), was});
  }

  /// Adds `after`, replacing the durable `before` (null: a new order).
  void put(order_record after, const order_record* before) {
    std::optional<order_facts> was;
    if (before != nullptr)
      was = facts_of(*before);
    orders.push_back(order_write{std::move(after), was});
  }
};

/// One entry of the timer index: the order is due at `due_ms`.
struct timer_entry {
  int64_t due_ms = 0;
  std::string out_trade_no;
};

/// Index order: by due time, then by out_trade_no.
bool operator<(const timer_entry& x, const timer_entry& y);
bool operator==(const timer_entry& x, const timer_entry& y);

/// One step of the store's audit (order_store::audit_records).
struct audit_step {
  uint64_t examined = 0;
  uint64_t unreadable = 0;            ///< records that do not decode
  std::vector<std::string> repaired;  ///< what was wrong, one line each
  std::string next;                   ///< cursor; empty: the pass is done
};

/// What opening a store of an older format did to bring it up to date.
struct store_migration {
  int from_schema = 0;      ///< 0: nothing was migrated
  uint64_t orders = 0;      ///< records read
  uint64_t timers = 0;      ///< index entries written
  uint64_t unreadable = 0;  ///< records that did not decode (not indexed)
  bool recounted = false;   ///< the counts record was missing or corrupt
};

/// One page of a key-ordered scan over orders.
struct order_page {
  std::vector<order_record> orders;
  /// Cursor for the next page (an out_trade_no to pass as `after`); empty
  /// when the scan reached the end.
  std::string next;
};

/// Which orders a scan returns (all when default).
struct order_filter {
  std::optional<order_state> state;
  bool stuck_only = false;      ///< PAID orders flagged stuck
  bool unresolved_only = false; ///< parked orders no person has resolved

  order_filter() = default;
  order_filter(std::optional<order_state> s) : state(s) {
  }

  bool matches(const order_record& x) const {
    return (!state || x.state == *state) && (!stuck_only || (x.stuck && x.state == order_state::paid))
           && (!unresolved_only || (is_parked(x.state) && x.resolved_at_ms == 0));
  }
};

struct store_options {
  bool create_if_missing = true;
  /// Optional environment (fault injection in tests wraps the real one).
  leveldb::Env* env = nullptr;
};

/// What opening the store had to skip of LevelDB's log (see order_store::open).
struct log_salvage {
  uint64_t drops = 0; ///< unreadable stretches of the log skipped
  uint64_t bytes = 0; ///< their size
  std::string first;  ///< LevelDB's report of the first one
};

/// Counters the store keeps about itself (for group-commit tests, metrics).
struct store_stats {
  uint64_t write_sets = 0; ///< write sets committed
  uint64_t batches = 0;    ///< LevelDB WriteBatches applied
  uint64_t syncs = 0;      ///< of which synced
  uint64_t bytes = 0;      ///< on disk (`approximate_size`)
};

/// The LevelDB order store: key schema, record encoding, event log,
/// notification dedupe, scans. Thread-safe like LevelDB itself, but by design
/// only the store actor writes; readers may call from any thread. All calls
/// block on disk I/O: never call them from CAF's cooperative scheduler.
class order_store {
public:
  /// Storage format version under `m/schema`. 2 added the timer index
  /// (`t/`) and the counts record (`m/counts`); a store of version 1 is
  /// migrated when it is opened.
  static constexpr int schema_version = 2;

  /// Upper bound for ids used in keys (out_trade_no, notification id).
  static constexpr size_t max_id_size = 128;

  ~order_store();

  order_store(const order_store&) = delete;
  order_store& operator=(const order_store&) = delete;

  /// Opens (creating if allowed) the store in `dir`. Fails if another
  /// process holds it, or if it was written by a newer schema version. A
  /// store of schema 1 is migrated first: one scan of its records writes
  /// their timer index entries and the counts (`last_migration` says what
  /// it did); a crash during it leaves schema 1, and the next open starts
  /// it again.
  ///
  /// A log that does not read back whole does not keep the store shut: a
  /// crash mid-append leaves a partial record (LevelDB skips it silently),
  /// stale or garbage bytes after the last record fail the checksum, which
  /// LevelDB's paranoid open refuses. The store then opens once without
  /// paranoid checks, which skips what does not check out (counted in
  /// `last_open_salvage`: a synced record only ends up there if the disk
  /// damaged it) and writes the readable rest into a table, and then opens
  /// paranoid again.
  static expected<std::unique_ptr<order_store>, store_error>
  open(const std::string& dir, store_options opts = {});

  // -- keys ------------------------------------------------------------------

  static std::string order_key(std::string_view out_trade_no);
  static std::string event_key(std::string_view out_trade_no, uint64_t seq);
  static std::string notification_key(std::string_view notification_id);
  static std::string orphan_event_key(std::string_view out_trade_no,
                                      std::string_view notification_id);
  /// `t/<due_ms:020>/<out_trade_no>`: byte order is due order.
  static std::string timer_key(int64_t due_ms, std::string_view out_trade_no);
  /// `r/<out_trade_no>/<out_refund_no>`: an order's refunds sit together.
  static std::string refund_key(std::string_view out_trade_no, std::string_view out_refund_no);
  /// `f/<out_refund_no>` -> out_trade_no: refund numbers are unique per
  /// merchant, whatever the order.
  static std::string refund_owner_key(std::string_view out_refund_no);

  // -- writes ----------------------------------------------------------------

  /// Applies all `sets` in one WriteBatch; with `sync`, returns only after
  /// the batch is on disk (fsync). On error nothing of the batch applied,
  /// now or after `reopen` (only a crash before the reopen may leave a batch
  /// whose sync failed in the log, for the next open to find), and every
  /// later write fails until `reopen` succeeds.
  expected<done, store_error> commit(const std::vector<const write_set*>& sets,
                                     bool sync = true);

  /// Convenience for a single set.
  expected<done, store_error> commit(const write_set& set, bool sync = true);

  /// Writes raw bytes under a key (tests use it to plant corrupt records).
  expected<done, store_error> put_raw(std::string_view key,
                                      std::string_view value);

  // -- reads -----------------------------------------------------------------

  /// The order or nullopt when absent; an error when the bytes are corrupt
  /// or of an unknown version (naming the key).
  expected<std::optional<order_record>, store_error>
  get_order(std::string_view out_trade_no) const;

  /// Events of one order with seq > `after_seq`, in seq order, at most
  /// `limit`.
  expected<std::vector<order_event>, store_error>
  events(std::string_view out_trade_no, uint64_t after_seq = 0,
         size_t limit = 1000) const;

  /// True when the order needs a timer and its index entry (at the due
  /// time the record names) is there.
  expected<bool, store_error> timer_indexed(const order_record& x) const;

  /// Timer index entries after `after` (exclusive; nullopt = from the
  /// start) due no later than `until_ms`, in index order, at most `limit`.
  expected<std::vector<timer_entry>, store_error>
  timers(const std::optional<timer_entry>& after, int64_t until_ms, size_t limit) const;

  /// Orders per state as of the last commit (kept by every commit and
  /// written with it; read at open). Only the writer calls it.
  const order_counts& counts() const {
    return counts_;
  }

  /// The previous process stopped cleanly (`mark_clean`), or the store is
  /// new or was just migrated: nothing for an audit to find. False after a
  /// crash, a kill or a power loss.
  bool opened_clean() const {
    return opened_clean_;
  }

  /// Records a clean stop, for the next open: call last, once nothing will
  /// write again. Writer only.
  expected<done, store_error> mark_clean();

  /// What the latest open migrated (from_schema 0: nothing).
  const store_migration& last_migration() const {
    return migration_;
  }

  /// The refunds of one order, by out_refund_no (at most a few dozen).
  expected<std::vector<refund_record>, store_error> refunds(std::string_view out_trade_no) const;

  /// The order an out_refund_no was claimed for, if any.
  expected<std::optional<std::string>, store_error>
  refund_owner(std::string_view out_refund_no) const;

  /// Refunds in key order (by order, then out_refund_no) after the refund
  /// key `after` (exclusive; empty = from the start), at most `limit`, only
  /// those in `state` when given; examines at most `max_examined` records
  /// (a short page with a non-empty `next` means "keep going").
  struct refund_page {
    std::vector<refund_record> refunds;
    std::string next; ///< a refund key to pass as `after`; empty at the end
  };
  expected<refund_page, store_error> scan_refunds(std::string_view after, size_t limit,
                                                  std::optional<refund_state> state,
                                                  size_t max_examined = 100000) const;

  /// The out_trade_no a processed notification id belongs to, if any.
  expected<std::optional<std::string>, store_error>
  find_notification(std::string_view notification_id) const;

  /// Orphan events in key order (by out_trade_no, then notification id)
  /// after `after_key` (exclusive; empty = from the start), at most `limit`;
  /// with `out_trade_no`, only that order's.
  expected<std::vector<orphan_event>, store_error>
  orphan_events(std::string_view out_trade_no, std::string_view after_key,
                size_t limit) const;

  /// Orders in key order after `after` (exclusive; empty = from the start),
  /// at most `limit`, only those `filter` matches. Examines at most
  /// `max_examined` records per call so a filtered page is bounded work; a
  /// short page with a non-empty `next` means "keep going".
  expected<order_page, store_error>
  scan_orders(std::string_view after, size_t limit,
              const order_filter& filter = {},
              size_t max_examined = 100000) const;

  /// Calls `f` for every stored order (recovery, summaries). A record that
  /// does not decode is passed to `on_error` and skipped: one bad record
  /// must not keep every other order from recovering.
  void for_each_order(const std::function<void(const order_record&)>& f,
                      const std::function<void(const store_error&)>& on_error)
    const;

  // -- audit ------------------------------------------------------------------

  /// Reads up to `limit` records after the order key `after` (empty: from
  /// the start): counts those that do not decode, and gives every order
  /// that needs a timer the index entry its record names if it lacks it.
  /// After any crash there is nothing to repair (record and index are
  /// written in one batch); this finds what a damaged disk or a bug left.
  /// Writer only: it writes the repairs (synced).
  expected<audit_step, store_error> audit_records(std::string_view after, size_t limit);

  /// The same over up to `limit` timer index entries after the index key
  /// `after`: deletes an entry whose order does not exist, needs no timer
  /// or is due at another time. Writer only.
  expected<audit_step, store_error> audit_index(std::string_view after, size_t limit);

  /// Makes the store writable again after a failed commit: first checks
  /// that the disk takes a synced write (a scratch file in the directory);
  /// while it does not, fails and leaves the open handle serving reads.
  /// Then closes LevelDB, cuts its log back to the last synced byte (what a
  /// failed write left there must not come back: see log_sync_env), opens
  /// it again (salvaging its log as `open` does) and checks a synced write.
  /// Unsynced commits (`sync` false) since the last synced one are lost.
  /// Not thread-safe: only the one writer (the store actor) calls it, and
  /// nobody may read meanwhile. If the open fails the store stays closed and
  /// every call fails until a later reopen succeeds.
  expected<done, store_error> reopen();

  /// What the latest open or reopen skipped of the log (all zero when it
  /// read back whole). Only the writer calls it (like `reopen`).
  const log_salvage& last_open_salvage() const {
    return salvage_;
  }

  /// Bytes on disk of the store's directory (tables, log, manifest): what a
  /// backup copies. LevelDB's own estimate ignores the unflushed log.
  uint64_t approximate_size() const;

  /// The counters and the size on disk (reads the directory: blocking).
  store_stats stats() const;

private:
  order_store(std::unique_ptr<log_sync_env> env, std::unique_ptr<leveldb::DB> db,
              std::string dir, store_options opts);

  static expected<std::unique_ptr<leveldb::DB>, store_error>
  open_db(const std::string& dir, const store_options& opts, leveldb::Env* env,
          log_salvage& salvage);

  /// Writes `batch` (refused after a failed write, which marks the store
  /// for a reopen).
  expected<done, store_error> write_batch(leveldb::WriteBatch& batch, bool sync = true);

  /// The value at `key`, or nullopt when absent.
  expected<std::optional<std::string>, store_error> get_text(const std::string& key) const;

  /// Decodes the values of the keys under `prefix`, from `start` (at least
  /// `prefix`), at most `limit`; the first value that does not decode is
  /// the error.
  template <class T, class Decode>
  expected<std::vector<T>, store_error> scan_prefix(const std::string& prefix,
                                                    const std::string& start, size_t limit,
                                                    Decode decode) const;

  /// The common end of an audit step: the cursor, and the repairs written.
  expected<audit_step, store_error> finish_audit(audit_step step,
                                                 expected<std::string, store_error> next,
                                                 leveldb::WriteBatch& repairs);

  /// Reads the schema and the counts, migrating or recounting as needed.
  expected<done, store_error> load_schema();
  /// One scan of every record: their index entries (when `index`) and the
  /// counts, written with `m/schema` = schema_version last.
  expected<done, store_error> rebuild(bool index);

  /// What LevelDB writes through; declared first, so that it outlives db_.
  std::unique_ptr<log_sync_env> env_;
  /// Null while a reopen failed.
  std::unique_ptr<leveldb::DB> db_;
  std::string dir_;
  store_options opts_;

  // Only the writer touches these (commit, put_raw, reopen).

  /// A write failed on `db_`: it must not write again (see reopen).
  bool write_failed_ = false;
  log_salvage salvage_;
  store_migration migration_;
  bool opened_clean_ = false;
  /// As durable as the last commit (a failed one leaves it unchanged).
  order_counts counts_;

  // Counters; atomics because readers of stats() run on other threads.
  std::atomic<uint64_t> write_sets_{0};
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> syncs_{0};
};

} // namespace paycoord
