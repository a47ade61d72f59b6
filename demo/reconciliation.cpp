#include "demo/reconciliation.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "demo/json_call.hpp"

namespace paycoord::demo {

namespace {

using json = nlohmann::json;

bool is_charged(const order_outcome& o) {
  return o.wechat_state == "SUCCESS" || o.wechat_state == "REFUND";
}

bool is_delivered(const order_outcome& o) {
  return o.deliveries > 0 && o.first_delivery_ms != 0;
}

/// Real-world offset of a demo time on the run's timeline.
duration real_offset(const run_facts& f, int64_t unix_ms) {
  return duration{(unix_ms - f.start_ms) * f.compression};
}

double mean_of(int64_t total, int64_t count) {
  return count == 0 ? 0 : static_cast<double>(total) / static_cast<double>(count);
}

json to_json(const distribution& d) {
  return {{"count", d.count}, {"mean", d.mean}, {"p50", d.p50},
          {"p90", d.p90},     {"p99", d.p99},   {"max", d.max}};
}

void add_invariants(reconciliation& r) {
  r.invariants = {
    {"paid_equals_confirmed",
     "orders paid at WeChat minus orders confirmed at the business server",
     r.paid_at_wechat - r.confirmed_at_business, 0},
    {"lost", "paid at WeChat but not CONFIRMED at paycoord and delivered", r.lost, 0},
    {"unpaid_delivered", "orders delivered to the business server that WeChat never charged",
     r.unpaid_delivered, 0},
    {"wrongly_paid",
     "orders paycoord marked paid that WeChat did not charge, or delivered with the wrong amount",
     r.wrongly_paid, 0},
    {"probes_accepted", "probe-signed notifications paycoord accepted",
     r.sim.probes_answered_2xx, 0},
    {"bad_signatures", "requests paysim received with a bad signature or HMAC",
     r.sim.bad_authorization + r.sim.bad_hmac, 0},
    {"refunds_lost",
     "refunds SUCCESS at WeChat never delivered as refund.succeeded to the business server",
     r.refunds.lost, 0},
    {"refunded_over_paid", "orders whose SUCCESS refunds add up to more than was paid",
     r.refunds.over_paid, 0},
    {"wrong_refund_deliveries", "refund callbacks that contradict what WeChat did",
     r.refunds.wrong_deliveries, 0},
    {"refunds_unsettled",
     "refunds asked for that paycoord did not take (no answer, a 4xx, 502 REFUND_REFUSED), did "
     "not settle (SUCCESS, CLOSED or ABNORMAL, as WeChat says), or whose callback the business "
     "server never got",
     r.refunds.unsettled, 0},
    {"refund_repeats_not_deduped",
     "the same refund request sent again and not answered 200 with the same refund",
     r.refunds.repeats_not_deduped, 0},
    {"over_refunds_not_refused",
     "requests for more than is left not answered 409 REFUND_EXCEEDS_PAID",
     r.refunds.over_refunds_not_refused, 0},
  };
}

void add_original_design(reconciliation& r, const std::vector<order_outcome>& orders) {
  const auto& f = r.facts;
  r.window_real = real_offset(f, f.end_ms);
  std::vector<polled_order> polled;
  std::vector<double> fix_s;
  for (auto& o : orders) {
    if (o.created_ms == 0)
      continue;
    polled_order p{real_offset(f, o.created_ms), std::nullopt, o.notification_lost};
    if (is_charged(o) && o.paid_ms != 0)
      p.paid = real_offset(f, o.paid_ms);
    auto out = simulate_polls(r.original, p, r.window_real);
    r.original_queries_total += out.queries;
    if (out.time_to_fix)
      fix_s.push_back(static_cast<double>(out.time_to_fix->count()) / 1000.0);
    polled.push_back(p);
  }
  r.original_queries_per_order = mean_of(r.original_queries_total, static_cast<int64_t>(polled.size()));
  r.original_largest_poll = largest_poll(r.original, polled, r.window_real);
  r.original_lost_fix_s = summarize(std::move(fix_s));
}

} // namespace

sim_totals parse_sim_totals(const json& t) {
  struct source {
    int64_t sim_totals::*member;
    const char* section;
    const char* key;
  };
  static constexpr source sources[] = {
    {&sim_totals::unpaid_deliveries, "business", "unpaid_deliveries"},
    {&sim_totals::mismatched_deliveries, "business", "mismatched_deliveries"},
    {&sim_totals::bad_hmac, "business", "bad_hmac"},
    {&sim_totals::bad_authorization, "wechat", "bad_authorization"},
    {&sim_totals::notifications_dropped, "notifications", "dropped"},
    {&sim_totals::notifications_duplicated, "notifications", "duplicated"},
    {&sim_totals::notification_probes, "notifications", "probes"},
    {&sim_totals::probes_answered_2xx, "notifications", "probes_answered_2xx"},
    {&sim_totals::down_rejections, "business", "down_rejections"},
    {&sim_totals::business_requests, "business", "requests"},
    {&sim_totals::deliveries, "business", "deliveries"},
    {&sim_totals::distinct_keys, "business", "distinct_keys"},
    {&sim_totals::queries, "wechat", "queries"},
  };
  sim_totals s;
  for (auto& src : sources)
    s.*src.member = json_int(t, src.section, src.key);
  s.refunds = parse_sim_refund_totals(t);
  return s;
}

int64_t payment_notifications_lost(const sim_totals& sim) {
  return sim.notifications_dropped - sim.refunds.notifications_dropped;
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty())
    return 0;
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

distribution summarize(std::vector<double> values) {
  distribution d;
  if (values.empty())
    return d;
  std::sort(values.begin(), values.end());
  d.count = values.size();
  d.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(d.count);
  d.p50 = percentile(values, 50);
  d.p90 = percentile(values, 90);
  d.p99 = percentile(values, 99);
  d.max = values.back();
  return d;
}

int64_t busiest_window(const std::vector<counter_sample>& samples, double window_s) {
  double most = 0;
  std::size_t j = 0;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    // The first sample at least a window after sample i.
    j = std::max(j, i + 1);
    while (j < samples.size() && samples[j].at_s - samples[i].at_s < window_s)
      ++j;
    auto end = std::min(j, samples.size() - 1);
    auto span = samples[end].at_s - samples[i].at_s;
    if (span <= 0)
      continue;
    auto rise = static_cast<double>(samples[end].count - samples[i].count);
    most = std::max(most, span > window_s ? rise * window_s / span : rise);
  }
  return static_cast<int64_t>(std::llround(most));
}

int64_t lifetime_queries_never_paid(const std::vector<duration>& verify, duration verify_every,
                                    duration expiry) {
  int64_t queries = 0;
  duration last{0};
  for (auto step : verify) {
    if (step >= expiry)
      break;
    ++queries;
    last = step;
  }
  if (verify_every > duration::zero() && !verify.empty())
    for (auto t = last + verify_every; t < expiry; t += verify_every)
      ++queries;
  return queries + 2;
}

const char* to_string(resolution r) {
  switch (r) {
    case resolution::unresolved:
      return "unresolved";
    case resolution::notification:
      return "notification";
    case resolution::verify_query:
      return "verify_query";
    case resolution::after_restart:
      return "after_restart";
  }
  return "unresolved";
}

resolution classify(const order_outcome& o, std::optional<int64_t> kill_ms) {
  if (!is_delivered(o))
    return resolution::unresolved;
  if (kill_ms && o.paid_ms != 0 && o.paid_ms < *kill_ms && o.first_delivery_ms > *kill_ms)
    return resolution::after_restart;
  if (o.paid_via == "notify")
    return resolution::notification;
  if (o.paid_via == "query")
    return resolution::verify_query;
  return resolution::unresolved;
}

bool reconciliation::ok() const {
  return std::all_of(invariants.begin(), invariants.end(),
                     [](const invariant_check& c) { return c.ok(); });
}

reconciliation reconcile(const std::vector<order_outcome>& orders, const run_facts& facts,
                         const sim_totals& sim, duration poll_phase,
                         const std::vector<refund_outcome>& refunds) {
  reconciliation r;
  r.facts = facts;
  r.sim = sim;
  r.original.phase = poll_phase;
  r.original.expiry = facts.expiry_real;
  r.lifetime_never_paid =
    lifetime_queries_never_paid(facts.verify_real, facts.verify_every_real, facts.expiry_real);
  r.original_lifetime_never_paid = facts.expiry_real / r.original.period;
  r.orders = static_cast<int64_t>(orders.size());

  std::vector<double> all, by_notify, by_query, by_restart, lost_fix;
  int64_t paid_queries = 0, unpaid_queries = 0;
  for (auto& o : orders) {
    r.created += o.created_ms != 0;
    r.deliveries += o.deliveries;
    r.queries_total += o.queries;
    r.queries_max_per_order = std::max(r.queries_max_per_order, o.queries);
    bool charged = is_charged(o);
    bool paycoord_paid = o.paycoord_state == "PAID" || o.paycoord_state == "CONFIRMED";
    if (!charged) {
      ++r.unpaid;
      unpaid_queries += o.queries;
      r.closed += o.paycoord_state == "CLOSED";
      r.unpaid_delivered += o.deliveries > 0;
      r.wrongly_paid += paycoord_paid;
      continue;
    }
    ++r.paid_at_wechat;
    paid_queries += o.queries;
    r.confirmed_at_business += is_delivered(o);
    r.confirmed_at_paycoord += o.paycoord_state == "CONFIRMED";
    r.lost += !(is_delivered(o) && o.paycoord_state == "CONFIRMED");
    r.lost_notifications += o.notification_lost;
    bool retried = o.forward_requests > o.deliveries;
    r.forward_retried_orders += retried;

    auto how = classify(o, facts.kill_ms);
    resolved_order row{o.out_trade_no, how,
                       static_cast<double>(o.paid_ms - facts.start_ms) / 1000.0, 0,
                       o.notification_lost, o.queries};
    if (how == resolution::unresolved) {
      ++r.unresolved;
      r.resolved.push_back(row);
      continue;
    }
    row.to_delivery_ms = static_cast<double>(o.first_delivery_ms - o.paid_ms);
    all.push_back(row.to_delivery_ms);
    switch (how) {
      case resolution::notification:
        ++r.by_notification;
        by_notify.push_back(row.to_delivery_ms);
        break;
      case resolution::verify_query:
        ++r.by_verify_query;
        by_query.push_back(row.to_delivery_ms);
        // The lost notifications fixed by the schedule alone.
        if (o.notification_lost && !retried)
          lost_fix.push_back(row.to_delivery_ms);
        break;
      case resolution::after_restart:
        ++r.after_restart;
        by_restart.push_back(row.to_delivery_ms);
        break;
      case resolution::unresolved:
        break;
    }
    r.resolved.push_back(row);
  }
  // A delivery paysim could not match to its payment is wrong too.
  r.wrongly_paid += sim.mismatched_deliveries;
  r.unpaid_delivered = std::max(r.unpaid_delivered, sim.unpaid_deliveries);

  r.latency_all = summarize(std::move(all));
  r.latency_notification = summarize(std::move(by_notify));
  r.latency_verify_query = summarize(std::move(by_query));
  r.latency_after_restart = summarize(std::move(by_restart));
  r.lost_fix_ms = summarize(std::move(lost_fix));
  r.queries_per_order = mean_of(r.queries_total, r.orders);
  r.queries_per_paid_order = mean_of(paid_queries, r.paid_at_wechat);
  r.queries_per_unpaid_order = mean_of(unpaid_queries, r.unpaid);
  r.refunds = reconcile_refunds(refunds, sim.refunds);
  add_invariants(r);
  add_original_design(r, orders);
  return r;
}

json to_json(const reconciliation& r) {
  const auto& f = r.facts;
  auto seconds_since_start = [&](std::optional<int64_t> ms) -> json {
    return ms ? json(static_cast<double>(*ms - f.start_ms) / 1000.0) : json(nullptr);
  };
  double factor = f.compression;
  auto real_s = [&](double demo_ms) { return demo_ms * factor / 1000.0; };
  json invariants = json::array();
  for (auto& c : r.invariants)
    invariants.push_back({{"name", c.name},
                          {"description", c.description},
                          {"value", c.value},
                          {"expected", c.expected},
                          {"ok", c.ok()}});
  json resolved = json::array();
  for (auto& o : r.resolved)
    resolved.push_back({{"out_trade_no", o.out_trade_no},
                        {"resolution", to_string(o.how)},
                        {"paid_at_s", o.paid_at_s},
                        {"to_delivery_ms", o.to_delivery_ms},
                        {"notification_lost", o.notification_lost},
                        {"queries", o.queries}});
  const auto& fix = r.lost_fix_ms;
  return {
    {"ok", r.ok()},
    {"invariants", invariants},
    {"run",
     {{"duration_s", static_cast<double>(f.end_ms - f.start_ms) / 1000.0},
      {"compression", f.compression},
      {"kill_at_s", seconds_since_start(f.kill_ms)},
      {"restart_ready_at_s", seconds_since_start(f.restart_ready_ms)},
      {"business_outage_s",
       {seconds_since_start(f.outage_from_ms), seconds_since_start(f.outage_to_ms)}}}},
    {"counts",
     {{"orders", r.orders},
      {"created", r.created},
      {"paid_at_wechat", r.paid_at_wechat},
      {"confirmed_at_business", r.confirmed_at_business},
      {"confirmed_at_paycoord", r.confirmed_at_paycoord},
      {"unpaid", r.unpaid},
      {"closed", r.closed},
      {"unpaid_delivered", r.unpaid_delivered},
      {"lost", r.lost},
      {"wrongly_paid", r.wrongly_paid},
      {"deliveries", r.deliveries},
      {"distinct_keys", r.sim.distinct_keys},
      {"forward_retried_orders", r.forward_retried_orders}}},
    {"faults",
     {{"notifications_lost", payment_notifications_lost(r.sim)},
      {"notifications_duplicated", r.sim.notifications_duplicated},
      {"notification_probes", r.sim.notification_probes},
      {"probes_accepted", r.sim.probes_answered_2xx},
      {"business_down_rejections", r.sim.down_rejections},
      {"kill9", f.kill_ms ? 1 : 0},
      {"refund_notifications_lost", r.sim.refunds.notifications_dropped},
      {"refund_apply_errors", r.sim.refunds.apply_errors},
      {"refund_apply_answers_lost", r.sim.refunds.answers_lost}}},
    {"resolution",
     {{"notification", r.by_notification},
      {"verify_query", r.by_verify_query},
      {"after_restart", r.after_restart},
      {"unresolved", r.unresolved},
      {"rule",
       "after_restart: paid at WeChat before the kill -9 and first delivered after it; "
       "otherwise paycoord's paid_via: notify -> notification, query -> verify_query"}}},
    {"latency_ms",
     {{"all", to_json(r.latency_all)},
      {"notification", to_json(r.latency_notification)},
      {"verify_query", to_json(r.latency_verify_query)},
      {"after_restart", to_json(r.latency_after_restart)}}},
    {"queries",
     {{"total", r.queries_total},
      {"per_order", r.queries_per_order},
      {"per_paid_order", r.queries_per_paid_order},
      {"per_unpaid_order", r.queries_per_unpaid_order},
      {"max_per_order", r.queries_max_per_order},
      {"never_paid_lifetime", r.lifetime_never_paid}}},
    {"lost_notification_fix",
     {{"lost_notifications", r.lost_notifications},
      {"paycoord",
       {{"measured_over", fix.count},
        {"demo_ms", to_json(fix)},
        {"real_mean_s", real_s(fix.mean)},
        {"real_worst_s", real_s(fix.max)},
        {"note", "orders whose lost notification a verify query fixed, not also hit by the "
                 "business outage or the restart; real = demo x compression"}}},
      {"original_design",
       {{"model_mean_s", r.original.period.count() / 2000.0},
        {"model_worst_s", r.original.period.count() / 1000.0},
        {"all_lost_notifications_s", to_json(r.original_lost_fix_s)}}}}},
    {"original_design",
     {{"model",
       "one global job every 10 min queries every order the business server has as unpaid: "
       "from creation until its notification arrives, the first poll after a lost one, or "
       "expiry at 2 h; the run's times are multiplied by the compression to real time"},
      {"poll_every_s", r.original.period.count() / 1000},
      {"expiry_s", r.original.expiry.count() / 1000},
      {"first_poll_at_s", r.original.phase.count() / 1000.0},
      {"window_real_s", r.window_real.count() / 1000.0},
      {"queries_total", r.original_queries_total},
      {"queries_per_order", r.original_queries_per_order},
      {"largest_poll", r.original_largest_poll},
      {"never_paid_lifetime", r.original_lifetime_never_paid}}},
    {"orders", resolved},
    {"refunds", to_json(r.refunds)},
  };
}

} // namespace paycoord::demo
