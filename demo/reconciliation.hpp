#pragma once

// The report at the end of a run: what WeChat charged against what the
// business server confirmed, how each paid order was resolved, how long it
// took, what it cost in WeChat queries, the same orders under the original
// design's 10-minute poll, and the refunds (refund_reconciliation.hpp). Pure functions over what was collected,
// so every number can be tested from synthetic rows.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "demo/poll_model.hpp"
#include "demo/refund_reconciliation.hpp"

namespace paycoord::demo {

// -- inputs --------------------------------------------------------------------

/// Everything known about one order at the end (times: unix ms, 0 = never).
struct order_outcome {
  std::string out_trade_no;
  /// The demo's customer meant to pay.
  bool pays = false;
  int64_t created_ms = 0;
  /// Paid at WeChat (the customer's payment was answered).
  int64_t paid_ms = 0;
  /// paysim's `trade_state` (SUCCESS = charged); empty when WeChat never saw it.
  std::string wechat_state;
  /// paycoord's final state and how the payment became known to it.
  std::string paycoord_state;
  std::string paid_via;
  /// WeChat lost (never sent) the payment's notification.
  bool notification_lost = false;
  /// WeChat queries paycoord made for this order (paysim's count).
  int64_t queries = 0;
  /// Callbacks the business server received and accepted (`deliveries`); the
  /// difference was refused (outage) and retried.
  int64_t forward_requests = 0;
  int64_t deliveries = 0;
  int64_t first_delivery_ms = 0;
};

/// The faults and the clock of the run.
struct run_facts {
  int64_t start_ms = 0;
  /// End of the observation (every paid order confirmed, or the wait gave up).
  int64_t end_ms = 0;
  std::optional<int64_t> kill_ms;
  std::optional<int64_t> restart_ready_ms;
  int64_t outage_from_ms = 0;
  int64_t outage_to_ms = 0;
  /// One second of the run stands for this many real seconds.
  int compression = 60;
  /// paycoord's schedule before compression (the example config's).
  std::vector<duration> verify_real;
  duration verify_every_real{std::chrono::minutes{30}};
  duration expiry_real{std::chrono::hours{2}};
};

/// paysim's totals that the invariants need (`GET /control/report`).
struct sim_totals {
  int64_t unpaid_deliveries = 0;
  int64_t mismatched_deliveries = 0;
  int64_t bad_hmac = 0;
  int64_t bad_authorization = 0;
  int64_t notifications_dropped = 0;
  int64_t notifications_duplicated = 0;
  int64_t notification_probes = 0;
  int64_t probes_answered_2xx = 0;
  int64_t down_rejections = 0;
  int64_t business_requests = 0;
  int64_t deliveries = 0;
  int64_t distinct_keys = 0;
  int64_t queries = 0;
  sim_refund_totals refunds;
};

sim_totals parse_sim_totals(const nlohmann::json& totals);

/// Payment notifications WeChat lost (paysim's `dropped` counts refund
/// notifications too).
int64_t payment_notifications_lost(const sim_totals& sim);

// -- maths ---------------------------------------------------------------------

/// Nearest-rank percentile (`p` in (0, 100]) of `sorted` (ascending); 0 when
/// empty.
double percentile(const std::vector<double>& sorted, double p);

struct distribution {
  std::size_t count = 0;
  double mean = 0;
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
  double max = 0;
};

distribution summarize(std::vector<double> values);

/// A counter sampled over time: (seconds, count).
struct counter_sample {
  double at_s = 0;
  int64_t count = 0;
};

/// The most the counter rose within any `window_s` (samples in time order;
/// a rise over a longer gap between samples is scaled down to the window).
int64_t busiest_window(const std::vector<counter_sample>& samples, double window_s);

/// WeChat queries paycoord's schedule spends on an order never paid, over
/// its whole life: the verify steps before `expiry`, the repeats every
/// `verify_every` after the last step, then the final query at expiry and
/// the one that confirms the close.
int64_t lifetime_queries_never_paid(const std::vector<duration>& verify, duration verify_every,
                                    duration expiry);

/// How a paid order reached the business server.
enum class resolution {
  unresolved,    ///< never delivered
  notification,  ///< WeChat's notification told paycoord
  verify_query,  ///< paycoord's own scheduled query found the payment
  after_restart, ///< paid before the kill -9, delivered by the restarted process
};

const char* to_string(resolution r);

/// The rule: an order paid before the kill and not yet delivered when it
/// happened was resolved after the restart; otherwise `paid_via` says
/// (notify or query); an order never delivered is unresolved.
resolution classify(const order_outcome& o, std::optional<int64_t> kill_ms);

// -- the report ----------------------------------------------------------------

struct invariant_check {
  std::string name;
  std::string description;
  int64_t value = 0;
  int64_t expected = 0;
  bool ok() const {
    return value == expected;
  }
};

/// One paid order on the chart.
struct resolved_order {
  std::string out_trade_no;
  resolution how = resolution::unresolved;
  /// Payment, from the start of the run.
  double paid_at_s = 0;
  /// Payment to first delivery at the business server.
  double to_delivery_ms = 0;
  bool notification_lost = false;
  int64_t queries = 0;
};

struct reconciliation {
  run_facts facts;

  // Counts.
  int64_t orders = 0;
  int64_t created = 0;
  int64_t paid_at_wechat = 0;
  int64_t confirmed_at_business = 0;
  int64_t confirmed_at_paycoord = 0;
  int64_t unpaid = 0;
  int64_t closed = 0;
  int64_t unpaid_delivered = 0;
  int64_t lost = 0;
  int64_t wrongly_paid = 0;
  int64_t deliveries = 0;
  int64_t forward_retried_orders = 0;
  sim_totals sim;

  std::vector<invariant_check> invariants;
  bool ok() const;

  // How each paid order was resolved, and its payment-to-delivery latency.
  int64_t by_notification = 0;
  int64_t by_verify_query = 0;
  int64_t after_restart = 0;
  int64_t unresolved = 0;
  distribution latency_all;
  distribution latency_notification;
  distribution latency_verify_query;
  distribution latency_after_restart;

  // Lost notifications: paycoord, measured (demo ms), over the ones neither
  // the outage nor the restart touched.
  int64_t lost_notifications = 0;
  distribution lost_fix_ms;

  // WeChat queries per order, paycoord (measured at paysim).
  int64_t queries_total = 0;
  double queries_per_order = 0;
  double queries_per_paid_order = 0;
  double queries_per_unpaid_order = 0;
  int64_t queries_max_per_order = 0;

  // The original design for the same orders (real-world times).
  poll_model original;
  duration window_real{0};
  int64_t original_queries_total = 0;
  double original_queries_per_order = 0;
  int64_t original_largest_poll = 0;
  /// An order never paid, over its whole life (real schedule, not the run).
  int64_t lifetime_never_paid = 0;
  int64_t original_lifetime_never_paid = 0;
  /// Its time to fix a lost notification, for these orders (seconds).
  distribution original_lost_fix_s;

  std::vector<resolved_order> resolved;

  /// The refunds and their invariants' counts (the invariants themselves
  /// are in `invariants`, with the payments').
  refund_reconciliation refunds;
};

/// Builds the report. `poll_phase` places the original design's polls on
/// the run's real-world timeline; `refunds` are the customers' refund
/// requests (none: every refund invariant is 0).
reconciliation reconcile(const std::vector<order_outcome>& orders, const run_facts& facts,
                         const sim_totals& sim, duration poll_phase,
                         const std::vector<refund_outcome>& refunds = {});

nlohmann::json to_json(const reconciliation& r);

} // namespace paycoord::demo
