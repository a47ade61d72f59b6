#include "net/wechatpay/models.hpp"

#include <algorithm>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/net/wechatpay/test_support.hpp"

using namespace paycoord;
using namespace paycoord::wechatpay;
using namespace paycoord::wechatpay::test;
using nlohmann::json;

namespace {

json paid_transaction() {
  return json::parse(vectors().at("notification").at("decrypted_resource").get<std::string>());
}

json refund_plaintext() {
  return json{{"mchid", "1900000001"},
              {"out_trade_no", "A2026112600001"},
              {"transaction_id", "4200002026112612345678901234"},
              {"out_refund_no", "R2026112600001"},
              {"refund_id", "50300000000000000000000000"},
              {"refund_status", "SUCCESS"},
              {"success_time", "2026-11-27T10:00:00+08:00"},
              {"user_received_account", "支付用户零钱"},
              {"amount", {{"total", 100}, {"refund", 100}, {"payer_total", 100}, {"payer_refund", 100}}}};
}

// Parses `doc` and expects failure with `code` naming `field`.
template <class Parse>
void expect_rejected(Parse parse, const json& doc, wechatpay_error code, std::string_view field) {
  auto r = parse(doc.dump());
  ASSERT_FALSE(r) << doc.dump();
  EXPECT_EQ(r.error().code, code) << r.error().message();
  EXPECT_EQ(r.error().detail.rfind(std::string{field}, 0), 0u) << r.error().message();
}

// Removes `path` (a JSON pointer such as "/amount/total") from `doc`; returns
// the field name as our errors write it ("amount.total").
std::string erase_path(json& doc, const std::string& path) {
  json::json_pointer pointer{path};
  doc[pointer.parent_pointer()].erase(pointer.back());
  auto field = path.substr(1);
  std::replace(field.begin(), field.end(), '/', '.');
  return field;
}

} // namespace

TEST(transaction_model, requires_identity_state_and_paid_amount) {
  for (std::string path : {"/mchid", "/appid", "/out_trade_no", "/trade_state",
                           "/transaction_id", "/amount", "/amount/total", "/amount/currency"}) {
    SCOPED_TRACE(path);
    auto doc = paid_transaction();
    auto field = erase_path(doc, path);
    expect_rejected(parse_transaction, doc, wechatpay_error::missing_field, field);
  }
}

TEST(transaction_model, unpaid_states_may_omit_payment_fields) {
  json doc{{"mchid", "1900000001"},
           {"appid", "wx8888888888888888"},
           {"out_trade_no", "A2026112600001"},
           {"trade_state", "NOTPAY"},
           {"trade_state_desc", "订单未支付"},
           {"amount", {{"payer_currency", "CNY"}, {"total", 100}}},
           {"payer", json::object()},
           {"promotion_detail", json::array()}};
  auto t = parse_transaction(doc.dump());
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->state, trade_state::notpay);
  EXPECT_TRUE(t->transaction_id.empty());
  EXPECT_FALSE(t->success_time);
  ASSERT_TRUE(t->amount);
  EXPECT_EQ(t->amount->total, 100);

  doc.erase("amount");
  doc["trade_state"] = "CLOSED";
  t = parse_transaction(doc.dump());
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->state, trade_state::closed);
  EXPECT_FALSE(t->amount);
}

TEST(transaction_model, wrong_types_and_ranges_name_the_field) {
  auto with = [](const char* path, json value) {
    auto doc = paid_transaction();
    doc[json::json_pointer{path}] = std::move(value);
    return doc;
  };
  auto invalid = wechatpay_error::invalid_field;
  expect_rejected(parse_transaction, with("/amount/total", "100"), invalid, "amount.total");
  expect_rejected(parse_transaction, with("/amount/total", 100.0), invalid, "amount.total");
  expect_rejected(parse_transaction, with("/amount/total", 1.5), invalid, "amount.total");
  expect_rejected(parse_transaction, with("/amount/total", -1), invalid, "amount.total");
  expect_rejected(parse_transaction, with("/amount/total", 9223372036854775808ull), invalid,
                  "amount.total");
  expect_rejected(parse_transaction, with("/amount/total", true), invalid, "amount.total");
  expect_rejected(parse_transaction, with("/amount/payer_total", json::array()), invalid,
                  "amount.payer_total");
  expect_rejected(parse_transaction, with("/amount", 100), invalid, "amount");
  expect_rejected(parse_transaction, with("/mchid", 1900000001), invalid, "mchid");
  expect_rejected(parse_transaction, with("/mchid", ""), invalid, "mchid");
  expect_rejected(parse_transaction, with("/payer", "o-abc"), invalid, "payer");
  expect_rejected(parse_transaction, with("/success_time", "yesterday"), invalid, "success_time");
  expect_rejected(parse_transaction, with("/attach", std::string(5000, 'a')), invalid, "attach");

  auto max = with("/amount/total", 9223372036854775807ll);
  auto t = parse_transaction(max.dump());
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->amount->total, 9223372036854775807ll);
}

TEST(transaction_model, unknown_states_and_nulls_are_tolerated) {
  auto doc = paid_transaction();
  doc["trade_state"] = "SOMETHING_NEW";
  doc["attach"] = nullptr;
  doc["extra"] = {{"nested", {1, 2, 3}}};
  auto t = parse_transaction(doc.dump());
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->state, trade_state::unknown);
  EXPECT_STREQ(to_string(t->state), "UNKNOWN");
  EXPECT_TRUE(t->attach.empty());
}

TEST(transaction_model, trade_states_round_trip) {
  for (auto state : {trade_state::success, trade_state::refund, trade_state::notpay,
                     trade_state::closed, trade_state::revoked, trade_state::userpaying,
                     trade_state::payerror, trade_state::accept}) {
    EXPECT_EQ(trade_state_from_string(to_string(state)), state) << to_string(state);
  }
  EXPECT_EQ(trade_state_from_string("success"), trade_state::unknown);
}

TEST(transaction_model, serialises_and_parses_back) {
  auto t = *parse_transaction(paid_transaction().dump());
  auto again = parse_transaction(to_json(t));
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->transaction_id, t.transaction_id);
  EXPECT_EQ(again->state, t.state);
  EXPECT_EQ(again->success_time, t.success_time);
  EXPECT_EQ(again->payer_openid, t.payer_openid);
  EXPECT_EQ(again->amount->total, t.amount->total);
  EXPECT_EQ(again->amount->currency, t.amount->currency);
}

TEST(json_models, malformed_documents_are_rejected_not_thrown) {
  for (const std::string& bad : std::vector<std::string>{"", "not json", "[]", "\"str\"", "42", "null", "{\"mchid\":",
                          "{\"a\":1}{\"b\":2}", std::string("{\"mchid\":\"\xff\"}"),
                          std::string(40, '[') + std::string(40, ']'),
                          "{\"a\":" + std::string(20, '[') + std::string(20, ']') + "}"}) {
    auto r = parse_transaction(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, wechatpay_error::malformed_json) << bad;
  }
  auto depth_error = parse_transaction("{\"a\":" + std::string(20, '[') + std::string(20, ']') + "}");
  EXPECT_NE(depth_error.error().detail.find("nested deeper"), std::string::npos);
  auto huge = "{\"attach\":\"" + std::string(2 << 20, 'a') + "\"}";
  EXPECT_EQ(parse_transaction(huge).error().code, wechatpay_error::malformed_json);
}

TEST(json_models, invalid_utf8_serialises_without_throwing) {
  api_error e{"FAIL", std::string("bad \xff\xfe bytes")};
  auto text = to_json(e);
  EXPECT_TRUE(json::accept(text)) << text;
}

TEST(refund_model, parses_a_refund_event) {
  auto r = parse_refund_event(refund_plaintext().dump());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->out_refund_no, "R2026112600001");
  EXPECT_EQ(r->refund_status, "SUCCESS");
  EXPECT_EQ(r->amount.total, 100);
  EXPECT_EQ(r->amount.refund, 100);
  EXPECT_EQ(r->amount.payer_total, 100);
  EXPECT_EQ(r->amount.payer_refund, 100);
  ASSERT_TRUE(r->success_time);
  auto back = parse_refund_event(to_json(*r));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->refund_id, r->refund_id);
  EXPECT_EQ(back->user_received_account, r->user_received_account);

  for (std::string path : {"/out_refund_no", "/refund_id", "/out_trade_no", "/refund_status",
                           "/amount/refund"}) {
    auto doc = refund_plaintext();
    auto field = erase_path(doc, path);
    expect_rejected(parse_refund_event, doc, wechatpay_error::missing_field, field);
  }
}

TEST(refund_model, apply_request_round_trips_and_requires_its_fields) {
  refund_request q;
  q.out_trade_no = "A2026112600001";
  q.out_refund_no = "R2026112600001";
  q.amount = {50, 100, "CNY"};
  auto doc = json::parse(to_json(q));
  EXPECT_EQ(doc["amount"], (json{{"refund", 50}, {"total", 100}, {"currency", "CNY"}}));
  EXPECT_FALSE(doc.contains("reason")); // empty: left out
  EXPECT_FALSE(doc.contains("notify_url"));
  q.reason = "退货";
  q.notify_url = "https://pay.example.com/v1/wechatpay/notify";
  auto back = parse_refund_request(to_json(q));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->out_refund_no, q.out_refund_no);
  EXPECT_EQ(back->reason, q.reason);
  EXPECT_EQ(back->notify_url, q.notify_url);
  EXPECT_EQ(back->amount.refund, 50);
  EXPECT_EQ(back->amount.total, 100);
  for (std::string path : {"/out_trade_no", "/out_refund_no", "/amount/refund", "/amount/total",
                           "/amount/currency"}) {
    auto d = json::parse(to_json(q));
    auto field = erase_path(d, path);
    expect_rejected(parse_refund_request, d, wechatpay_error::missing_field, field);
  }
  doc["amount"]["refund"] = -1;
  expect_rejected(parse_refund_request, doc, wechatpay_error::invalid_field, "amount.refund");
}

TEST(refund_model, refund_object_round_trips_and_requires_its_fields) {
  auto doc = json{{"refund_id", "50300020261126000001"},
                  {"out_refund_no", "R2026112600001"},
                  {"transaction_id", "4200002026112612345678901234"},
                  {"out_trade_no", "A2026112600001"},
                  {"channel", "ORIGINAL"},
                  {"user_received_account", "支付用户零钱"},
                  {"create_time", "2026-11-26T10:00:00+08:00"},
                  {"status", "PROCESSING"},
                  {"amount",
                   {{"total", 100},
                    {"refund", 50},
                    {"payer_total", 100},
                    {"payer_refund", 50},
                    {"currency", "CNY"}}}};
  auto r = parse_refund_object(doc.dump());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, "PROCESSING");
  EXPECT_FALSE(r->success_time);
  ASSERT_TRUE(r->create_time);
  EXPECT_EQ(r->amount.refund, 50);
  EXPECT_EQ(r->amount.payer_refund, 50);
  EXPECT_EQ(r->amount.currency, "CNY");
  EXPECT_EQ(json::parse(to_json(*r)), doc);
  doc["success_time"] = "2026-11-26T10:00:05+08:00";
  doc["status"] = "SUCCESS";
  r = parse_refund_object(doc.dump());
  ASSERT_TRUE(r && r->success_time);
  EXPECT_EQ(json::parse(to_json(*r)), doc);
  for (std::string path : {"/refund_id", "/out_refund_no", "/out_trade_no", "/status",
                           "/amount/total", "/amount/refund"}) {
    auto d = doc;
    auto field = erase_path(d, path);
    expect_rejected(parse_refund_object, d, wechatpay_error::missing_field, field);
  }
}

TEST(notification_model, parses_the_vector_envelope_and_requires_the_resource) {
  auto body = vectors().at("notification").at("body").get<std::string>();
  auto n = parse_notification(body);
  ASSERT_TRUE(n) << n.error().message();
  auto doc = json::parse(body);
  EXPECT_EQ(n->id, doc["id"]);
  EXPECT_EQ(n->event_type, doc["event_type"]);
  EXPECT_EQ(n->summary, doc["summary"]);
  EXPECT_EQ(n->resource.ciphertext, doc["resource"]["ciphertext"]);
  EXPECT_EQ(n->resource.nonce, doc["resource"]["nonce"]);
  EXPECT_EQ(json::parse(to_json(*n)), doc);

  for (std::string path : {"/id", "/event_type", "/resource", "/resource/ciphertext",
                           "/resource/nonce", "/resource/algorithm"}) {
    auto broken = doc;
    auto field = erase_path(broken, path);
    expect_rejected(parse_notification, broken, wechatpay_error::missing_field, field);
  }
  EXPECT_EQ(classify_event("TRANSACTION.SUCCESS"), event_kind::payment);
  EXPECT_EQ(classify_event("REFUND.ABNORMAL"), event_kind::refund);
  EXPECT_EQ(classify_event("PROFITSHARING.SUCCESS"), event_kind::other);
}

TEST(call_models, prepay_close_and_error_bodies) {
  prepay_request p;
  p.appid = "wx8888888888888888";
  p.mchid = "1900000001";
  p.description = "Monthly plan";
  p.out_trade_no = "A2026112600001";
  p.time_expire = parse_rfc3339("2026-11-26T12:00:00+08:00");
  p.notify_url = "https://pay.example.com/v1/wechatpay/notify";
  p.amount.total = 100;
  p.payer_openid = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";
  auto doc = json::parse(to_json(p));
  EXPECT_EQ(doc["amount"], (json{{"total", 100}, {"currency", "CNY"}}));
  EXPECT_EQ(doc["payer"]["openid"], p.payer_openid);
  EXPECT_EQ(doc["time_expire"], "2026-11-26T12:00:00+08:00");
  EXPECT_FALSE(doc.contains("attach"));
  auto back = parse_prepay_request(doc.dump());
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->time_expire, p.time_expire);
  EXPECT_EQ(back->amount.currency, "CNY");
  doc["payer"].erase("openid");
  expect_rejected(parse_prepay_request, doc, wechatpay_error::missing_field, "payer.openid");

  EXPECT_EQ(parse_prepay_response(R"({"prepay_id":"wx26"})")->prepay_id, "wx26");
  expect_rejected(parse_prepay_response, json::object(), wechatpay_error::missing_field,
                  "prepay_id");
  EXPECT_EQ(to_json(close_request{"1900000001"}), R"({"mchid":"1900000001"})");
  EXPECT_EQ(parse_close_request(R"({"mchid":"1900000001"})")->mchid, "1900000001");

  auto e = parse_api_error(R"({"code":"ORDER_NOT_EXIST","message":"订单不存在","detail":{"x":1}})");
  ASSERT_TRUE(e) << e.error().message();
  EXPECT_EQ(e->code, "ORDER_NOT_EXIST");
  EXPECT_EQ(e->message, "订单不存在");
  expect_rejected(parse_api_error, json{{"message", "m"}}, wechatpay_error::missing_field,
                  "code");
}
