// The public API over HTTP against the real actors, store and server, with
// scripted WeChat and business actors: every row of the notify table of
// CONTRACTS.md §3 and the order API. Notifications are the shared vectors
// (an independent implementation of WeChat's signing and encryption) or
// sealed with the vectors' platform key.

#include "tests/api/api_fixture.hpp"
#include "tests/prometheus_text.hpp"

using namespace paycoord;
using namespace paycoord::testing;

namespace {

class public_api_test : public api_fixture {};

} // namespace

// -- notify table ---------------------------------------------------------------

TEST_F(public_api_test, the_vector_notification_pays_an_order_created_through_the_api) {
  auto created = send("POST", "/v1/orders", create_body(vector_id()).dump());
  ASSERT_EQ(created.status, 201) << created.body;
  auto r = notify(v()["notification"]["body"], v()["notification"]["headers"]);
  EXPECT_EQ(r.status, 204) << r.body;
  EXPECT_TRUE(r.body.empty());
  auto x = stored(vector_id());
  ASSERT_TRUE(x);
  EXPECT_NE(x->state, order_state::pending) << "PAID is synced before the 204";
  EXPECT_EQ(x->transaction_id, "4200002026112612345678901234");
  EXPECT_TRUE(await_state(vector_id(), order_state::confirmed));
  // The duplicate: 204, no second forward.
  auto dup = notify(v()["notification"]["body"], v()["notification"]["headers"]);
  EXPECT_EQ(dup.status, 204);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(forwards(), 1);
}

TEST_F(public_api_test, any_flipped_byte_is_rejected_and_changes_nothing) {
  ASSERT_EQ(send("POST", "/v1/orders", create_body(vector_id()).dump()).status, 201);
  std::string body = v()["notification"]["body"];
  json headers = v()["notification"]["headers"];
  std::string sig = headers["Wechatpay-Signature"];
  for (size_t i = 0; i < body.size(); i += 37) {
    auto tampered = body;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    auto r = notify(tampered, headers);
    EXPECT_GE(r.status, 400) << "body byte " << i;
    EXPECT_LT(r.status, 500) << "body byte " << i;
  }
  for (size_t i = 0; i < sig.size(); i += 11) {
    auto h = headers;
    auto s = sig;
    s[i] = s[i] == 'A' ? 'B' : 'A';
    h["Wechatpay-Signature"] = s;
    auto r = notify(body, h);
    EXPECT_EQ(r.status, 401) << "signature char " << i;
  }
  EXPECT_EQ(stored(vector_id())->state, order_state::pending);
  EXPECT_EQ(forwards(), 0);
}

TEST_F(public_api_test, every_negative_vector_is_answered_per_the_contract) {
  ASSERT_EQ(send("POST", "/v1/orders", create_body(vector_id()).dump()).status, 201);
  const auto& neg = v()["notification_negative"];
  struct row {
    const char* vector;
    int status;
  } rows[] = {{"body_tampered", 401}, {"probe_signature", 401},
              {"unknown_serial", 401}, {"gcm_tag_tampered", 400}};
  const std::string known_key_id = v()["platform_public_key_id"];
  for (auto& r : rows) {
    auto res = notify(neg[r.vector]["body"], neg[r.vector]["headers"]);
    EXPECT_EQ(res.status, r.status) << r.vector << ": " << res.body;
    auto err = json::parse(res.body, nullptr, false);
    EXPECT_EQ(err.value("code", ""), "FAIL") << r.vector;
    // CONTRACTS.md §8: a 401 does not tell a stranger which keys we trust.
    EXPECT_EQ(res.body.find(known_key_id), std::string::npos) << r.vector << ": " << res.body;
  }
  EXPECT_EQ(json::parse(notify(neg["unknown_serial"]["body"], neg["unknown_serial"]["headers"]).body)
              .value("message", ""),
            "unknown_serial");
  // Stale: the valid notification judged 301 s later. The reason, not our clock.
  *clock_offset_s = 301;
  auto stale = notify(v()["notification"]["body"], v()["notification"]["headers"]);
  EXPECT_EQ(stale.status, 401);
  EXPECT_EQ(json::parse(stale.body).value("message", ""), "stale_timestamp") << stale.body;
  *clock_offset_s = 0;
  // Missing headers.
  auto missing = notify(v()["notification"]["body"], json::object());
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(stored(vector_id())->state, order_state::pending);
}

TEST_F(public_api_test, foreign_merchant_malformed_and_oversized_bodies_are_refused) {
  auto [foreign, fh] = seal(transaction_json("FOREIGN01", 100, "1900000999"));
  EXPECT_EQ(notify(foreign, fh).status, 400);
  EXPECT_FALSE(stored("FOREIGN01")) << "nothing stored for another merchant";
  // Signed correctly but not JSON.
  auto signed_garbage = wechatpay::sign_response(
    wt::load_private_key("platform_private"), std::string{v()["platform_public_key_id"]},
    wt::at_seconds(std::string{v()["notification"]["headers"]["Wechatpay-Timestamp"]}),
    "N1", "{not json");
  ASSERT_TRUE(signed_garbage);
  json gh{{"Wechatpay-Timestamp", signed_garbage->timestamp},
          {"Wechatpay-Nonce", signed_garbage->nonce},
          {"Wechatpay-Signature", signed_garbage->signature},
          {"Wechatpay-Serial", signed_garbage->serial}};
  EXPECT_EQ(notify("{not json", gh).status, 400);
  auto big = notify(std::string(70 * 1024, 'x'), v()["notification"]["headers"]);
  EXPECT_EQ(big.status, 413);
}

TEST_F(public_api_test, mismatch_is_anomaly_unknown_is_orphan_refund_is_an_event) {
  ASSERT_EQ(send("POST", "/v1/orders", create_body("MISMATCH01", 500).dump()).status, 201);
  auto [mb, mh] = seal(transaction_json("MISMATCH01", 1), "EV-M1");
  EXPECT_EQ(notify(mb, mh).status, 204);
  EXPECT_EQ(stored("MISMATCH01")->state, order_state::anomaly);
  auto [ob, oh] = seal(transaction_json("GHOST00001", 100), "EV-O1");
  EXPECT_EQ(notify(ob, oh).status, 204);
  EXPECT_EQ(stored("GHOST00001")->state, order_state::orphan);
  ASSERT_EQ(send("POST", "/v1/orders", create_body("REFUNDED01").dump()).status, 201);
  json refund{{"mchid", "1900000001"}, {"out_trade_no", "REFUNDED01"},
              {"transaction_id", "42"}, {"out_refund_no", "R1"},
              {"refund_id", "501"}, {"refund_status", "SUCCESS"},
              {"amount", {{"total", 100}, {"refund", 100}, {"payer_total", 100},
                          {"payer_refund", 100}}}};
  auto [rb, rh] = seal(refund.dump(), "EV-R1", "REFUND.SUCCESS");
  EXPECT_EQ(notify(rb, rh).status, 204);
  auto x = stored("REFUNDED01");
  EXPECT_EQ(x->state, order_state::pending) << "a refund is never a payment";
  auto events = db->events("REFUNDED01");
  ASSERT_TRUE(events);
  // A refund paycoord never asked for: an orphan event on the timeline.
  EXPECT_EQ(events->back().kind, "refund_orphan");
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(forwards(), 0);
}

TEST_F(public_api_test, every_notification_is_counted_by_its_outcome) {
  ASSERT_EQ(send("POST", "/v1/orders", create_body(vector_id()).dump()).status, 201);
  EXPECT_EQ(notify(v()["notification"]["body"], v()["notification"]["headers"]).status, 204);
  EXPECT_EQ(notify(v()["notification"]["body"], v()["notification"]["headers"]).status, 204);
  const auto& neg = v()["notification_negative"];
  EXPECT_EQ(notify(neg["probe_signature"]["body"], neg["probe_signature"]["headers"]).status,
            401);
  EXPECT_EQ(notify(neg["gcm_tag_tampered"]["body"], neg["gcm_tag_tampered"]["headers"]).status,
            400);
  auto [fb, fh] = seal(transaction_json("FOREIGN01", 100, "1900000999"), "EV-F1");
  EXPECT_EQ(notify(fb, fh).status, 400);
  auto [ob, oh] = seal(transaction_json("GHOST00001", 100), "EV-O1");
  EXPECT_EQ(notify(ob, oh).status, 204);
  ready = false;
  EXPECT_EQ(notify(ob, oh).status, 503);
  auto text = parse_prometheus_text(metrics->serialize());
  ASSERT_TRUE(text.ok()) << text.error;
  auto count = [&](const std::string& outcome) {
    return text.value("paycoord_notifications_total{outcome=\"" + outcome + "\"}").value_or(-1);
  };
  EXPECT_EQ(count("accepted"), 1);
  EXPECT_EQ(count("duplicate"), 1);
  EXPECT_EQ(count("rejected_signature"), 1);
  EXPECT_EQ(count("rejected_malformed"), 1);
  EXPECT_EQ(count("foreign_merchant"), 1);
  EXPECT_EQ(count("orphan"), 1);
  EXPECT_EQ(count("not_ready"), 1);
  EXPECT_EQ(count("failed"), 0);
}

TEST_F(public_api_test, not_ready_answers_503) {
  ready = false;
  EXPECT_EQ(notify(v()["notification"]["body"], v()["notification"]["headers"]).status, 503);
  auto r = send("POST", "/v1/orders", create_body("ORDER00001").dump());
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("NOT_READY"), std::string::npos);
}

// -- order API -------------------------------------------------------------------

TEST_F(public_api_test, create_answers_signed_jsapi_params_and_get_shows_the_order) {
  auto r = send("POST", "/v1/orders", create_body("ORDER00001").dump());
  ASSERT_EQ(r.status, 201) << r.body;
  auto j = json::parse(r.body);
  EXPECT_EQ(j["state"], "PENDING");
  EXPECT_EQ(j["prepay_id"], "wx26ORDER00001");
  auto& p = j["jsapi"];
  EXPECT_EQ(p["appId"], v()["appid"]);
  EXPECT_EQ(p["package"], "prepay_id=wx26ORDER00001");
  EXPECT_EQ(p["signType"], "RSA");
  auto msg = wechatpay::jsapi_signature_message(
    p["appId"].get<std::string>(), p["timeStamp"].get<std::string>(),
    p["nonceStr"].get<std::string>(), p["package"].get<std::string>());
  EXPECT_TRUE(wechatpay::verify_sha256_rsa(wt::load_public_key("merchant_public"), msg,
                                           p["paySign"].get<std::string>()));
  auto got = send("GET", "/v1/orders/ORDER00001", "");
  ASSERT_EQ(got.status, 200);
  auto g = json::parse(got.body);
  EXPECT_EQ(g["state"], "PENDING");
  EXPECT_EQ(g["amount"]["total"], 100);
  EXPECT_EQ(g["amount"]["currency"], "CNY");
  EXPECT_TRUE(g["transaction_id"].is_null());
  EXPECT_TRUE(g["created_at"].is_string());
  EXPECT_EQ(send("GET", "/v1/orders/NOSUCHORDER", "").status, 404);
}

TEST_F(public_api_test, re_create_is_idempotent_by_value_and_conflicts_otherwise) {
  ASSERT_EQ(send("POST", "/v1/orders", create_body("ORDER00002").dump()).status, 201);
  // Same order, keys in another order and currency defaulted: 200.
  json same{{"payer", {{"openid", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}},
            {"amount", {{"total", 100}}},
            {"description", "Monthly plan"},
            {"out_trade_no", "ORDER00002"}};
  auto again = send("POST", "/v1/orders", same.dump());
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_TRUE(json::parse(again.body).contains("jsapi"));
  auto conflict = send("POST", "/v1/orders", create_body("ORDER00002", 999).dump());
  EXPECT_EQ(conflict.status, 409);
  EXPECT_EQ(json::parse(conflict.body)["code"], "ORDER_CONFLICT");
}

TEST_F(public_api_test, prepay_failure_answers_502_and_keeps_the_order) {
  {
    std::lock_guard guard{world->mtx};
    world->prepay_ok = false;
  }
  auto r = send("POST", "/v1/orders", create_body("ORDER00003").dump());
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_EQ(json::parse(r.body)["code"], "PREPAY_FAILED");
  ASSERT_TRUE(stored("ORDER00003"));
  {
    std::lock_guard guard{world->mtx};
    world->prepay_ok = true;
  }
  auto retry = send("POST", "/v1/orders", create_body("ORDER00003").dump());
  EXPECT_EQ(retry.status, 200) << retry.body;
  EXPECT_EQ(stored("ORDER00003")->prepay_id, "wx26ORDER00003");
}

TEST_F(public_api_test, every_validation_error_names_its_field) {
  struct row {
    const char* field;
    std::function<void(json&)> spoil;
  } rows[] = {
    {"out_trade_no", [](json& j) { j.erase("out_trade_no"); }},
    {"out_trade_no", [](json& j) { j["out_trade_no"] = "short"; }},
    {"out_trade_no", [](json& j) { j["out_trade_no"] = "has space 123"; }},
    {"out_trade_no", [](json& j) { j["out_trade_no"] = std::string(33, 'A'); }},
    {"description", [](json& j) { j.erase("description"); }},
    {"description", [](json& j) { j["description"] = ""; }},
    {"description", [](json& j) { j["description"] = std::string(128, 'd'); }},
    {"amount", [](json& j) { j.erase("amount"); }},
    {"amount.total", [](json& j) { j["amount"]["total"] = 0; }},
    {"amount.total", [](json& j) { j["amount"]["total"] = -5; }},
    {"amount.total", [](json& j) { j["amount"]["total"] = 1.5; }},
    {"amount.total", [](json& j) { j["amount"]["total"] = "100"; }},
    {"amount.currency", [](json& j) { j["amount"]["currency"] = "USD"; }},
    {"payer.openid", [](json& j) { j["payer"] = json::object(); }},
    {"payer", [](json& j) { j.erase("payer"); }},
    {"expire_at", [](json& j) { j["expire_at"] = "tomorrow"; }},
    {"expire_at", [](json& j) { j["expire_at"] = "2020-01-01T00:00:00+08:00"; }},
    {"expire_at", [](json& j) { j["expire_at"] = "2099-01-01T00:00:00+08:00"; }},
    {"attach", [](json& j) { j["attach"] = 7; }},
  };
  for (auto& r : rows) {
    auto body = create_body("VALID00001");
    r.spoil(body);
    auto res = send("POST", "/v1/orders", body.dump());
    EXPECT_EQ(res.status, 400) << r.field << ": " << res.body;
    auto err = json::parse(res.body, nullptr, false);
    EXPECT_EQ(err.value("code", ""), "INVALID_REQUEST");
    EXPECT_EQ(err.value("message", "").rfind(r.field, 0), 0u)
      << "message must start with the field " << r.field << ": " << res.body;
  }
  EXPECT_EQ(send("POST", "/v1/orders", "{nope").status, 400);
  // A key twice (a front end that checked the first amount, paycoord
  // charging the second): refused, whichever key it is.
  auto text = create_body("VALID00001").dump();
  for (auto twice : {R"(,"amount":{"total":1,"currency":"CNY"}})",
                     R"(,"out_trade_no":"VALID00002"})"}) {
    auto body = text.substr(0, text.size() - 1) + twice;
    auto res = send("POST", "/v1/orders", body);
    EXPECT_EQ(res.status, 400) << body << ": " << res.body;
    EXPECT_NE(res.body.find("duplicate key"), std::string::npos) << res.body;
  }
  EXPECT_FALSE(stored("VALID00001"));
  EXPECT_FALSE(stored("VALID00002"));
}
