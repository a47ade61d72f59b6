// paysim in-process (tests/sim/paysim_fixture.hpp): payments, notifications,
// the business server and the control API. Refunds: paysim_refunds_test.cpp.

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/sim/paysim_fixture.hpp"

namespace {

using namespace paycoord::sim::test;

// -- the WeChat Pay API -----------------------------------------------------------

TEST_F(paysim_test, prepay_query_close_round_trip_with_every_response_signed) {
  auto first = prepay("A2026112600001");
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_TRUE(verify(first));
  auto prepay_id = wp::parse_prepay_response(first.body);
  ASSERT_TRUE(prepay_id);
  EXPECT_TRUE(prepay_id->prepay_id.starts_with("wx"));

  auto again = prepay("A2026112600001");
  ASSERT_EQ(again.status, 200);
  EXPECT_TRUE(verify(again));
  EXPECT_EQ(wp::parse_prepay_response(again.body)->prepay_id, prepay_id->prepay_id);

  auto queried = query("A2026112600001");
  ASSERT_EQ(queried.status, 200);
  EXPECT_TRUE(verify(queried));
  auto t = wp::parse_transaction(queried.body);
  ASSERT_TRUE(t) << queried.body;
  EXPECT_EQ(t->state, wp::trade_state::notpay);
  EXPECT_EQ(t->mchid, mchid);
  EXPECT_EQ(t->appid, appid);

  auto closed = close("A2026112600001");
  EXPECT_EQ(closed.status, 204);
  EXPECT_EQ(closed.body, "");
  EXPECT_TRUE(verify(closed)); // signed over the empty body
  EXPECT_EQ(trade_state("A2026112600001"), "CLOSED");

  auto unknown = query("A2026112600999");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_TRUE(verify(unknown));
  EXPECT_EQ(json::parse(unknown.body)["code"], "ORDER_NOT_EXIST");
  auto close_unknown = close("A2026112600999");
  EXPECT_EQ(close_unknown.status, 204);
  EXPECT_TRUE(verify(close_unknown));

  auto totals = report()["totals"];
  EXPECT_EQ(totals["wechat"]["prepays"], 2);
  EXPECT_EQ(totals["wechat"]["queries"], 3);
  EXPECT_EQ(totals["wechat"]["closes"], 2);
  EXPECT_EQ(totals["orders"], 1);
  EXPECT_EQ(totals["closed"], 1);
}

TEST_F(paysim_test, a_bad_authorization_is_refused_with_a_signed_401_and_counted) {
  auto body = std::string{R"({"mchid":"1900000001"})"};
  auto path = std::string{"/v3/pay/transactions/out-trade-no/A2026112600002/close"};
  // Signed over another path: the signature does not verify.
  auto other = wp::authorization_header(mchid, merchant_serial, *merchant_key_, "POST",
                                        path + "x", body, wall_clock::now(), wp::make_nonce());
  ASSERT_TRUE(other);
  auto forged = wechat("POST", path, body, *other);
  EXPECT_EQ(forged.status, 401);
  EXPECT_TRUE(verify(forged));
  EXPECT_EQ(json::parse(forged.body)["code"], "SIGN_ERROR");

  auto garbage = wechat("POST", path, body, "WECHATPAY2-SHA256-RSA2048 nonsense");
  EXPECT_EQ(garbage.status, 401);

  auto stale = wp::authorization_header(mchid, merchant_serial, *merchant_key_, "POST", path,
                                        body, wall_clock::now() - 10min, wp::make_nonce());
  EXPECT_EQ(wechat("POST", path, body, *stale).status, 401);

  EXPECT_EQ(report()["totals"]["wechat"]["bad_authorization"], 3);
  EXPECT_EQ(report()["totals"]["wechat"]["closes"], 0); // never reached the handler
}

TEST_F(paysim_test, pay_makes_the_query_say_success) {
  ASSERT_EQ(prepay("A2026112600003", 250).status, 200);
  auto paid = control("POST", "/control/orders/A2026112600003/pay");
  ASSERT_EQ(paid.status, 200) << paid.body;

  auto response = query("A2026112600003");
  ASSERT_TRUE(verify(response));
  auto t = wp::parse_transaction(response.body);
  ASSERT_TRUE(t) << response.body;
  EXPECT_EQ(t->state, wp::trade_state::success);
  EXPECT_FALSE(t->transaction_id.empty());
  ASSERT_TRUE(t->success_time);
  ASSERT_TRUE(t->amount);
  EXPECT_EQ(t->amount->total, 250);
  EXPECT_EQ(t->amount->currency, "CNY");

  auto row = order("A2026112600003");
  EXPECT_EQ(row["trade_state"], "SUCCESS");
  EXPECT_EQ(row["transaction_id"], t->transaction_id);
  EXPECT_EQ(control("POST", "/control/orders/A2026112600003/pay").status, 409);
  EXPECT_EQ(control("POST", "/control/orders/A2026112600404/pay").status, 404);
}

TEST_F(paysim_test, a_different_pay_amount_shows_in_query_and_notification) {
  ASSERT_EQ(prepay("A2026112600004", 100).status, 200);
  ASSERT_EQ(control("POST", "/control/orders/A2026112600004/pay", R"({"amount": 1})").status, 200);
  auto t = wp::parse_transaction(query("A2026112600004").body);
  ASSERT_TRUE(t && t->amount);
  EXPECT_EQ(t->amount->total, 1);
  ASSERT_TRUE(eventually([&] { return receiver_->count() >= 1; }));
  auto paid = wp::parse_transaction(receiver_->received()[0].plaintext);
  ASSERT_TRUE(paid && paid->amount);
  EXPECT_EQ(paid->amount->total, 1);
  EXPECT_EQ(control("POST", "/control/orders/A2026112600004/pay", R"({"amonut": 1})").status,
            400);
}

TEST_F(paysim_test, a_closed_order_cannot_be_paid) {
  ASSERT_EQ(prepay("A2026112600005").status, 200);
  ASSERT_EQ(close("A2026112600005").status, 204);
  EXPECT_EQ(trade_state("A2026112600005"), "CLOSED");
  auto refused = control("POST", "/control/orders/A2026112600005/pay");
  EXPECT_EQ(refused.status, 409);
  EXPECT_EQ(json::parse(refused.body)["code"], "ORDER_CLOSED");
  EXPECT_EQ(trade_state("A2026112600005"), "CLOSED");
}

TEST_F(paysim_test, pay_before_close_makes_the_close_refused_and_the_order_paid) {
  ASSERT_EQ(prepay("A2026112600006").status, 200);
  ASSERT_EQ(control("POST", "/control/orders/A2026112600006/pay-before-close").status, 202);
  EXPECT_EQ(trade_state("A2026112600006"), "NOTPAY");

  auto closed = close("A2026112600006");
  EXPECT_EQ(closed.status, 400) << closed.body;
  EXPECT_TRUE(verify(closed));
  auto error = json::parse(closed.body);
  EXPECT_EQ(error["code"], "ORDERPAID");
  EXPECT_EQ(error["message"], "订单已支付");
  EXPECT_EQ(trade_state("A2026112600006"), "SUCCESS");
  auto row = order("A2026112600006");
  EXPECT_EQ(row["paid_by_close"], true);
  EXPECT_EQ(row["closed_at"], nullptr);
  EXPECT_EQ(row["closes_refused"], 1);
  ASSERT_TRUE(eventually([&] { return receiver_->count() >= 1; }));
  EXPECT_EQ(receiver_->received()[0].event_type, "TRANSACTION.SUCCESS");
  EXPECT_EQ(report()["totals"]["wechat"]["closes_refused"], 1);
}

TEST_F(paysim_test, pay_before_close_can_lose_its_notification) {
  ASSERT_EQ(prepay("A2026112600016").status, 200);
  ASSERT_EQ(control("POST", "/control/orders/A2026112600016/pay-before-close",
                    R"({"drop_notification": true})")
              .status,
            202);
  auto closed = close("A2026112600016");
  EXPECT_EQ(closed.status, 400);
  EXPECT_TRUE(verify(closed));
  EXPECT_EQ(json::parse(closed.body)["code"], "ORDERPAID");
  EXPECT_EQ(trade_state("A2026112600016"), "SUCCESS"); // only a query finds it
  std::this_thread::sleep_for(300ms); // what a sent notification would need, twice over
  EXPECT_EQ(receiver_->count(), 0u);
  auto row = order("A2026112600016");
  EXPECT_EQ(row["paid_by_close"], true);
  EXPECT_EQ(row["notify"]["dropped"], 1);
  EXPECT_EQ(row["notify"]["attempts"], 0);
}

TEST_F(paysim_test, a_close_of_a_paid_order_is_refused_orderpaid_every_time) {
  pay_and_receive("A2026112600017", 1);
  for (int i = 0; i < 2; ++i) {
    auto closed = close("A2026112600017");
    EXPECT_EQ(closed.status, 400) << closed.body;
    EXPECT_TRUE(verify(closed));
    EXPECT_EQ(json::parse(closed.body)["code"], "ORDERPAID");
  }
  EXPECT_EQ(trade_state("A2026112600017"), "SUCCESS");
  auto row = order("A2026112600017");
  EXPECT_EQ(row["closes"], 2);
  EXPECT_EQ(row["closes_refused"], 2);
  EXPECT_EQ(row["paid_by_close"], false);
  EXPECT_EQ(receiver_->count(), 1u); // a refused close sends nothing
  // A closed order's repeat close is still 204.
  ASSERT_EQ(prepay("A2026112600018").status, 200);
  EXPECT_EQ(close("A2026112600018").status, 204);
  EXPECT_EQ(close("A2026112600018").status, 204);
  EXPECT_EQ(report()["totals"]["wechat"]["closes_refused"], 2);
}

TEST_F(paysim_test, a_close_of_an_unknown_id_answers_as_configured) {
  auto by_default = close("A2026112600901");
  EXPECT_EQ(by_default.status, 204);
  EXPECT_TRUE(verify(by_default));
  set_faults(R"({"wechat":{"close_unknown_status":404}})");
  auto not_found = close("A2026112600901");
  EXPECT_EQ(not_found.status, 404);
  EXPECT_TRUE(verify(not_found));
  EXPECT_EQ(json::parse(not_found.body)["code"], "ORDER_NOT_EXIST");
  // A known order is closed as before.
  ASSERT_EQ(prepay("A2026112600902").status, 200);
  EXPECT_EQ(close("A2026112600902").status, 204);
  EXPECT_EQ(trade_state("A2026112600902"), "CLOSED");
  EXPECT_EQ(report()["totals"]["wechat"]["closes_unknown"], 2);

  auto bad = control("POST", "/control/faults", R"({"wechat":{"close_unknown_status":200}})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(json::parse(bad.body)["message"].get<std::string>().find(
              "wechat.close_unknown_status"),
            std::string::npos)
    << bad.body;
  EXPECT_EQ(control("POST", "/control/faults", R"({"wechat":{"close_unknown_status":"404"}})")
              .status,
            400);
  EXPECT_EQ(json::parse(control("GET", "/control/faults").body)["wechat"]["close_unknown_status"],
            404);
}

TEST_F(paysim_test, a_failed_prepay_leaves_an_order_wechat_never_knew) {
  set_faults(R"({"wechat":{"prepay_error_rate":1}})");
  auto failed = prepay("A2026112600903");
  EXPECT_EQ(failed.status, 500) << failed.body;
  EXPECT_TRUE(verify(failed));
  EXPECT_EQ(json::parse(failed.body)["code"], "SYSTEM_ERROR");

  auto queried = query("A2026112600903");
  EXPECT_EQ(queried.status, 404);
  EXPECT_TRUE(verify(queried));
  EXPECT_EQ(json::parse(queried.body)["code"], "ORDER_NOT_EXIST");
  EXPECT_EQ(close("A2026112600903").status, 204);
  set_faults(R"({"wechat":{"close_unknown_status":404}})");
  EXPECT_EQ(close("A2026112600903").status, 404);
  EXPECT_EQ(control("POST", "/control/orders/A2026112600903/pay").status, 404);

  // Only the counts are kept: not an order.
  auto row = order("A2026112600903");
  EXPECT_EQ(row["known_to_wechat"], false);
  EXPECT_EQ(row["prepays"], 1);
  EXPECT_EQ(row["prepay_errors"], 1);
  EXPECT_EQ(row["queries"], 1);
  EXPECT_EQ(row["closes"], 2);
  auto totals = report()["totals"];
  EXPECT_EQ(totals["orders"], 0);
  EXPECT_EQ(totals["wechat"]["prepay_errors"], 1);
  EXPECT_EQ(totals["wechat"]["closes_unknown"], 2);

  // Once WeChat works again, a retried prepay creates the order.
  set_faults(R"({"wechat":{"prepay_error_rate":0}})");
  ASSERT_EQ(prepay("A2026112600903").status, 200);
  EXPECT_EQ(trade_state("A2026112600903"), "NOTPAY");
  EXPECT_EQ(control("POST", "/control/faults", R"({"wechat":{"prepay_error_rate":1.5}})").status,
            400);
}

TEST_F(paysim_test, error_message_replaces_the_message_of_every_wechat_error) {
  std::string long_message;
  for (int i = 0; i < 70 / 7; ++i)
    long_message += "系统繁忙请稍后"; // 7 characters, 21 bytes
  ASSERT_EQ(long_message.size(), 210u);
  set_faults(json{{"wechat", {{"error_message", long_message}, {"query_error_rate", 1}}}}.dump());
  auto check = [&](const outbound_response& response, unsigned status, std::string_view code) {
    EXPECT_EQ(response.status, status) << response.body;
    EXPECT_TRUE(verify(response)) << code;
    auto body = json::parse(response.body);
    EXPECT_EQ(body["code"], code);
    EXPECT_EQ(body["message"], long_message) << code;
  };
  ASSERT_EQ(prepay("A2026112600904").status, 200);
  check(query("A2026112600904"), 500, "SYSTEM_ERROR");
  set_faults(R"({"wechat":{"query_error_rate":0,"query_throttle_rate":1}})");
  check(query("A2026112600904"), 429, "FREQUENCY_LIMITED");
  set_faults(R"({"wechat":{"query_throttle_rate":0,"close_unknown_status":404}})");
  check(query("A2026112600905"), 404, "ORDER_NOT_EXIST");
  check(close("A2026112600905"), 404, "ORDER_NOT_EXIST");
  ASSERT_EQ(control("POST", "/control/orders/A2026112600904/pay").status, 200);
  check(close("A2026112600904"), 400, "ORDERPAID");
  set_faults(R"({"wechat":{"prepay_error_rate":1}})");
  check(prepay("A2026112600906"), 500, "SYSTEM_ERROR");
  // A success stays as it was; "" restores each error's own message.
  set_faults(R"({"wechat":{"prepay_error_rate":0}})");
  EXPECT_EQ(prepay("A2026112600906").status, 200);
  set_faults(R"({"wechat":{"error_message":""}})");
  auto own = query("A2026112600907");
  EXPECT_EQ(own.status, 404);
  EXPECT_EQ(json::parse(own.body)["message"], "订单不存在");
}

TEST_F(paysim_test, query_faults_answer_signed_500_and_429) {
  ASSERT_EQ(prepay("A2026112600007").status, 200);
  set_faults(R"({"wechat":{"query_error_rate":1}})");
  auto failed = query("A2026112600007");
  EXPECT_EQ(failed.status, 500);
  EXPECT_TRUE(verify(failed));
  set_faults(R"({"wechat":{"query_error_rate":0,"query_throttle_rate":1}})");
  auto throttled = query("A2026112600007");
  EXPECT_EQ(throttled.status, 429);
  EXPECT_EQ(json::parse(throttled.body)["code"], "FREQUENCY_LIMITED");
  auto totals = report()["totals"]["wechat"];
  EXPECT_EQ(totals["query_errors"], 1);
  EXPECT_EQ(totals["query_throttled"], 1);
}

TEST_F(paysim_test, a_response_probe_fails_verification_as_a_probe) {
  set_faults(R"({"wechat":{"probe_rate":1}})");
  auto response = prepay("A2026112600008");
  EXPECT_EQ(response.status, 200);
  auto verdict = verify(response);
  ASSERT_FALSE(verdict);
  EXPECT_EQ(verdict.error().code, wp::wechatpay_error::signature_probe);
  EXPECT_EQ(report()["totals"]["wechat"]["response_probes"], 1);
}

// -- notifications ----------------------------------------------------------------

TEST_F(paysim_test, a_payment_notification_verifies_and_decrypts) {
  auto received = pay_and_receive("A2026112600010", 1, 300);
  ASSERT_EQ(received.size(), 1u);
  auto seen = received[0];
  EXPECT_EQ(seen.failure, "");
  EXPECT_EQ(seen.event_type, "TRANSACTION.SUCCESS");
  EXPECT_TRUE(seen.id.starts_with("EV-"));
  auto t = wp::parse_transaction(seen.plaintext);
  ASSERT_TRUE(t) << seen.plaintext;
  EXPECT_EQ(t->out_trade_no, "A2026112600010");
  EXPECT_EQ(t->state, wp::trade_state::success);
  EXPECT_EQ(t->amount->total, 300);

  ASSERT_TRUE(eventually([&] { return order("A2026112600010")["notify"]["answered_2xx"] == 1; }));
  auto notify = order("A2026112600010")["notify"];
  EXPECT_EQ(notify["attempts"], 1);
  EXPECT_EQ(notify["last_status"], 204);
  EXPECT_EQ(notify["notification_ids"][0], seen.id);
}

TEST_F(paysim_test, a_failing_receiver_is_retried_on_the_scaled_schedule_until_it_accepts) {
  receiver_->script({500, 500});
  auto seen = pay_and_receive("A2026112600011", 3);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].answered, 500);
  EXPECT_EQ(seen[1].answered, 500);
  EXPECT_EQ(seen[2].answered, 204);
  // The same notification each time, after 15 s and 15 s scaled by 0.01.
  EXPECT_EQ(seen[0].id, seen[1].id);
  EXPECT_EQ(seen[1].id, seen[2].id);
  EXPECT_GE(seen[1].at - seen[0].at, 140ms);
  EXPECT_GE(seen[2].at - seen[1].at, 140ms);

  std::this_thread::sleep_for(400ms); // past the third retry's due time
  EXPECT_EQ(receiver_->count(), 3u);  // answered: no more attempts
  auto notify = order("A2026112600011")["notify"];
  EXPECT_EQ(notify["attempts"], 3);
  EXPECT_EQ(notify["answered_2xx"], 1);
  EXPECT_EQ(report()["totals"]["notifications"]["answered"], 1);
}

TEST_F(paysim_test, drop_rate_one_never_sends) {
  set_faults(R"({"notify":{"drop_rate":1}})");
  ASSERT_EQ(prepay("A2026112600012").status, 200);
  ASSERT_EQ(control("POST", "/control/orders/A2026112600012/pay").status, 200);
  std::this_thread::sleep_for(300ms); // what a sent notification would need, twice over
  EXPECT_EQ(receiver_->count(), 0u);
  auto totals = report()["totals"]["notifications"];
  EXPECT_EQ(totals["built"], 1);
  EXPECT_EQ(totals["dropped"], 1);
  EXPECT_EQ(totals["attempts"], 0);
  EXPECT_EQ(order("A2026112600012")["notify"]["dropped"], 1);
  // The payment is real all the same: a query finds it.
  EXPECT_EQ(trade_state("A2026112600012"), "SUCCESS");
}

TEST_F(paysim_test, a_probe_first_attempt_is_followed_by_a_valid_retry) {
  set_faults(R"({"notify":{"probe_rate":1}})");
  auto seen = pay_and_receive("A2026112600013", 2);
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen[0].failure, "signature_probe");
  EXPECT_EQ(seen[0].answered, 401);
  EXPECT_EQ(seen[1].failure, "");
  EXPECT_EQ(seen[1].answered, 204);
  ASSERT_TRUE(eventually([&] { return report()["totals"]["notifications"]["answered"] == 1; }));
  auto totals = report()["totals"]["notifications"];
  EXPECT_EQ(totals["probes"], 1);
  EXPECT_EQ(totals["attempts"], 2);
  EXPECT_EQ(totals["probes_answered_2xx"], 0);
}

TEST_F(paysim_test, a_duplicated_notification_arrives_twice_with_one_id) {
  set_faults(R"({"notify":{"duplicate_rate":1}})");
  auto seen = pay_and_receive("A2026112600014", 2);
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen[0].id, seen[1].id);
  EXPECT_EQ(seen[0].failure, "");
  EXPECT_EQ(seen[1].failure, "");
  EXPECT_EQ(report()["totals"]["notifications"]["duplicated"], 1);
}

TEST_F(paysim_test, a_refund_sends_a_refund_notification_not_a_payment) {
  pay_and_receive("A2026112600015", 1, 500);
  ASSERT_EQ(control("POST", "/control/orders/A2026112600015/refund", R"({"amount": 200})").status,
            200);
  ASSERT_TRUE(eventually([&] { return receiver_->count() >= 2; }));
  auto seen = receiver_->received()[1];
  EXPECT_EQ(seen.failure, "");
  EXPECT_EQ(seen.event_type, "REFUND.SUCCESS");
  EXPECT_EQ(wp::classify_event(seen.event_type), wp::event_kind::refund);
  auto refund = wp::parse_refund_event(seen.plaintext);
  ASSERT_TRUE(refund) << seen.plaintext;
  EXPECT_EQ(refund->out_trade_no, "A2026112600015");
  EXPECT_EQ(refund->amount.total, 500);
  EXPECT_EQ(refund->amount.refund, 200);
  EXPECT_EQ(trade_state("A2026112600015"), "REFUND");
}

TEST_F(paysim_test, many_orders_under_mixed_faults_account_for_every_notification) {
  set_faults(R"({"notify":{"drop_rate":0.2,"duplicate_rate":0.3,"probe_rate":0.3,)"
             R"("reorder":"50ms"}})");
  constexpr int orders = 100;
  for (int i = 0; i < orders; ++i) {
    auto id = "M20261126" + std::to_string(1000 + i);
    ASSERT_EQ(prepay(id).status, 200);
    ASSERT_EQ(control("POST", "/control/orders/" + id + "/pay").status, 200);
  }
  // Every notification not dropped ends answered (a probe after one retry).
  auto settled = [&] {
    auto n = report()["totals"]["notifications"];
    return n["answered"].get<int>() + n["dropped"].get<int>() == orders
           && n["pending_attempts"] == 0;
  };
  ASSERT_TRUE(eventually(settled, 10s)) << report()["totals"].dump();
  auto r = report();
  auto& n = r["totals"]["notifications"];
  EXPECT_EQ(n["built"], orders);
  EXPECT_GT(n["dropped"], 0);
  EXPECT_GT(n["duplicated"], 0);
  EXPECT_GT(n["probes"], 0);
  EXPECT_EQ(n["probes_answered_2xx"], 0);
  EXPECT_EQ(n["gave_up"], 0);
  for (auto& row : r["orders"]) {
    bool dropped = row["notify"]["dropped"] == 1;
    EXPECT_EQ(row["notify"]["answered_2xx"].get<int>() > 0, !dropped) << row.dump();
  }
  // The receiver saw only verified notifications, apart from the probes.
  for (auto& seen : receiver_->received())
    EXPECT_TRUE(seen.failure.empty() || seen.failure == "signature_probe") << seen.failure;
}

// -- the business server ----------------------------------------------------------

TEST_F(paysim_test, the_business_server_checks_hmac_dedupes_and_records) {
  ASSERT_EQ(prepay("A2026112600020").status, 200);
  ASSERT_EQ(control("POST", "/control/orders/A2026112600020/pay").status, 200);
  auto body = callback_for("A2026112600020").dump();

  auto first = business("A2026112600020", body);
  EXPECT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(json::parse(first.body)["duplicate"], false);
  auto again = business("A2026112600020", body);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(json::parse(again.body)["duplicate"], true);
  EXPECT_EQ(business("A2026112600020", body, "wrong-secret").status, 401);

  auto totals = report()["totals"]["business"];
  EXPECT_EQ(totals["requests"], 3);
  EXPECT_EQ(totals["deliveries"], 2);
  EXPECT_EQ(totals["distinct_keys"], 1);
  EXPECT_EQ(totals["bad_hmac"], 1);
  EXPECT_EQ(totals["unpaid_deliveries"], 0);
  EXPECT_EQ(totals["mismatched_deliveries"], 0);
  auto row = order("A2026112600020")["business"];
  EXPECT_EQ(row["deliveries"], 2);
  EXPECT_EQ(row["bad_hmac"], 1);
  EXPECT_TRUE(row["first_delivery_ms"].is_number());
  EXPECT_LE(row["first_delivery_ms"].get<int64_t>(), row["last_delivery_ms"].get<int64_t>());
}

TEST_F(paysim_test, a_delivery_of_an_unpaid_order_is_counted) {
  ASSERT_EQ(prepay("A2026112600021").status, 200);
  json body = {{"event", "order.paid"}, {"out_trade_no", "A2026112600021"},
               {"transaction_id", "4200000000"}, {"amount", {{"total", 100}}}, {"late", true}};
  EXPECT_EQ(business("A2026112600021", body.dump()).status, 200);
  auto row = order("A2026112600021")["business"];
  EXPECT_EQ(row["unpaid_deliveries"], 1);
  EXPECT_EQ(row["late_deliveries"], 1);
  EXPECT_EQ(report()["totals"]["business"]["unpaid_deliveries"], 1);
}

TEST_F(paysim_test, a_business_server_that_is_down_answers_503) {
  ASSERT_EQ(control("POST", "/control/business", R"({"up": false})").status, 200);
  auto body = json{{"out_trade_no", "A2026112600022"}}.dump();
  EXPECT_EQ(business("A2026112600022", body).status, 503);
  ASSERT_EQ(control("POST", "/control/business", R"({"up": true})").status, 200);
  EXPECT_EQ(business("A2026112600022", body).status, 200);
  ASSERT_EQ(control("POST", "/control/business", R"({"up": false, "for": "100ms"})").status, 200);
  EXPECT_EQ(business("A2026112600022", body).status, 503);
  EXPECT_TRUE(eventually([&] { return business("A2026112600022", body).status == 200; }));
  auto totals = report()["totals"]["business"];
  EXPECT_GE(totals["down_rejections"], 2);
  EXPECT_EQ(totals["deliveries"], 2);

  set_faults(R"({"business":{"error_rate":1}})");
  EXPECT_EQ(business("A2026112600022", body).status, 500);
  set_faults(R"({"business":{"down":[["0ms","1h"]]}})");
  EXPECT_EQ(business("A2026112600022", body).status, 503); // inside the window
}

// -- the control API --------------------------------------------------------------

TEST_F(paysim_test, the_report_has_totals_and_per_order_rows) {
  ASSERT_EQ(prepay("A2026112600030").status, 200);
  ASSERT_EQ(prepay("A2026112600031").status, 200);
  ASSERT_EQ(control("POST", "/control/orders/A2026112600030/pay").status, 200);
  ASSERT_TRUE(eventually([&] { return report()["totals"]["notifications"]["answered"] == 1; }));

  auto r = report();
  for (auto key : {"started_at", "uptime_ms", "faults", "business_up", "totals", "orders"})
    EXPECT_TRUE(r.contains(key)) << key;
  auto& totals = r["totals"];
  EXPECT_EQ(totals["orders"], 2);
  EXPECT_EQ(totals["paid"], 1);
  EXPECT_EQ(totals["notpay"], 1);
  for (auto key : {"built", "sent", "dropped", "duplicated", "probes", "attempts", "answered_2xx",
                   "gave_up", "pending_attempts"})
    EXPECT_TRUE(totals["notifications"].contains(key)) << key;
  for (auto key : {"prepays", "queries", "closes", "bad_authorization"})
    EXPECT_TRUE(totals["wechat"].contains(key)) << key;
  for (auto key : {"deliveries", "distinct_keys", "bad_hmac", "unpaid_deliveries"})
    EXPECT_TRUE(totals["business"].contains(key)) << key;

  ASSERT_EQ(r["orders"].size(), 2u);
  auto& row = r["orders"][0];
  EXPECT_EQ(row["out_trade_no"], "A2026112600030");
  EXPECT_EQ(row["trade_state"], "SUCCESS");
  EXPECT_EQ(row["amount"], 100);
  EXPECT_TRUE(row["paid_at"].is_string());
  for (auto key : {"queries", "closes", "notify", "business", "time_expire"})
    EXPECT_TRUE(row.contains(key)) << key;
  EXPECT_FALSE(json::parse(control("GET", "/control/report?orders=false").body).contains("orders"));
  auto first_page = json::parse(control("GET", "/control/report?limit=1").body);
  ASSERT_EQ(first_page["orders"].size(), 1u);
  EXPECT_EQ(first_page["next"], "A2026112600030");
  auto second_page =
      json::parse(control("GET", "/control/report?limit=1&after=A2026112600030").body);
  ASSERT_EQ(second_page["orders"].size(), 1u);
  EXPECT_EQ(second_page["orders"][0]["out_trade_no"], "A2026112600031");
  EXPECT_EQ(second_page["next"], nullptr);
  EXPECT_EQ(control("GET", "/control/orders/A2026112600099").status, 404);
}

TEST_F(paysim_test, faults_are_set_partially_and_strictly) {
  auto set = control("POST", "/control/faults", R"({"notify":{"delay":"1s"}})");
  ASSERT_EQ(set.status, 200);
  auto faults = json::parse(control("GET", "/control/faults").body);
  EXPECT_EQ(faults["notify"]["delay"], "1s");
  EXPECT_EQ(faults["notify"]["drop_rate"], 0);
  auto bad = control("POST", "/control/faults", R"({"notify":{"drop_rate":2}})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(json::parse(bad.body)["message"].get<std::string>().find("notify.drop_rate"),
            std::string::npos);
  EXPECT_EQ(control("POST", "/control/faults", R"({"notfy":{}})").status, 400);
}

TEST_F(paysim_test, reset_forgets_orders_and_counts) {
  ASSERT_EQ(prepay("A2026112600040").status, 200);
  ASSERT_EQ(control("POST", "/control/reset").status, 200);
  auto totals = report()["totals"];
  EXPECT_EQ(totals["orders"], 0);
  EXPECT_EQ(totals["wechat"]["prepays"], 0);
  EXPECT_EQ(query("A2026112600040").status, 404);
}

} // namespace
