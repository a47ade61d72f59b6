// paycoord's metrics: the store's order counts, bounded label sets, and
// an exposition that parses as Prometheus text with every metric of
// CONTRACTS.md §7.

#include "actors/metrics.hpp"

#include <gtest/gtest.h>

#include "tests/prometheus_text.hpp"

using namespace paycoord;
using namespace paycoord::testing;

namespace {

order_record order(order_state s, bool stuck = false) {
  order_record x;
  x.out_trade_no = "M0000001";
  x.state = s;
  x.stuck = stuck;
  return x;
}

double sample(const metrics& m, const std::string& name) {
  auto text = parse_prometheus_text(m.serialize());
  EXPECT_TRUE(text.ok()) << text.error;
  auto v = text.value(name);
  EXPECT_TRUE(v) << name << " is not exposed";
  return v.value_or(-1);
}

} // namespace

TEST(metrics, order_counts_are_the_stores_counters) {
  metrics m;
  order_counts c;
  c.by_state[static_cast<size_t>(order_state::pending)] = 5;
  c.by_state[static_cast<size_t>(order_state::paid)] = 1;
  c.by_state[static_cast<size_t>(order_state::anomaly)] = 2;
  c.unresolved[static_cast<size_t>(order_state::anomaly)] = 1;
  c.stuck = 1;
  m.set_order_counts(c);
  m.set_unreadable_records(3);
  auto counts = m.orders_by_state();
  EXPECT_EQ(counts[static_cast<size_t>(order_state::pending)], 5);
  EXPECT_EQ(counts[static_cast<size_t>(order_state::paid)], 1);
  EXPECT_EQ(m.unreadable_records(), 3);
  EXPECT_EQ(m.stuck_orders(), 1);
  EXPECT_EQ(sample(m, R"(paycoord_orders{state="PENDING"})"), 5);
  EXPECT_EQ(sample(m, R"(paycoord_orders{state="PAID"})"), 1);
  EXPECT_EQ(sample(m, R"(paycoord_orders{state="FAULTED"})"), 0);
  EXPECT_EQ(sample(m, R"(paycoord_orders_unresolved{state="ANOMALY"})"), 1);
  EXPECT_EQ(sample(m, "paycoord_orders_stuck"), 1);
  EXPECT_EQ(sample(m, "paycoord_store_unreadable_records"), 3);
  EXPECT_EQ(sample(m, R"(paycoord_order_counts_info{source="persisted_counters"})"), 1)
    << "the metrics say where the counts come from";
}

TEST(metrics, notify_to_ack_is_observed_once_per_confirmation_by_how_it_was_paid) {
  metrics m;
  auto paid = order(order_state::paid);
  paid.via = paid_via::query;
  paid.paid_recorded_at_ms = 10'000;
  auto confirmed = paid;
  confirmed.state = order_state::confirmed;
  confirmed.confirmed_at_ms = 12'500;
  m.order_written(&paid, confirmed);
  EXPECT_EQ(sample(m, R"(paycoord_notify_to_ack_seconds_count{via="query"})"), 1);
  EXPECT_DOUBLE_EQ(sample(m, R"(paycoord_notify_to_ack_seconds_sum{via="query"})"), 2.5);
  EXPECT_EQ(sample(m, R"(paycoord_notify_to_ack_seconds_count{via="notify"})"), 0);
  m.order_written(&confirmed, confirmed); // not a transition: no observation
  EXPECT_EQ(sample(m, R"(paycoord_notify_to_ack_seconds_count{via="query"})"), 1);
}

TEST(metrics, edges_and_the_store_are_counted_by_outcome) {
  metrics m;
  m.notification(notify_outcome::accepted);
  m.notification(notify_outcome::rejected_signature);
  m.notification(notify_outcome::rejected_signature);
  m.wechat_call(wechat_endpoint::query, wechat_outcome::retry_later, 40);
  m.wechat_call(wechat_endpoint::close, wechat_outcome::refused, 0);
  m.business_callback(business_outcome::no_answer, 3000);
  m.store_batch(3, 2.0, true);
  m.store_batch(1, 1.0, false);
  EXPECT_EQ(sample(m, R"(paycoord_notifications_total{outcome="rejected_signature"})"), 2);
  EXPECT_EQ(sample(m, R"(paycoord_notifications_total{outcome="accepted"})"), 1);
  EXPECT_EQ(sample(m, R"(paycoord_wechat_calls_total{endpoint="query",outcome="retry_later"})"),
            1);
  EXPECT_EQ(sample(m, R"(paycoord_wechat_calls_total{endpoint="close",outcome="refused"})"), 1);
  EXPECT_EQ(sample(m, R"(paycoord_wechat_call_duration_seconds_count{endpoint="close"})"), 0)
    << "a refused call was never sent: no latency";
  EXPECT_EQ(sample(m, R"(paycoord_business_callbacks_total{outcome="no_answer"})"), 1);
  EXPECT_EQ(sample(m, "paycoord_store_batches_total"), 1);
  EXPECT_EQ(sample(m, "paycoord_store_write_failures_total"), 1);
  EXPECT_EQ(sample(m, "paycoord_store_batch_write_sets_sum"), 3);
}

TEST(metrics, the_exposition_has_every_contract_metric_with_its_type) {
  metrics m;
  m.set_http_connections("public", 3);
  auto text = parse_prometheus_text(m.serialize());
  ASSERT_TRUE(text.ok()) << text.error;
  for (auto [name, type] : std::vector<std::pair<std::string, std::string>>{
         {"paycoord_orders", "gauge"},
         {"paycoord_orders_stuck", "gauge"},
         {"paycoord_notifications_total", "counter"},
         {"paycoord_wechat_calls_total", "counter"},
         {"paycoord_wechat_call_duration_seconds", "histogram"},
         {"paycoord_business_callbacks_total", "counter"},
         {"paycoord_business_callback_duration_seconds", "histogram"},
         {"paycoord_store_batches_total", "counter"},
         {"paycoord_store_batch_write_sets", "histogram"},
         {"paycoord_store_sync_duration_seconds", "histogram"},
         {"paycoord_store_write_failures_total", "counter"},
         {"paycoord_notify_to_ack_seconds", "histogram"},
         {"paycoord_order_actors", "gauge"},
         {"paycoord_actor_restarts_total", "counter"},
         {"paycoord_timers_armed", "gauge"},
         {"paycoord_ready", "gauge"},
         {"paycoord_http_connections_open", "gauge"}}) {
    EXPECT_EQ(text.types[name], type) << name;
  }
  EXPECT_EQ(text.value(R"(paycoord_http_connections_open{listener="public"})"), 3);
  // Every label set exists from the start (a rate over a missing series is
  // silently empty), and the set is fixed: 7 states, 10 outcomes, 3x5 calls.
  size_t notify_series = 0;
  for (auto& [key, value] : text.samples)
    notify_series += key.rfind("paycoord_notifications_total{", 0) == 0;
  EXPECT_EQ(notify_series, 10u);
}
