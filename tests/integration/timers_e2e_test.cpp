// Per-order durable timers end to end: paycoord and paysim as real processes
// on loopback, compressed schedules (verify at 1 s, 2 s, 3 s; notify retries
// at 1/100 of WeChat's schedule).

#include <csignal>

#include "tests/integration/e2e_fixture.hpp"

using namespace paycoord::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

class timers_e2e : public e2e_fixture {};

int deliveries(const json& row) {
  return row["business"].value("deliveries", 0);
}

} // namespace

TEST_F(timers_e2e, a_lost_notification_is_recovered_by_the_first_verify_query) {
  start();
  ASSERT_EQ(create_order("LOST000001"), 201);
  ASSERT_EQ(pay("LOST000001", {{"drop_notification", true}}), 200);
  // The first step of the schedule is 1 s after creation.
  EXPECT_TRUE(await_state("LOST000001", "CONFIRMED", 3s));
  auto row = sim_order("LOST000001");
  EXPECT_EQ(row["notify"]["attempts"], 0) << row.dump();
  EXPECT_GE(row["queries"].get<int>(), 1);
  EXPECT_EQ(deliveries(row), 1);
}

TEST_F(timers_e2e, duplicates_and_reordered_retries_change_nothing) {
  faults = {{"notify", {{"duplicate_rate", 1.0}, {"reorder", "300ms"}}}};
  start();
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    ids.push_back("DUP00000" + std::to_string(10 + i));
    ASSERT_EQ(create_order(ids.back()), 201);
  }
  for (auto& id : ids)
    ASSERT_EQ(pay(id), 200);
  for (auto& id : ids)
    EXPECT_TRUE(await_state(id, "CONFIRMED")) << id;
  std::this_thread::sleep_for(500ms); // let every duplicate land
  for (auto& id : ids) {
    auto row = sim_order(id);
    EXPECT_GE(row["notify"]["attempts"].get<int>(), 2) << row.dump();
    EXPECT_EQ(deliveries(row), 1) << "one transition, one delivery: " << row.dump();
  }
}

TEST_F(timers_e2e, a_business_outage_ends_in_one_confirmed_with_one_key) {
  start();
  ASSERT_EQ(control_post("/control/business", {{"up", false}}), 200);
  ASSERT_EQ(create_order("OUTAGE0001"), 201);
  ASSERT_EQ(pay("OUTAGE0001"), 200);
  EXPECT_TRUE(await_state("OUTAGE0001", "PAID", 5s));
  std::this_thread::sleep_for(2s); // several failed deliveries
  EXPECT_EQ(state_of("OUTAGE0001"), "PAID");
  auto during = sim_order("OUTAGE0001");
  EXPECT_GE(during["business"]["requests"].get<int>(), 2) << during.dump();
  ASSERT_EQ(control_post("/control/business", {{"up", true}}), 200);
  EXPECT_TRUE(await_state("OUTAGE0001", "CONFIRMED", 5s));
  auto row = sim_order("OUTAGE0001");
  EXPECT_GE(deliveries(row), 1);
  auto totals = report(false)["totals"]["business"];
  EXPECT_EQ(totals["distinct_keys"], 1) << totals.dump();
  EXPECT_EQ(totals["bad_hmac"], 0);
}

TEST_F(timers_e2e, expiry_closes_at_paysim_and_ends_closed) {
  paycoord_env["PAYCOORD_SCHEDULE__DEFAULT_EXPIRY"] = "2500ms";
  start();
  ASSERT_EQ(create_order("EXPIRE0001"), 201);
  EXPECT_TRUE(await_state("EXPIRE0001", "CLOSED", 10s));
  auto row = sim_order("EXPIRE0001");
  EXPECT_EQ(row["trade_state"], "CLOSED") << row.dump();
  EXPECT_GE(row["closes"].get<int>(), 1);
  EXPECT_EQ(deliveries(row), 0);
}

TEST_F(timers_e2e, a_payment_in_the_last_moment_before_close_is_delivered) {
  paycoord_env["PAYCOORD_SCHEDULE__DEFAULT_EXPIRY"] = "2500ms";
  start();
  ASSERT_EQ(create_order("LASTSEC001"), 201);
  ASSERT_EQ(send("POST", control("/control/orders/LASTSEC001/pay-before-close"), "").status,
            202);
  EXPECT_TRUE(await_state("LASTSEC001", "CONFIRMED", 10s));
  auto row = sim_order("LASTSEC001");
  EXPECT_EQ(row["trade_state"], "SUCCESS") << row.dump();
  EXPECT_EQ(deliveries(row), 1);
}

TEST_F(timers_e2e, kill_9_with_paid_undelivered_and_unnotified_orders_then_all_delivered) {
  // The first verify query comes 4 s after creation: the kill lands first.
  paycoord_env["PAYCOORD_SCHEDULE__VERIFY"] = R"(["4s","5s"])";
  start();
  ASSERT_EQ(control_post("/control/business", {{"up", false}}), 200);
  std::vector<std::string> paid_undelivered, unnotified;
  for (int i = 0; i < 5; ++i) {
    paid_undelivered.push_back("KILLPAID0" + std::to_string(i));
    unnotified.push_back("KILLLOST0" + std::to_string(i));
    ASSERT_EQ(create_order(paid_undelivered.back()), 201);
    ASSERT_EQ(create_order(unnotified.back()), 201);
  }
  for (auto& id : paid_undelivered)
    ASSERT_EQ(pay(id), 200);
  for (auto& id : unnotified)
    ASSERT_EQ(pay(id, {{"drop_notification", true}}), 200);
  for (auto& id : paid_undelivered)
    ASSERT_TRUE(await_state(id, "PAID", 3s)) << id;
  for (auto& id : unnotified)
    ASSERT_EQ(state_of(id), "PENDING") << id;
  crash_and_restart_paycoord();
  ASSERT_EQ(control_post("/control/business", {{"up", true}}), 200);
  for (auto& id : paid_undelivered)
    EXPECT_TRUE(await_state(id, "CONFIRMED", 10s)) << id;
  for (auto& id : unnotified)
    EXPECT_TRUE(await_state(id, "CONFIRMED", 10s)) << id;
  auto totals = report(false)["totals"]["business"];
  EXPECT_EQ(totals["distinct_keys"], 10) << totals.dump();
  EXPECT_EQ(totals["unpaid_deliveries"], 0);
}

TEST_F(timers_e2e, a_probe_notification_is_rejected_and_the_good_retry_accepted) {
  faults = {{"notify", {{"probe_rate", 1.0}}}};
  // Verify queries late, so that only the notification can pay the order.
  paycoord_env["PAYCOORD_SCHEDULE__VERIFY"] = R"(["30s"])";
  start();
  ASSERT_EQ(create_order("PROBE00001"), 201);
  ASSERT_EQ(pay("PROBE00001"), 200);
  EXPECT_TRUE(await_state("PROBE00001", "CONFIRMED", 5s));
  auto row = sim_order("PROBE00001");
  EXPECT_GE(row["notify"]["probe_attempts"].get<int>(), 1) << row.dump();
  EXPECT_GE(row["notify"]["attempts"].get<int>(), 2);
  EXPECT_EQ(row["queries"], 0);
  EXPECT_EQ(report(false)["totals"]["notifications"]["probes_answered_2xx"], 0)
    << "paycoord must never accept a probe";
}

TEST_F(timers_e2e, an_amount_mismatch_ends_anomaly_and_is_never_delivered) {
  start();
  ASSERT_EQ(create_order("MISMATCH01", 500), 201);
  ASSERT_EQ(pay("MISMATCH01", {{"amount", 1}}), 200);
  EXPECT_TRUE(await_state("MISMATCH01", "ANOMALY", 5s));
  std::this_thread::sleep_for(3s); // verify steps pass: still parked
  EXPECT_EQ(state_of("MISMATCH01"), "ANOMALY");
  EXPECT_EQ(deliveries(sim_order("MISMATCH01")), 0);
}
