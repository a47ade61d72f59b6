// paysim's refunds in-process (tests/sim/paysim_fixture.hpp): apply and query
// as paycoord calls them, their resolution over time and their notifications,
// a person resolving an ABNORMAL one, and the business server's check of the
// refund callbacks.

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "net/wechatpay/aead.hpp"
#include "net/wechatpay/models.hpp"
#include "tests/sim/paysim_fixture.hpp"

namespace {

using namespace paycoord::sim::test;

class paysim_refund_test : public paysim_test {
protected:
  /// An apply paycoord would send: notify_url the receiver's.
  wp::refund_request refund_request(const std::string& out_trade_no,
                                    const std::string& out_refund_no, int64_t refund,
                                    int64_t total) {
    wp::refund_request request;
    request.out_trade_no = out_trade_no;
    request.out_refund_no = out_refund_no;
    request.reason = "退货";
    request.notify_url = receiver_->url();
    request.amount = {refund, total, "CNY"};
    return request;
  }

  outbound_response apply_refund(const wp::refund_request& request) {
    return wechat("POST", "/v3/refund/domestic/refunds", wp::to_json(request));
  }

  outbound_response query_refund(const std::string& out_refund_no) {
    return wechat("GET", "/v3/refund/domestic/refunds/" + out_refund_no);
  }

  /// The refund object of a verified 200 answer (an empty one otherwise).
  wp::refund_object refund_of(const outbound_response& response) {
    EXPECT_EQ(response.status, 200) << response.body;
    EXPECT_TRUE(verify(response));
    auto object = wp::parse_refund_object(response.body);
    EXPECT_TRUE(object) << response.body;
    return object ? *object : wp::refund_object{};
  }

  /// The status of a verified refund query.
  std::string refund_status(const std::string& out_refund_no) {
    return refund_of(query_refund(out_refund_no)).status;
  }

  /// An order of `total` fen, prepaid and paid (its payment notification
  /// not waited for).
  void paid_order(const std::string& out_trade_no, int64_t total) {
    ASSERT_EQ(prepay(out_trade_no, total).status, 200);
    ASSERT_EQ(control("POST", "/control/orders/" + out_trade_no + "/pay").status, 200);
  }

  /// Refunds resolve after a delay within [min, max].
  void set_processing(std::string_view min, std::string_view max) {
    set_faults(json{{"refund", {{"processing_min", min}, {"processing_max", max}}}}.dump());
  }

  /// The receiver's notifications of `event_type`.
  std::vector<received_notification> received_of(std::string_view event_type) const {
    std::vector<received_notification> found;
    for (auto& seen : receiver_->received())
      if (seen.event_type == event_type)
        found.push_back(seen);
    return found;
  }

  /// The refund callback paycoord would send (CONTRACTS.md §10).
  json refund_callback(std::string_view event, const std::string& out_trade_no,
                       const wp::refund_object& refund) {
    return {{"event", event},
            {"out_trade_no", out_trade_no},
            {"out_refund_no", refund.out_refund_no},
            {"refund_id", refund.refund_id},
            {"amount",
             {{"refund", refund.amount.refund},
              {"total", refund.amount.total},
              {"currency", "CNY"}}},
            {"succeeded_at", refund.success_time ? json(paycoord::format_rfc3339(
                                                       *refund.success_time))
                                                 : json(nullptr)}};
  }
};

TEST_F(paysim_refund_test, an_apply_is_accepted_processing_and_the_payment_query_says_refund) {
  set_processing("1m", "1m");
  paid_order("A2026112600050", 500);
  auto accepted = apply_refund(refund_request("A2026112600050", "R2026112600050", 200, 500));
  auto refund = refund_of(accepted);
  EXPECT_EQ(refund.status, "PROCESSING");
  EXPECT_FALSE(refund.refund_id.empty());
  EXPECT_EQ(refund.out_refund_no, "R2026112600050");
  EXPECT_EQ(refund.out_trade_no, "A2026112600050");
  EXPECT_EQ(refund.transaction_id, order("A2026112600050")["transaction_id"]);
  EXPECT_EQ(refund.channel, "ORIGINAL");
  EXPECT_FALSE(refund.user_received_account.empty());
  EXPECT_TRUE(refund.create_time);
  EXPECT_FALSE(refund.success_time);
  EXPECT_EQ(refund.amount.total, 500);
  EXPECT_EQ(refund.amount.refund, 200);
  EXPECT_EQ(refund.amount.payer_total, 500);
  EXPECT_EQ(refund.amount.payer_refund, 200);
  EXPECT_EQ(refund.amount.currency, "CNY");

  // It was paid, and a refund started: the payment query says REFUND.
  EXPECT_EQ(trade_state("A2026112600050"), "REFUND");
  auto queried = refund_of(query_refund("R2026112600050"));
  EXPECT_EQ(queried.status, "PROCESSING");
  EXPECT_EQ(queried.refund_id, refund.refund_id);

  auto r = report();
  EXPECT_EQ(r["totals"]["refunds_requested"], 1);
  EXPECT_EQ(r["totals"]["refunds_processing"], 1);
  EXPECT_EQ(r["totals"]["refunds_succeeded"], 0);
  EXPECT_EQ(r["totals"]["wechat"]["refund_applies"], 1);
  EXPECT_EQ(r["totals"]["wechat"]["refund_queries"], 1);
  auto row = order("A2026112600050");
  EXPECT_EQ(row["trade_state"], "REFUND");
  EXPECT_EQ(row["refunded"], 0); // not yet
  ASSERT_EQ(row["refunds"].size(), 1u);
  EXPECT_EQ(row["refunds"][0]["out_refund_no"], "R2026112600050");
  EXPECT_EQ(row["refunds"][0]["status"], "PROCESSING");
  EXPECT_EQ(row["refunds"][0]["amount"], 200);
  EXPECT_EQ(row["refunds"][0]["requested"], true);
}

TEST_F(paysim_refund_test, the_same_out_refund_no_is_deduped_and_reused_with_another_body_refused) {
  set_processing("1m", "1m");
  paid_order("A2026112600051", 500);
  paid_order("A2026112600151", 500);
  auto request = refund_request("A2026112600051", "R2026112600051", 100, 500);
  auto first = refund_of(apply_refund(request));
  auto again = refund_of(apply_refund(request));
  EXPECT_EQ(again.refund_id, first.refund_id);
  EXPECT_EQ(again.status, "PROCESSING");

  auto other_amount = request;
  other_amount.amount.refund = 101;
  auto other_order = request;
  other_order.out_trade_no = "A2026112600151";
  for (auto& changed : {other_amount, other_order}) {
    auto refused = apply_refund(changed);
    EXPECT_EQ(refused.status, 400) << refused.body;
    EXPECT_TRUE(verify(refused));
    EXPECT_EQ(json::parse(refused.body)["code"], "INVALID_REQUEST");
  }
  auto totals = report()["totals"];
  EXPECT_EQ(totals["refunds_requested"], 1);
  EXPECT_EQ(totals["wechat"]["refund_applies_refused"], 2);
  EXPECT_EQ(order("A2026112600051")["refunds"].size(), 1u);
  EXPECT_EQ(order("A2026112600151")["trade_state"], "SUCCESS"); // untouched
}

TEST_F(paysim_refund_test, a_malformed_apply_is_refused_naming_the_field) {
  paid_order("A2026112600052", 500);
  auto path = std::string{"/v3/refund/domestic/refunds"};
  auto refused = [&](const std::string& body, std::string_view needle) {
    auto response = wechat("POST", path, body);
    EXPECT_EQ(response.status, 400) << body;
    EXPECT_TRUE(verify(response));
    auto error = json::parse(response.body);
    EXPECT_EQ(error["code"], "PARAM_ERROR") << body;
    EXPECT_NE(error["message"].get<std::string>().find(needle), std::string::npos)
      << error["message"];
  };
  refused("not json", "parse error");
  refused(R"({"out_trade_no":"A2026112600052","out_refund_no":"R2026112600052",)"
          R"("amount":{"refund":1,"refund":500,"total":500,"currency":"CNY"}})",
          "duplicate key \"amount.refund\"");
  refused(R"({"out_trade_no":"A2026112600052","out_refund_no":"R2026112600052",)"
          R"("amount":{"refund":1,"total":500}})",
          "amount.currency");
  refused(R"({"out_trade_no":"A2026112600052","out_refund_no":"R2026112600052",)"
          R"("amount":{"refund":-1,"total":500,"currency":"CNY"}})",
          "amount.refund");
  refused(R"({"out_trade_no":"A2026112600052","out_refund_no":"R2026112600052",)"
          R"("amount":{"refund":"1","total":500,"currency":"CNY"}})",
          "amount.refund");
  refused(R"({"out_trade_no":"A2026112600052","amount":{"refund":1,"total":500,"currency":"CNY"}})",
          "out_refund_no");
  auto request = refund_request("A2026112600052", "R 2026/11", 1, 500);
  refused(wp::to_json(request), "out_refund_no");
  request = refund_request("A2026112600052", "R2026112600052", 0, 500);
  refused(wp::to_json(request), "amount.refund");
  request = refund_request("A2026112600052", "R2026112600052", 1, 500);
  request.notify_url = "ftp://example.com/notify";
  refused(wp::to_json(request), "notify_url");
  request.notify_url.clear();
  request.reason = std::string(81, 'x');
  refused(wp::to_json(request), "reason");
  EXPECT_EQ(report()["totals"]["refunds_requested"], 0);
  EXPECT_EQ(trade_state("A2026112600052"), "SUCCESS");
}

TEST_F(paysim_refund_test, refunds_of_unknown_unpaid_or_other_total_orders_are_refused) {
  auto unknown = apply_refund(refund_request("A2026112600999", "R2026112600053", 1, 100));
  EXPECT_EQ(unknown.status, 404);
  EXPECT_TRUE(verify(unknown));
  EXPECT_EQ(json::parse(unknown.body)["code"], "RESOURCE_NOT_EXISTS");

  ASSERT_EQ(prepay("A2026112600053", 500).status, 200);
  auto unpaid = apply_refund(refund_request("A2026112600053", "R2026112600053", 1, 500));
  EXPECT_EQ(unpaid.status, 400);
  EXPECT_EQ(json::parse(unpaid.body)["code"], "INVALID_REQUEST");
  EXPECT_NE(json::parse(unpaid.body)["message"].get<std::string>().find("NOTPAY"),
            std::string::npos);
  ASSERT_EQ(close("A2026112600053").status, 204);
  EXPECT_EQ(apply_refund(refund_request("A2026112600053", "R2026112600053", 1, 500)).status, 400);
  EXPECT_EQ(trade_state("A2026112600053"), "CLOSED");

  paid_order("A2026112600153", 500);
  auto other_total = apply_refund(refund_request("A2026112600153", "R2026112600153", 1, 499));
  EXPECT_EQ(other_total.status, 400);
  EXPECT_EQ(json::parse(other_total.body)["code"], "INVALID_REQUEST");
  EXPECT_EQ(query_refund("R2026112600153").status, 404);
}

TEST_F(paysim_refund_test, refunds_beyond_the_paid_total_are_refused_and_closed_ones_do_not_count) {
  set_processing("1m", "1m");
  paid_order("A2026112600054", 500);
  refund_of(apply_refund(refund_request("A2026112600054", "R2026112600054", 300, 500)));
  auto over = apply_refund(refund_request("A2026112600054", "R2026112600154", 300, 500));
  EXPECT_EQ(over.status, 400) << over.body;
  EXPECT_TRUE(verify(over));
  auto error = json::parse(over.body);
  EXPECT_EQ(error["code"], "INVALID_REQUEST");
  EXPECT_NE(error["message"].get<std::string>().find("by 100"), std::string::npos) << error;
  EXPECT_EQ(query_refund("R2026112600154").status, 404);

  // A refund that closed gave nothing back: its amount is refundable again.
  set_faults(R"({"refund":{"processing_min":"0ms","processing_max":"0ms","closed_rate":1}})");
  EXPECT_EQ(refund_of(apply_refund(refund_request("A2026112600054", "R2026112600254", 200, 500)))
              .status,
            "CLOSED");
  set_faults(R"({"refund":{"closed_rate":0}})");
  refund_of(apply_refund(refund_request("A2026112600054", "R2026112600354", 200, 500)));
  EXPECT_EQ(apply_refund(refund_request("A2026112600054", "R2026112600454", 1, 500)).status, 400);
  auto totals = report()["totals"];
  EXPECT_EQ(totals["refunds_requested"], 3);
  EXPECT_EQ(totals["refunded_over_paid"], 0);
}

TEST_F(paysim_refund_test, an_order_takes_at_most_fifty_refunds) {
  set_processing("1m", "1m");
  paid_order("A2026112600055", 100);
  for (int i = 0; i < 50; ++i)
    ASSERT_EQ(apply_refund(refund_request("A2026112600055", "R55-" + std::to_string(i), 1, 100))
                .status,
              200)
      << i;
  auto refused = apply_refund(refund_request("A2026112600055", "R55-50", 1, 100));
  EXPECT_EQ(refused.status, 400);
  EXPECT_NE(json::parse(refused.body)["message"].get<std::string>().find("50 refunds"),
            std::string::npos);
  EXPECT_EQ(order("A2026112600055")["refunds"].size(), 50u);
}

TEST_F(paysim_refund_test, a_refund_query_of_an_unknown_refund_is_404) {
  auto unknown = query_refund("R2026112600999");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_TRUE(verify(unknown));
  EXPECT_EQ(json::parse(unknown.body)["code"], "RESOURCE_NOT_EXISTS");
  auto bad = query_refund("R%20bad");
  EXPECT_EQ(bad.status, 400);
  EXPECT_TRUE(verify(bad));
  // The query faults apply to refund queries too.
  set_faults(R"({"wechat":{"query_throttle_rate":1}})");
  auto throttled = query_refund("R2026112600999");
  EXPECT_EQ(throttled.status, 429);
  EXPECT_TRUE(verify(throttled));
}

TEST_F(paysim_refund_test, an_apply_whose_answer_was_lost_is_found_by_its_retry) {
  set_processing("1m", "1m");
  paid_order("A2026112600056", 500);
  auto request = refund_request("A2026112600056", "R2026112600056", 100, 500);

  // A plain failure: WeChat never took it.
  set_faults(R"({"refund":{"apply_error_rate":1}})");
  auto failed = apply_refund(request);
  EXPECT_EQ(failed.status, 500);
  EXPECT_TRUE(verify(failed));
  EXPECT_EQ(json::parse(failed.body)["code"], "SYSTEM_ERROR");
  EXPECT_EQ(query_refund("R2026112600056").status, 404);

  // Accepted, and the answer lost: the same out_refund_no finds the refund.
  set_faults(R"({"refund":{"apply_error_rate":0,"apply_answer_lost_rate":1}})");
  auto lost = apply_refund(request);
  EXPECT_EQ(lost.status, 500);
  EXPECT_TRUE(verify(lost));
  auto found = refund_of(query_refund("R2026112600056"));
  EXPECT_EQ(found.status, "PROCESSING");
  set_faults(R"({"refund":{"apply_answer_lost_rate":0}})");
  auto retried = refund_of(apply_refund(request));
  EXPECT_EQ(retried.refund_id, found.refund_id);
  EXPECT_EQ(retried.amount.refund, 100);

  auto totals = report()["totals"];
  EXPECT_EQ(totals["refunds_requested"], 1);
  EXPECT_EQ(totals["wechat"]["refund_apply_errors"], 1);
  EXPECT_EQ(totals["wechat"]["refund_answers_lost"], 1);
  EXPECT_EQ(order("A2026112600056")["refunds"].size(), 1u);
}

TEST_F(paysim_refund_test, a_refund_succeeds_after_its_delay_and_its_notification_decrypts) {
  set_processing("20ms", "40ms");
  pay_and_receive("A2026112600057", 1, 500);
  auto accepted = refund_of(apply_refund(refund_request("A2026112600057", "R2026112600057", 200,
                                                        500)));
  EXPECT_EQ(accepted.status, "PROCESSING");
  ASSERT_TRUE(eventually([&] { return received_of("REFUND.SUCCESS").size() == 1; }));

  // The query already saw it resolve: no later than the notification.
  auto queried = refund_of(query_refund("R2026112600057"));
  EXPECT_EQ(queried.status, "SUCCESS");
  ASSERT_TRUE(queried.success_time);
  EXPECT_GE(*queried.success_time + 1s, *accepted.create_time);

  auto seen = received_of("REFUND.SUCCESS")[0];
  EXPECT_EQ(seen.failure, "");
  EXPECT_TRUE(seen.id.starts_with("EV-"));
  EXPECT_EQ(seen.resource.original_type, "refund");
  EXPECT_EQ(seen.resource.associated_data, "refund");
  // Sealed with associated_data "refund": another one does not open it.
  EXPECT_FALSE(wp::aead_decrypt(apiv3_key, seen.resource.nonce, "transaction",
                                seen.resource.ciphertext));
  auto opened = wp::aead_decrypt(apiv3_key, seen.resource.nonce, "refund",
                                 seen.resource.ciphertext);
  ASSERT_TRUE(opened);
  EXPECT_EQ(*opened, seen.plaintext);
  auto event = wp::parse_refund_event(seen.plaintext);
  ASSERT_TRUE(event) << seen.plaintext;
  EXPECT_EQ(event->mchid, mchid);
  EXPECT_EQ(event->out_trade_no, "A2026112600057");
  EXPECT_EQ(event->transaction_id, accepted.transaction_id);
  EXPECT_EQ(event->out_refund_no, "R2026112600057");
  EXPECT_EQ(event->refund_id, accepted.refund_id);
  EXPECT_EQ(event->refund_status, "SUCCESS");
  EXPECT_EQ(event->success_time, queried.success_time);
  EXPECT_EQ(event->user_received_account, accepted.user_received_account);
  EXPECT_EQ(event->amount.total, 500);
  EXPECT_EQ(event->amount.refund, 200);
  EXPECT_EQ(event->amount.payer_total, 500);
  EXPECT_EQ(event->amount.payer_refund, 200);
  EXPECT_FALSE(json::parse(seen.plaintext).contains("trade_state"));

  ASSERT_TRUE(eventually([&] {
    return order("A2026112600057")["refunds"][0]["notify"]["answered_2xx"] == 1;
  }));
  auto row = order("A2026112600057");
  EXPECT_EQ(row["refunded"], 200);
  EXPECT_EQ(row["trade_state"], "REFUND");
  auto& entry = row["refunds"][0];
  EXPECT_EQ(entry["status"], "SUCCESS");
  EXPECT_EQ(entry["notify"]["sent"], 1);
  EXPECT_EQ(entry["notify"]["dropped"], 0);
  EXPECT_EQ(entry["notify"]["notification_ids"][0], seen.id);
  auto totals = report()["totals"];
  EXPECT_EQ(totals["refunds_succeeded"], 1);
  EXPECT_EQ(totals["refunds_processing"], 0);
  EXPECT_EQ(totals["refunds_lost"], 1); // nobody told the business yet
}

TEST_F(paysim_refund_test, a_refund_without_notify_url_is_notified_at_the_orders) {
  set_processing("0ms", "0ms");
  paid_order("A2026112600058", 500);
  auto request = refund_request("A2026112600058", "R2026112600058", 500, 500);
  request.notify_url.clear();
  EXPECT_EQ(refund_of(apply_refund(request)).status, "SUCCESS"); // no processing time
  ASSERT_TRUE(eventually([&] { return received_of("REFUND.SUCCESS").size() == 1; }));
  EXPECT_EQ(order("A2026112600058")["refunded"], 500);
}

TEST_F(paysim_refund_test, a_dropped_refund_notification_still_resolves_for_the_query) {
  set_faults(R"({"refund":{"processing_min":"20ms","processing_max":"20ms",)"
             R"("notify_drop_rate":1}})");
  pay_and_receive("A2026112600059", 1, 500);
  refund_of(apply_refund(refund_request("A2026112600059", "R2026112600059", 500, 500)));
  ASSERT_TRUE(eventually([&] { return refund_status("R2026112600059") == "SUCCESS"; }));
  ASSERT_TRUE(eventually([&] { return report()["totals"]["refund_notifications_dropped"] == 1; }));
  std::this_thread::sleep_for(300ms); // what a sent notification would need, twice over
  EXPECT_EQ(receiver_->count(), 1u);  // the payment's only
  auto entry = order("A2026112600059")["refunds"][0];
  EXPECT_EQ(entry["status"], "SUCCESS");
  EXPECT_EQ(entry["notify"]["dropped"], 1);
  EXPECT_EQ(entry["notify"]["sent"], 0);
  EXPECT_EQ(entry["notify"]["attempts"], 0);
}

TEST_F(paysim_refund_test, closed_and_abnormal_rates_decide_how_refunds_end) {
  set_faults(R"({"refund":{"processing_min":"10ms","processing_max":"30ms","closed_rate":1}})");
  paid_order("A2026112600060", 500);
  refund_of(apply_refund(refund_request("A2026112600060", "R2026112600060", 100, 500)));
  ASSERT_TRUE(eventually([&] { return received_of("REFUND.CLOSED").size() == 1; }));
  auto closed = refund_of(query_refund("R2026112600060"));
  EXPECT_EQ(closed.status, "CLOSED");
  EXPECT_FALSE(closed.success_time);
  auto closed_event = wp::parse_refund_event(received_of("REFUND.CLOSED")[0].plaintext);
  ASSERT_TRUE(closed_event);
  EXPECT_EQ(closed_event->refund_status, "CLOSED");
  EXPECT_FALSE(closed_event->success_time);

  set_faults(R"({"refund":{"closed_rate":0,"abnormal_rate":1}})");
  refund_of(apply_refund(refund_request("A2026112600060", "R2026112600160", 500, 500)));
  ASSERT_TRUE(eventually([&] { return received_of("REFUND.ABNORMAL").size() == 1; }));
  EXPECT_EQ(refund_status("R2026112600160"), "ABNORMAL");
  auto abnormal_event = wp::parse_refund_event(received_of("REFUND.ABNORMAL")[0].plaintext);
  ASSERT_TRUE(abnormal_event);
  EXPECT_EQ(abnormal_event->refund_status, "ABNORMAL");

  auto totals = report()["totals"];
  EXPECT_EQ(totals["refunds_closed"], 1);
  EXPECT_EQ(totals["refunds_abnormal"], 1);
  EXPECT_EQ(totals["refunds_succeeded"], 0);
  EXPECT_EQ(order("A2026112600060")["refunded"], 0);
}

TEST_F(paysim_refund_test, an_abnormal_refund_is_resolved_at_wechat_by_a_person) {
  set_faults(R"({"refund":{"processing_min":"0ms","processing_max":"0ms","abnormal_rate":1}})");
  paid_order("A2026112600061", 500);
  refund_of(apply_refund(refund_request("A2026112600061", "R2026112600061", 300, 500)));
  EXPECT_EQ(refund_status("R2026112600061"), "ABNORMAL");
  ASSERT_TRUE(eventually([&] { return received_of("REFUND.ABNORMAL").size() == 1; }));

  auto path = std::string{"/control/refunds/R2026112600061/resolve"};
  EXPECT_EQ(control("POST", path, R"({"status":"REFUNDED"})").status, 400);
  EXPECT_EQ(control("POST", path, R"({})").status, 400);
  EXPECT_EQ(control("POST", "/control/refunds/R2026112600999/resolve", R"({"status":"SUCCESS"})")
              .status,
            404);
  auto resolved = control("POST", path, R"({"status":"SUCCESS"})");
  ASSERT_EQ(resolved.status, 200) << resolved.body;
  EXPECT_EQ(json::parse(resolved.body)["status"], "SUCCESS");
  auto refund = refund_of(query_refund("R2026112600061"));
  EXPECT_EQ(refund.status, "SUCCESS");
  EXPECT_TRUE(refund.success_time);
  ASSERT_TRUE(eventually([&] { return received_of("REFUND.SUCCESS").size() == 1; }));
  auto event = wp::parse_refund_event(received_of("REFUND.SUCCESS")[0].plaintext);
  ASSERT_TRUE(event);
  EXPECT_EQ(event->refund_status, "SUCCESS");
  EXPECT_EQ(event->out_refund_no, "R2026112600061");

  // Only an ABNORMAL refund is resolved.
  auto again = control("POST", path, R"({"status":"CLOSED"})");
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(json::parse(again.body)["code"], "REFUND_NOT_ABNORMAL");
  EXPECT_EQ(order("A2026112600061")["refunded"], 300);
  EXPECT_EQ(report()["totals"]["refunds_abnormal"], 0);
  auto entry = json::parse(control("GET", "/control/refunds/R2026112600061").body);
  EXPECT_EQ(entry["out_trade_no"], "A2026112600061");
  EXPECT_TRUE(entry["resolved_at"].is_string());
}

TEST_F(paysim_refund_test, the_business_server_counts_refund_callbacks_and_flags_wrong_ones) {
  set_processing("0ms", "0ms");
  paid_order("A2026112600062", 500);
  auto paid = business("A2026112600062", callback_for("A2026112600062").dump());
  ASSERT_EQ(paid.status, 200);
  auto refund = refund_of(apply_refund(refund_request("A2026112600062", "R2026112600062", 200,
                                                      500)));
  ASSERT_EQ(refund.status, "SUCCESS");
  EXPECT_EQ(report()["totals"]["refunds_lost"], 1);

  auto key = std::string{"R2026112600062:refund.succeeded"};
  auto body = refund_callback("refund.succeeded", "A2026112600062", refund).dump();
  auto first = business(key, body);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(json::parse(first.body)["duplicate"], false);
  auto again = business(key, body);
  EXPECT_EQ(json::parse(again.body)["duplicate"], true);

  // Told "closed" about a refund WeChat made: the business hears a lie.
  auto lie = business("R2026112600062:refund.closed",
                      refund_callback("refund.closed", "A2026112600062", refund).dump());
  EXPECT_EQ(lie.status, 200);
  // Told "succeeded" about one still PROCESSING.
  set_processing("1m", "1m");
  auto pending = refund_of(apply_refund(refund_request("A2026112600062", "R2026112600162", 100,
                                                       500)));
  EXPECT_EQ(business("R2026112600162:refund.succeeded",
                     refund_callback("refund.succeeded", "A2026112600062", pending).dump())
              .status,
            200);
  // A refund WeChat refused, closed by paycoord: right.
  wp::refund_object refused;
  refused.out_refund_no = "R2026112600262";
  refused.amount = {500, 900, std::nullopt, std::nullopt, "CNY"};
  EXPECT_EQ(business("R2026112600262:refund.closed",
                     refund_callback("refund.closed", "A2026112600062", refused).dump())
              .status,
            200);
  EXPECT_EQ(business("R2026112600262:refund.later",
                     refund_callback("refund.later", "A2026112600062", refused).dump())
              .status,
            400);

  auto r = report();
  auto& totals = r["totals"];
  EXPECT_EQ(totals["refund_deliveries_succeeded"], 3);
  EXPECT_EQ(totals["refund_deliveries_closed"], 2);
  EXPECT_EQ(totals["refund_delivery_duplicates"], 1);
  EXPECT_EQ(totals["wrong_refund_deliveries"], 2);
  EXPECT_EQ(totals["refunds_lost"], 0);
  EXPECT_EQ(totals["refunded_over_paid"], 0);
  EXPECT_EQ(totals["business"]["deliveries"], 6); // order.paid and five refund events
  EXPECT_EQ(totals["business"]["unpaid_deliveries"], 0);
  EXPECT_EQ(totals["business"]["mismatched_deliveries"], 0);
  auto row = order("A2026112600062");
  EXPECT_EQ(row["business"]["deliveries"], 1); // the order.paid, as before
  auto& succeeded = row["refunds"][0]["business"];
  EXPECT_EQ(succeeded["succeeded"], 2);
  EXPECT_EQ(succeeded["closed"], 1);
  EXPECT_EQ(succeeded["duplicates"], 1);
  EXPECT_EQ(succeeded["wrong"], 1);
  EXPECT_EQ(row["refunds"][1]["business"]["wrong"], 1);
}

TEST_F(paysim_refund_test, a_refund_made_at_wechat_counts_against_what_is_left_to_refund) {
  pay_and_receive("A2026112600063", 1, 500);
  auto made = control("POST", "/control/orders/A2026112600063/refund", R"({"amount": 200})");
  ASSERT_EQ(made.status, 200) << made.body;
  auto out_refund_no = json::parse(made.body)["refund"]["out_refund_no"].get<std::string>();
  EXPECT_EQ(refund_status(out_refund_no), "SUCCESS");
  auto over = apply_refund(refund_request("A2026112600063", "R2026112600063", 301, 500));
  EXPECT_EQ(over.status, 400);
  EXPECT_NE(json::parse(over.body)["message"].get<std::string>().find("by 1"), std::string::npos);
  auto totals = report()["totals"];
  EXPECT_EQ(totals["refunds_made_at_wechat"], 1);
  EXPECT_EQ(totals["refunds_requested"], 0);
  EXPECT_EQ(totals["refunds_succeeded"], 1);
  EXPECT_EQ(totals["refunds_lost"], 0); // paycoord never asked for it
  auto entry = order("A2026112600063")["refunds"][0];
  EXPECT_EQ(entry["requested"], false);
  EXPECT_EQ(order("A2026112600063")["refunded"], 200);
  // Delivering it to the business as a refund of paycoord's is wrong.
  wp::refund_object refund = refund_of(query_refund(out_refund_no));
  business(out_refund_no + ":refund.succeeded",
           refund_callback("refund.succeeded", "A2026112600063", refund).dump());
  EXPECT_EQ(report()["totals"]["wrong_refund_deliveries"], 1);
}

TEST_F(paysim_refund_test, refund_faults_are_set_strictly_and_reset_forgets_refunds) {
  auto bad = control("POST", "/control/faults",
                     R"({"refund":{"processing_min":"5s","processing_max":"1s"}})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(json::parse(bad.body)["message"].get<std::string>().find("refund.processing_max"),
            std::string::npos)
    << bad.body;
  EXPECT_EQ(control("POST", "/control/faults", R"({"refund":{"closed_rate":2}})").status, 400);
  EXPECT_EQ(control("POST", "/control/faults", R"({"refund":{"drop_rate":0}})").status, 400);
  auto faults = json::parse(control("GET", "/control/faults").body);
  EXPECT_EQ(faults["refund"]["processing_min"], "1s");
  EXPECT_EQ(faults["refund"]["processing_max"], "3s");

  set_processing("1m", "1m");
  paid_order("A2026112600064", 500);
  refund_of(apply_refund(refund_request("A2026112600064", "R2026112600064", 100, 500)));
  ASSERT_EQ(control("POST", "/control/reset").status, 200);
  EXPECT_EQ(query_refund("R2026112600064").status, 404);
  EXPECT_EQ(report()["totals"]["refunds_requested"], 0);
}

} // namespace
