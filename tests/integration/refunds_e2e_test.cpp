// Refunds end to end (CONTRACTS.md §10): paycoord and paysim as processes,
// WeChat's refunds taking a fraction of a second, a compressed refund query
// schedule (1 s, 2 s, then every 2 s).

#include "tests/integration/e2e_fixture.hpp"

using namespace paycoord::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

class refunds_e2e : public e2e_fixture {
protected:
  refunds_e2e() {
    paycoord_env["PAYCOORD_SCHEDULE__REFUND_VERIFY"] = R"(["1s","2s"])";
    paycoord_env["PAYCOORD_SCHEDULE__REFUND_VERIFY_EVERY"] = "2s";
    refund_faults = {{"processing_min", "200ms"}, {"processing_max", "400ms"}};
  }

  void start_with_refund_faults() {
    faults["refund"] = refund_faults;
    start();
  }

  /// A CONFIRMED order of `total` fen.
  void confirmed(const std::string& id, int64_t total = 100) {
    ASSERT_EQ(create_order(id, total), 201);
    ASSERT_EQ(pay(id), 200);
    ASSERT_TRUE(await_state(id, "CONFIRMED"));
  }

  paycoord::net::outbound_response refund(const std::string& id, const std::string& no, int64_t amount) {
    json body{{"out_refund_no", no}, {"amount", {{"refund", amount}, {"currency", "CNY"}}},
              {"reason", "尺码不合适"}};
    return send("POST", public_url("/v1/orders/" + id + "/refunds"), body.dump());
  }

  std::string refund_state(const std::string& id, const std::string& no) {
    auto r = get(public_url("/v1/orders/" + id + "/refunds/" + no));
    if (r.status != 200)
      return "HTTP " + std::to_string(r.status);
    return json::parse(r.body).value("state", "");
  }

  bool await_refund(const std::string& id, const std::string& no, const std::string& state,
                    std::chrono::milliseconds timeout = 15s) {
    return await([&] { return refund_state(id, no) == state; }, timeout);
  }

  json totals() {
    return report(false)["totals"];
  }

  json refund_faults;
};

TEST_F(refunds_e2e, a_refund_succeeds_at_wechat_and_reaches_the_business_server_once) {
  start_with_refund_faults();
  confirmed("RF00000001");
  auto r = refund("RF00000001", "R0000000001", 40);
  ASSERT_EQ(r.status, 201) << r.body;
  auto body = json::parse(r.body);
  EXPECT_EQ(body["state"], "PROCESSING");
  EXPECT_FALSE(body["refund_id"].is_null());
  EXPECT_EQ(body["amount"]["refund"], 40);
  EXPECT_EQ(body["amount"]["total"], 100);
  // The same request again: 200, the same refund.
  EXPECT_EQ(refund("RF00000001", "R0000000001", 40).status, 200);
  EXPECT_EQ(refund("RF00000001", "R0000000001", 41).status, 409);
  ASSERT_TRUE(await_refund("RF00000001", "R0000000001", "SUCCESS"));
  ASSERT_TRUE(await([&] { return totals()["refund_deliveries_succeeded"] == 1; }, 5s))
    << totals().dump();
  auto order = json::parse(get(public_url("/v1/orders/RF00000001")).body);
  EXPECT_EQ(order["state"], "CONFIRMED");
  EXPECT_EQ(order["refunded_total"], 40);
  ASSERT_EQ(order["refunds"].size(), 1u);
  EXPECT_EQ(order["refunds"][0]["state"], "SUCCESS");
  auto t = totals();
  EXPECT_EQ(t["wechat"]["refund_applies"], 1) << "the repeat asked WeChat nothing";
  EXPECT_EQ(t["refunds_lost"], 0);
  EXPECT_EQ(t["wrong_refund_deliveries"], 0);
  EXPECT_EQ(t["refunded_over_paid"], 0);
  // The payment query of a refunded order says REFUND: normal, no anomaly.
  EXPECT_EQ(state_of("RF00000001"), "CONFIRMED");
}

TEST_F(refunds_e2e, lost_refund_notifications_are_found_by_the_refund_query) {
  refund_faults["notify_drop_rate"] = 1.0;
  start_with_refund_faults();
  confirmed("RF00000002", 300);
  ASSERT_EQ(refund("RF00000002", "R0000000002", 100).status, 201);
  ASSERT_EQ(refund("RF00000002", "R0000000003", 200).status, 201);
  auto over = refund("RF00000002", "R0000000004", 1);
  EXPECT_EQ(over.status, 409);
  EXPECT_EQ(json::parse(over.body)["code"], "REFUND_EXCEEDS_PAID");
  // No notification reaches paycoord: the query 1 s after acceptance does.
  EXPECT_TRUE(await_refund("RF00000002", "R0000000002", "SUCCESS", 10s));
  EXPECT_TRUE(await_refund("RF00000002", "R0000000003", "SUCCESS", 10s));
  ASSERT_TRUE(await([&] { return totals()["refund_deliveries_succeeded"] == 2; }, 5s))
    << totals().dump();
  auto t = totals();
  EXPECT_GE(t["refund_notifications_dropped"].get<int>(), 2);
  EXPECT_GE(t["wechat"]["refund_queries"].get<int>(), 2);
  EXPECT_EQ(t["refunds_lost"], 0);
  EXPECT_EQ(t["refunded_over_paid"], 0);
}

TEST_F(refunds_e2e, apply_errors_and_lost_answers_are_retried_with_the_same_out_refund_no) {
  refund_faults["apply_error_rate"] = 0.5;
  refund_faults["apply_answer_lost_rate"] = 0.5;
  start_with_refund_faults();
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    ids.push_back("RF0000010" + std::to_string(i));
    confirmed(ids.back());
  }
  int accepted_at_once = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    auto r = refund(ids[i], "R00000001" + std::to_string(i), 100);
    ASSERT_TRUE(r.status == 201 || r.status == 202) << r.status << " " << r.body;
    accepted_at_once += r.status == 201;
    if (r.status == 202) {
      EXPECT_FALSE(json::parse(r.body)["last_error"].is_null()) << r.body;
    }
  }
  for (size_t i = 0; i < ids.size(); ++i)
    EXPECT_TRUE(await_refund(ids[i], "R00000001" + std::to_string(i), "SUCCESS", 30s)) << ids[i];
  ASSERT_TRUE(await([&] { return totals()["refund_deliveries_succeeded"] == 6; }, 10s))
    << totals().dump();
  auto t = totals();
  EXPECT_EQ(t["refunds_requested"], 6) << "one refund at WeChat per out_refund_no";
  EXPECT_EQ(t["refunds_lost"], 0);
  EXPECT_EQ(t["refunded_over_paid"], 0);
  std::printf("apply faults: %d of 6 accepted at once, %d applies, %d errors, %d answers lost\n",
              accepted_at_once, t["wechat"]["refund_applies"].get<int>(),
              t["wechat"]["refund_apply_errors"].get<int>(),
              t["wechat"]["refund_answers_lost"].get<int>());
}

TEST_F(refunds_e2e, closed_and_abnormal_refunds_are_delivered_and_a_fix_at_wechat_is_noticed) {
  refund_faults["abnormal_rate"] = 1.0;
  start_with_refund_faults();
  confirmed("RF00000201");
  ASSERT_EQ(refund("RF00000201", "R0000000201", 60).status, 201);
  ASSERT_TRUE(await_refund("RF00000201", "R0000000201", "ABNORMAL"));
  ASSERT_TRUE(await([&] { return totals()["refund_deliveries_abnormal"] == 1; }, 5s));
  // A person fixes it at WeChat; paycoord notices (notification or query).
  ASSERT_EQ(control_post("/control/refunds/R0000000201/resolve", {{"status", "SUCCESS"}}), 200);
  EXPECT_TRUE(await_refund("RF00000201", "R0000000201", "SUCCESS"));
  ASSERT_TRUE(await([&] { return totals()["refund_deliveries_succeeded"] == 1; }, 5s));
  EXPECT_EQ(totals()["wrong_refund_deliveries"], 0);
}

TEST_F(refunds_e2e, kill_9_after_requested_loses_no_refund) {
  start_with_refund_faults();
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back("RF0000030" + std::to_string(i));
    confirmed(ids.back());
  }
  for (size_t i = 0; i < ids.size(); ++i)
    refund(ids[i], "R00000030" + std::to_string(i), 50);
  crash_and_restart_paycoord();
  for (size_t i = 0; i < ids.size(); ++i)
    EXPECT_TRUE(await_refund(ids[i], "R00000030" + std::to_string(i), "SUCCESS", 20s)) << ids[i];
  ASSERT_TRUE(await([&] { return totals()["refund_deliveries_succeeded"] == 5; }, 10s))
    << totals().dump();
  EXPECT_EQ(totals()["refunds_lost"], 0);
}

} // namespace
