#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "storage/order_counts.hpp"
#include "storage/order_record.hpp"

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
} // namespace prometheus

namespace paycoord {

// -- outcome labels ------------------------------------------------------------
// Every label set is a fixed enum: nothing a peer sends becomes a label value,
// so the number of series is bounded whatever arrives.

/// How one request to the WeChat notify route ended.
enum class notify_outcome : uint8_t {
  accepted,           ///< a verified payment moved the order to PAID
  duplicate,          ///< nothing new (already PAID/CONFIRMED, or parked)
  anomaly,            ///< verified, but amount/currency differ: ANOMALY
  orphan,             ///< verified, for an order paycoord never saw: ORPHAN
  event,              ///< a verified non-payment event (refund, ...), stored
  rejected_signature, ///< 401: signature missing/invalid, probe, serial, skew
  rejected_malformed, ///< 400: malformed JSON, decryption failure, bad fields
  foreign_merchant,   ///< 400: verified, but for another mchid/appid
  failed,             ///< 5xx: the state could not be synced (WeChat retries)
  not_ready,          ///< 503: recovery has not finished
};

const char* to_string(notify_outcome x);

enum class wechat_endpoint : uint8_t { prepay, query, close, refund_apply, refund_query };

const char* to_string(wechat_endpoint x);

/// One outbound WeChat call, as the order actor reads it.
enum class wechat_outcome : uint8_t {
  ok,          ///< verified 2xx
  not_found,   ///< 404
  retry_later, ///< 202, 429, 5xx, no answer, unverifiable response
  failed,      ///< 400/401/403 and anything else retrying will not fix
  refused,     ///< never sent: the pool's queue was full or it is stopping
};

const char* to_string(wechat_outcome x);

enum class business_outcome : uint8_t {
  acked,     ///< 2xx
  rejected,  ///< an HTTP answer that is not 2xx
  no_answer, ///< timeout, connection refused or reset
  refused,   ///< never sent: the pool's queue was full or it is stopping
};

const char* to_string(business_outcome x);

// -- the metrics ---------------------------------------------------------------

/// paycoord's Prometheus metrics (CONTRACTS.md §7), on prometheus-cpp's types
/// and its text serializer. Thread-safe: every method may be called from any
/// thread at once (the metrics are atomics; `serialize` takes the registry's
/// lock). Never blocks on I/O.
///
/// The order counts per state are the store's own (order_counts: moved by
/// every commit and persisted with it, read at open without a scan): the
/// store actor sets them after every synced batch, so the inspector's
/// summary reads them here instead of scanning the store.
class metrics {
public:
  static constexpr size_t state_count = paycoord::order_counts::state_count;
  using state_counts = std::array<int64_t, state_count>;

  metrics();
  ~metrics();

  metrics(const metrics&) = delete;
  metrics& operator=(const metrics&) = delete;

  // -- orders ------------------------------------------------------------------

  /// The store's counts after its latest synced batch (or at open).
  void set_order_counts(const paycoord::order_counts& counts);

  /// Records that did not decode, and stretches of the log that the open
  /// skipped: what the store holds but cannot read.
  void set_unreadable_records(int64_t n);

  /// A record change that is now synced (`before` null for an order that
  /// did not exist): observes notify-to-ack latency when `after` is the
  /// business server's ack.
  void order_written(const order_record* before, const order_record& after);

  static constexpr size_t refund_state_count = paycoord::order_counts::refund_state_count;
  using refund_counts = std::array<int64_t, refund_state_count>;
  /// Refunds by state, and ABNORMAL ones no person resolved (the store's
  /// counters, set with the order counts).
  refund_counts refunds_by_state() const;
  int64_t unresolved_refunds() const;

  state_counts orders_by_state() const;
  /// Parked orders (ANOMALY, ORPHAN, FAULTED) no person has resolved yet.
  state_counts unresolved_counts() const;
  int64_t stuck_orders() const;
  int64_t unreadable_records() const;

  /// Live order actors / timers armed (set by their owners on change).
  void set_live_actors(uint64_t n);
  void set_timers_armed(uint64_t n);
  /// One order timer fired `lateness_ms` after its due time; `late` when it
  /// was due longer ago than the service's late threshold at its turn.
  void timer_fired(int64_t lateness_ms, bool late);
  void actor_restarted();
  void set_ready(bool ready);
  /// The store can write (false from a failed commit until it reopened);
  /// /readyz is not ready while it cannot.
  void set_store_writable(bool writable);
  bool store_writable() const;

  // -- edges --------------------------------------------------------------------

  void notification(notify_outcome outcome);
  void wechat_call(wechat_endpoint endpoint, wechat_outcome outcome, int64_t latency_ms);
  void business_callback(business_outcome outcome, int64_t latency_ms);

  // -- store --------------------------------------------------------------------

  /// One group commit: `write_sets` writers shared one synced batch that took
  /// `sync_ms`; `ok` false when LevelDB failed it.
  void store_batch(size_t write_sets, double sync_ms, bool ok);

  /// Open connections of one listener (public, admin, metrics), set by the
  /// caller that owns the server.
  void set_http_connections(const std::string& listener, uint64_t open);

  // -- exposition --------------------------------------------------------------

  /// Every metric in the Prometheus text format 0.0.4.
  std::string serialize() const;

  /// The Content-Type of `serialize`'s output.
  static constexpr const char* content_type = "text/plain; version=0.0.4; charset=utf-8";

private:
  struct families;

  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<families> f_;

  // The exact counts behind the gauges (a gauge is a double; these are the
  // integers the inspector shows).
  std::array<std::atomic<int64_t>, state_count> orders_{};
  std::array<std::atomic<int64_t>, state_count> unresolved_{};
  std::array<std::atomic<int64_t>, refund_state_count> refunds_{};
  std::atomic<int64_t> refunds_unresolved_{0};
  std::atomic<int64_t> stuck_{0};
  std::atomic<int64_t> unreadable_{0};
  std::atomic<bool> store_writable_{true};
};

} // namespace paycoord
