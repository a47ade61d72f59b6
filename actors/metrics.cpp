#include "actors/metrics.hpp"

#include <algorithm>
#include <map>
#include <mutex>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace paycoord {

// -- labels ----------------------------------------------------------------------

const char* to_string(notify_outcome x) {
  static constexpr const char* names[] = {
    "accepted",           "duplicate",          "anomaly",          "orphan", "event",
    "rejected_signature", "rejected_malformed", "foreign_merchant", "failed", "not_ready",
  };
  return names[static_cast<size_t>(x)];
}

const char* to_string(wechat_endpoint x) {
  static constexpr const char* names[] = {"prepay", "query", "close", "refund_apply",
                                          "refund_query"};
  return names[static_cast<size_t>(x)];
}

const char* to_string(wechat_outcome x) {
  static constexpr const char* names[] = {"ok", "not_found", "retry_later", "failed",
                                          "refused"};
  return names[static_cast<size_t>(x)];
}

const char* to_string(business_outcome x) {
  static constexpr const char* names[] = {"acked", "rejected", "no_answer", "refused"};
  return names[static_cast<size_t>(x)];
}

namespace {

constexpr size_t notify_outcomes = 10;
constexpr size_t wechat_endpoints = 5;
constexpr size_t wechat_outcomes = 5;
constexpr size_t business_outcomes = 4;

/// Seconds, for latencies from a millisecond of loopback to minutes of an
/// outage.
prometheus::Histogram::BucketBoundaries latency_buckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

/// Payment to ack spans a notification's milliseconds and a business
/// outage's hours (delivery never gives up).
prometheus::Histogram::BucketBoundaries ack_buckets() {
  return {0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600};
}

prometheus::Histogram::BucketBoundaries batch_buckets() {
  return {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
}

} // namespace

/// The registered families and the series of every fixed label set, made
/// once so that the hot paths only touch atomics (no map lookups, no locks).
struct metrics::families {
  explicit families(prometheus::Registry& r)
    : orders(prometheus::BuildGauge()
               .Name("paycoord_orders")
               .Help("Orders by state (stored records)")
               .Register(r)),
      stuck(prometheus::BuildGauge()
              .Name("paycoord_orders_stuck")
              .Help("PAID orders whose delivery has failed for longer than schedule.stuck_after")
              .Register(r)
              .Add({})),
      unreadable(prometheus::BuildGauge()
                   .Name("paycoord_store_unreadable_records")
                   .Help("Order records the store audit could not decode, plus stretches of "
                         "the log the open skipped")
                   .Register(r)
                   .Add({})),
      counts_source(prometheus::BuildGauge()
                      .Name("paycoord_order_counts_info")
                      .Help("Where paycoord_orders comes from: the store's persisted counters, "
                            "moved by every commit (no scan at start)")
                      .Register(r)
                      .Add({{"source", "persisted_counters"}})),
      live_actors(prometheus::BuildGauge()
                    .Name("paycoord_order_actors")
                    .Help("Order actors in memory")
                    .Register(r)
                    .Add({})),
      timers_armed(prometheus::BuildGauge()
                     .Name("paycoord_timers_armed")
                     .Help("Order timers held in the timers service's memory (the window of the "
                           "store's timer index)")
                     .Register(r)
                     .Add({})),
      timers_fired(prometheus::BuildCounter()
                     .Name("paycoord_timers_fired_total")
                     .Help("Order timers fired, by whether they were late (due more than 1 s "
                           "before their turn: downtime, a clock jump, a backlog)")
                     .Register(r)),
      timer_lateness(prometheus::BuildHistogram()
                       .Name("paycoord_timer_lateness_seconds")
                       .Help("From an order timer's due time to its fire")
                       .Register(r)
                       .Add({}, prometheus::Histogram::BucketBoundaries{
                                  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 10,
                                  60, 600, 3600})),
      restarts(prometheus::BuildCounter()
                 .Name("paycoord_actor_restarts_total")
                 .Help("Order actors respawned by the registry after a crash")
                 .Register(r)
                 .Add({})),
      ready(prometheus::BuildGauge()
              .Name("paycoord_ready")
              .Help("1 once recovery has re-armed every non-terminal order")
              .Register(r)
              .Add({})),
      store_writable(prometheus::BuildGauge()
                       .Name("paycoord_store_writable")
                       .Help("1 while the store can write; 0 from a failed commit until it reopened")
                       .Register(r)
                       .Add({})),
      unresolved(prometheus::BuildGauge()
                   .Name("paycoord_orders_unresolved")
                   .Help("Parked orders (ANOMALY, ORPHAN, FAULTED) no person has resolved, by state")
                   .Register(r)),
      notifications(prometheus::BuildCounter()
                      .Name("paycoord_notifications_total")
                      .Help("WeChat Pay notifications received, by outcome")
                      .Register(r)),
      wechat_calls(prometheus::BuildCounter()
                     .Name("paycoord_wechat_calls_total")
                     .Help("Calls to WeChat Pay, by endpoint and outcome")
                     .Register(r)),
      wechat_latency(prometheus::BuildHistogram()
                       .Name("paycoord_wechat_call_duration_seconds")
                       .Help("Duration of calls to WeChat Pay that were sent")
                       .Register(r)),
      business_calls(prometheus::BuildCounter()
                       .Name("paycoord_business_callbacks_total")
                       .Help("Paid-order callbacks to the business server, by outcome")
                       .Register(r)),
      business_latency(prometheus::BuildHistogram()
                         .Name("paycoord_business_callback_duration_seconds")
                         .Help("Duration of business callbacks that were sent")
                         .Register(r)
                         .Add({}, latency_buckets())),
      notify_to_ack(prometheus::BuildHistogram()
                      .Name("paycoord_notify_to_ack_seconds")
                      .Help("From a verified payment synced as PAID to the business server's ack, "
                            "by how the payment became known")
                      .Register(r)),
      batches(prometheus::BuildCounter()
                .Name("paycoord_store_batches_total")
                .Help("Synced LevelDB write batches (group commits)")
                .Register(r)
                .Add({})),
      batch_failures(prometheus::BuildCounter()
                       .Name("paycoord_store_write_failures_total")
                       .Help("Write batches LevelDB failed (every writer in it got an error)")
                       .Register(r)
                       .Add({})),
      batch_sizes(prometheus::BuildHistogram()
                    .Name("paycoord_store_batch_write_sets")
                    .Help("Writers sharing one synced batch")
                    .Register(r)
                    .Add({}, batch_buckets())),
      sync_latency(prometheus::BuildHistogram()
                     .Name("paycoord_store_sync_duration_seconds")
                     .Help("Duration of one synced batch write")
                     .Register(r)
                     .Add({}, latency_buckets())),
      connections(prometheus::BuildGauge()
                    .Name("paycoord_http_connections_open")
                    .Help("Open inbound HTTP connections, by listener")
                    .Register(r)),
      refunds(prometheus::BuildGauge()
                .Name("paycoord_refunds")
                .Help("Refunds by state (stored records)")
                .Register(r)),
      refunds_unresolved(prometheus::BuildGauge()
                           .Name("paycoord_refunds_unresolved")
                           .Help("ABNORMAL refunds no person has resolved")
                           .Register(r)
                           .Add({})) {
    for (size_t i = 0; i < refund_state_count; ++i)
      refund_series[i] = &refunds.Add({{"state", to_string(static_cast<refund_state>(i))}});
    for (size_t i = 0; i < state_count; ++i)
      order_series[i] = &orders.Add({{"state", to_string(static_cast<order_state>(i))}});
    fired_on_time = &timers_fired.Add({{"late", "false"}});
    fired_late = &timers_fired.Add({{"late", "true"}});
    for (auto s : {order_state::anomaly, order_state::orphan, order_state::faulted})
      unresolved_series[static_cast<size_t>(s)] = &unresolved.Add({{"state", to_string(s)}});
    for (size_t i = 0; i < notify_outcomes; ++i)
      notify_series[i]
        = &notifications.Add({{"outcome", to_string(static_cast<notify_outcome>(i))}});
    for (size_t e = 0; e < wechat_endpoints; ++e) {
      auto endpoint = to_string(static_cast<wechat_endpoint>(e));
      wechat_latency_series[e] = &wechat_latency.Add({{"endpoint", endpoint}}, latency_buckets());
      for (size_t o = 0; o < wechat_outcomes; ++o)
        wechat_series[e][o] = &wechat_calls.Add(
          {{"endpoint", endpoint}, {"outcome", to_string(static_cast<wechat_outcome>(o))}});
    }
    for (size_t o = 0; o < business_outcomes; ++o)
      business_series[o]
        = &business_calls.Add({{"outcome", to_string(static_cast<business_outcome>(o))}});
    for (auto via : {paid_via::notify, paid_via::query})
      ack_series[static_cast<size_t>(via)] = &notify_to_ack.Add({{"via", to_string(via)}},
                                                                ack_buckets());
  }

  prometheus::Family<prometheus::Gauge>& orders;
  prometheus::Gauge& stuck;
  prometheus::Gauge& unreadable;
  prometheus::Gauge& counts_source;
  prometheus::Gauge& live_actors;
  prometheus::Gauge& timers_armed;
  prometheus::Family<prometheus::Counter>& timers_fired;
  prometheus::Histogram& timer_lateness;
  prometheus::Counter* fired_on_time = nullptr;
  prometheus::Counter* fired_late = nullptr;
  prometheus::Counter& restarts;
  prometheus::Gauge& ready;
  prometheus::Gauge& store_writable;
  prometheus::Family<prometheus::Gauge>& unresolved;
  prometheus::Family<prometheus::Counter>& notifications;
  prometheus::Family<prometheus::Counter>& wechat_calls;
  prometheus::Family<prometheus::Histogram>& wechat_latency;
  prometheus::Family<prometheus::Counter>& business_calls;
  prometheus::Histogram& business_latency;
  prometheus::Family<prometheus::Histogram>& notify_to_ack;
  prometheus::Counter& batches;
  prometheus::Counter& batch_failures;
  prometheus::Histogram& batch_sizes;
  prometheus::Histogram& sync_latency;
  prometheus::Family<prometheus::Gauge>& connections;
  prometheus::Family<prometheus::Gauge>& refunds;
  prometheus::Gauge& refunds_unresolved;
  std::array<prometheus::Gauge*, refund_state_count> refund_series{};

  std::array<prometheus::Gauge*, state_count> order_series{};
  /// Parked states only (the others stay null).
  std::array<prometheus::Gauge*, state_count> unresolved_series{};
  std::array<prometheus::Counter*, notify_outcomes> notify_series{};
  std::array<std::array<prometheus::Counter*, wechat_outcomes>, wechat_endpoints> wechat_series{};
  std::array<prometheus::Histogram*, wechat_endpoints> wechat_latency_series{};
  std::array<prometheus::Counter*, business_outcomes> business_series{};
  /// By paid_via (none stays null: an ack without a known payment path).
  std::array<prometheus::Histogram*, 3> ack_series{};

  /// Listener series are added on first use (three listeners at most).
  std::mutex connections_mutex;
  std::map<std::string, prometheus::Gauge*> connection_series; // guarded by connections_mutex
};

metrics::metrics()
  : registry_(std::make_shared<prometheus::Registry>()),
    f_(std::make_unique<families>(*registry_)) {
  f_->counts_source.Set(1);
}

metrics::~metrics() = default;

// -- orders ----------------------------------------------------------------------

void metrics::set_order_counts(const paycoord::order_counts& counts) {
  for (size_t i = 0; i < state_count; ++i) {
    orders_[i] = counts.by_state[i];
    f_->order_series[i]->Set(static_cast<double>(counts.by_state[i]));
    unresolved_[i] = counts.unresolved[i];
    if (auto* g = f_->unresolved_series[i])
      g->Set(static_cast<double>(counts.unresolved[i]));
  }
  stuck_ = counts.stuck;
  f_->stuck.Set(static_cast<double>(counts.stuck));
  for (size_t i = 0; i < refund_state_count; ++i) {
    refunds_[i] = counts.refunds[i];
    f_->refund_series[i]->Set(static_cast<double>(counts.refunds[i]));
  }
  refunds_unresolved_ = counts.refunds_unresolved;
  f_->refunds_unresolved.Set(static_cast<double>(counts.refunds_unresolved));
}

metrics::refund_counts metrics::refunds_by_state() const {
  refund_counts out{};
  for (size_t i = 0; i < refund_state_count; ++i)
    out[i] = refunds_[i].load();
  return out;
}

int64_t metrics::unresolved_refunds() const {
  return refunds_unresolved_.load();
}

void metrics::set_unreadable_records(int64_t n) {
  unreadable_ = n;
  f_->unreadable.Set(static_cast<double>(n));
}

void metrics::order_written(const order_record* before, const order_record& after) {
  if (before != nullptr && before->state == order_state::paid
      && after.state == order_state::confirmed && after.paid_recorded_at_ms > 0)
    if (auto* h = f_->ack_series[static_cast<size_t>(after.via)])
      h->Observe(static_cast<double>(after.confirmed_at_ms - after.paid_recorded_at_ms)
                 / 1000.0);
}

metrics::state_counts metrics::orders_by_state() const {
  state_counts out{};
  for (size_t i = 0; i < state_count; ++i)
    out[i] = orders_[i].load();
  return out;
}

metrics::state_counts metrics::unresolved_counts() const {
  state_counts out{};
  for (size_t i = 0; i < state_count; ++i)
    out[i] = unresolved_[i].load();
  return out;
}

int64_t metrics::stuck_orders() const {
  return stuck_.load();
}

int64_t metrics::unreadable_records() const {
  return unreadable_.load();
}

void metrics::set_live_actors(uint64_t n) {
  f_->live_actors.Set(static_cast<double>(n));
}

void metrics::timer_fired(int64_t lateness_ms, bool late) {
  (late ? f_->fired_late : f_->fired_on_time)->Increment();
  f_->timer_lateness.Observe(static_cast<double>(std::max<int64_t>(lateness_ms, 0)) / 1000.0);
}

void metrics::set_timers_armed(uint64_t n) {
  f_->timers_armed.Set(static_cast<double>(n));
}

void metrics::actor_restarted() {
  f_->restarts.Increment();
}

void metrics::set_ready(bool ready) {
  f_->ready.Set(ready ? 1 : 0);
}

void metrics::set_store_writable(bool writable) {
  store_writable_ = writable;
  f_->store_writable.Set(writable ? 1 : 0);
}

bool metrics::store_writable() const {
  return store_writable_.load();
}

// -- edges -------------------------------------------------------------------------

void metrics::notification(notify_outcome outcome) {
  f_->notify_series[static_cast<size_t>(outcome)]->Increment();
}

void metrics::wechat_call(wechat_endpoint endpoint, wechat_outcome outcome, int64_t latency_ms) {
  auto e = static_cast<size_t>(endpoint);
  f_->wechat_series[e][static_cast<size_t>(outcome)]->Increment();
  if (outcome != wechat_outcome::refused)
    f_->wechat_latency_series[e]->Observe(static_cast<double>(latency_ms) / 1000.0);
}

void metrics::business_callback(business_outcome outcome, int64_t latency_ms) {
  f_->business_series[static_cast<size_t>(outcome)]->Increment();
  if (outcome != business_outcome::refused)
    f_->business_latency.Observe(static_cast<double>(latency_ms) / 1000.0);
}

// -- store ---------------------------------------------------------------------------

void metrics::store_batch(size_t write_sets, double sync_ms, bool ok) {
  if (!ok) {
    f_->batch_failures.Increment();
    return;
  }
  f_->batches.Increment();
  f_->batch_sizes.Observe(static_cast<double>(write_sets));
  f_->sync_latency.Observe(sync_ms / 1000.0);
}

void metrics::set_http_connections(const std::string& listener, uint64_t open) {
  std::lock_guard<std::mutex> guard{f_->connections_mutex};
  auto& series = f_->connection_series[listener];
  if (series == nullptr)
    series = &f_->connections.Add({{"listener", listener}});
  series->Set(static_cast<double>(open));
}

// -- exposition ----------------------------------------------------------------------

std::string metrics::serialize() const {
  return prometheus::TextSerializer{}.Serialize(registry_->Collect());
}

} // namespace paycoord
