// paycoord's metrics: exact order counts by deltas, bounded label sets, and
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

TEST(metrics, order_counts_follow_every_synced_change) {
  metrics m;
  metrics::state_counts seed{};
  seed[static_cast<size_t>(order_state::pending)] = 5;
  seed[static_cast<size_t>(order_state::confirmed)] = 2;
  m.seed_orders(seed, 0, 1);
  auto pending = order(order_state::pending);
  auto paid = order(order_state::paid);
  m.order_written(nullptr, pending);  // created
  m.order_written(&pending, pending); // a query: same state
  m.order_written(&pending, paid);    // paid
  auto counts = m.order_counts();
  EXPECT_EQ(counts[static_cast<size_t>(order_state::pending)], 5);
  EXPECT_EQ(counts[static_cast<size_t>(order_state::paid)], 1);
  EXPECT_EQ(counts[static_cast<size_t>(order_state::confirmed)], 2);
  EXPECT_EQ(m.unreadable_records(), 1);
  EXPECT_EQ(sample(m, R"(paycoord_orders{state="PENDING"})"), 5);
  EXPECT_EQ(sample(m, R"(paycoord_orders{state="PAID"})"), 1);
  EXPECT_EQ(sample(m, R"(paycoord_orders{state="FAULTED"})"), 0);
}

TEST(metrics, stuck_counts_paid_orders_flagged_stuck_until_they_are_acked) {
  metrics m;
  auto paid = order(order_state::paid);
  auto stuck = order(order_state::paid, true);
  auto confirmed = order(order_state::confirmed, false);
  m.order_written(nullptr, paid);
  m.order_written(&paid, stuck);
  m.order_written(&stuck, stuck); // another failed attempt
  EXPECT_EQ(m.stuck_orders(), 1);
  EXPECT_EQ(sample(m, "paycoord_orders_stuck"), 1);
  m.order_written(&stuck, confirmed);
  EXPECT_EQ(m.stuck_orders(), 0);
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
