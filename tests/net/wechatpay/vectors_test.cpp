// Reproduces every positive vector of tests/data/wechatpay/wechatpay_v3.json
// byte for byte and rejects every negative one for the expected reason. All
// expected values are read from the file; nothing here repeats them.

#include <map>

#include <gtest/gtest.h>

#include "net/wechatpay/aead.hpp"
#include "net/wechatpay/authorization.hpp"
#include "net/wechatpay/jsapi.hpp"
#include "net/wechatpay/key_set.hpp"
#include "net/wechatpay/models.hpp"
#include "net/wechatpay/notification_opener.hpp"
#include "net/wechatpay/signed_headers.hpp"
#include "net/wechatpay/signing.hpp"
#include "tests/net/wechatpay/test_support.hpp"

using namespace paycoord;
using namespace paycoord::wechatpay;
using namespace paycoord::wechatpay::test;
using nlohmann::json;

namespace {

constexpr auto replay_window = std::chrono::seconds{300};

std::string str(const json& v, const char* key) {
  return v.at(key).get<std::string>();
}

key_set platform_keys() {
  key_set keys;
  auto added = keys.add_public_key(str(vectors(), "platform_public_key_id"),
                                   load_public_key("platform_public"));
  EXPECT_TRUE(added) << added.error().message();
  return keys;
}

std::string apiv3_key() {
  return str(vectors(), "apiv3_key");
}

// Signs the request vector `name` and checks every intermediate value the
// vector gives.
void check_request_vector(const char* name) {
  SCOPED_TRACE(name);
  const auto& v = vectors().at(name);
  auto merchant = load_private_key("merchant_private");
  auto message = request_signature_message(str(v, "method"), str(v, "url"), str(v, "timestamp"),
                                           str(v, "nonce"), str(v, "body"));
  EXPECT_EQ(message, str(v, "signed_message"));
  auto signature = sign_sha256_rsa(merchant, message);
  ASSERT_TRUE(signature) << signature.error().message();
  EXPECT_EQ(*signature, str(v, "signature"));

  auto header = authorization_header(str(vectors(), "mchid"),
                                     str(vectors(), "merchant_serial_no"), merchant,
                                     str(v, "method"), str(v, "url"), str(v, "body"),
                                     at_seconds(str(v, "timestamp")), str(v, "nonce"));
  ASSERT_TRUE(header) << header.error().message();
  if (v.contains("authorization")) {
    EXPECT_EQ(*header, str(v, "authorization"));
  }

  // The sandbox's side: parse our header back and verify it.
  auto auth = parse_authorization(*header);
  ASSERT_TRUE(auth) << auth.error().message();
  EXPECT_EQ(auth->mchid, str(vectors(), "mchid"));
  EXPECT_EQ(auth->serial_no, str(vectors(), "merchant_serial_no"));
  EXPECT_EQ(auth->nonce_str, str(v, "nonce"));
  EXPECT_EQ(auth->timestamp, str(v, "timestamp"));
  EXPECT_EQ(auth->signature, str(v, "signature"));
  auto verified = verify_request(load_public_key("merchant_public"), *auth, str(v, "method"),
                                 str(v, "url"), str(v, "body"),
                                 at_seconds(str(v, "timestamp")), replay_window);
  EXPECT_TRUE(verified) << verified.error().message();
}

} // namespace

TEST(wechatpay_vectors, key_pairs_match) {
  EXPECT_TRUE(public_key_of(load_private_key("merchant_private"))
              == load_public_key("merchant_public"));
  EXPECT_TRUE(public_key_of(load_private_key("platform_private"))
              == load_public_key("platform_public"));
  EXPECT_FALSE(load_public_key("merchant_public") == load_public_key("platform_public"));
}

TEST(wechatpay_vectors, query_request_signature_and_authorization) {
  check_request_vector("request_query");
}

TEST(wechatpay_vectors, close_request_signature_and_authorization) {
  check_request_vector("request_close");
}

TEST(wechatpay_vectors, notification_verifies_and_decrypts) {
  const auto& v = vectors().at("notification");
  auto headers = headers_of(v.at("headers"));
  auto body = str(v, "body");
  EXPECT_EQ(response_signature_message(headers.timestamp, headers.nonce, body),
            str(v, "signed_message"));

  auto keys = platform_keys();
  auto verified = verify_response(keys, headers, body, at_seconds(headers.timestamp),
                                  replay_window);
  ASSERT_TRUE(verified) << verified.error().message();

  auto envelope = parse_notification(body);
  ASSERT_TRUE(envelope) << envelope.error().message();
  EXPECT_EQ(classify_event(envelope->event_type), event_kind::payment);
  auto plaintext = decrypt_resource(apiv3_key(), envelope->resource);
  ASSERT_TRUE(plaintext) << plaintext.error().message();
  EXPECT_EQ(*plaintext, str(v, "decrypted_resource"));

  // The same through the one-call path the coordinator uses.
  auto opened = open_notification(keys, headers, body, at_seconds(headers.timestamp),
                                  replay_window, apiv3_key());
  ASSERT_TRUE(opened) << opened.error().message();
  EXPECT_EQ(opened->plaintext, str(v, "decrypted_resource"));
  EXPECT_EQ(opened->envelope.id, envelope->id);
}

TEST(wechatpay_vectors, notification_transaction_fields) {
  const auto& v = vectors().at("notification");
  const auto& want = v.at("transaction");
  auto t = parse_transaction(str(v, "decrypted_resource"));
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->mchid, str(want, "mchid"));
  EXPECT_EQ(t->appid, str(want, "appid"));
  EXPECT_EQ(t->out_trade_no, str(want, "out_trade_no"));
  EXPECT_EQ(t->transaction_id, str(want, "transaction_id"));
  EXPECT_EQ(t->trade_type, str(want, "trade_type"));
  EXPECT_STREQ(to_string(t->state), str(want, "trade_state").c_str());
  EXPECT_EQ(t->state, trade_state_from_string(str(want, "trade_state")));
  EXPECT_NE(t->state, trade_state::unknown);
  EXPECT_EQ(t->trade_state_desc, str(want, "trade_state_desc"));
  EXPECT_EQ(t->bank_type, str(want, "bank_type"));
  EXPECT_EQ(t->attach, str(want, "attach"));
  ASSERT_TRUE(t->success_time);
  EXPECT_EQ(t->success_time, parse_rfc3339(str(want, "success_time")));
  EXPECT_EQ(t->payer_openid, str(want.at("payer"), "openid"));
  ASSERT_TRUE(t->amount);
  const auto& amount = want.at("amount");
  EXPECT_EQ(t->amount->total, amount.at("total").get<int64_t>());
  EXPECT_EQ(t->amount->payer_total, amount.at("payer_total").get<int64_t>());
  EXPECT_EQ(t->amount->currency, str(amount, "currency"));
  EXPECT_EQ(t->amount->payer_currency, str(amount, "payer_currency"));
}

TEST(wechatpay_vectors, platform_signature_is_reproduced) {
  // PKCS#1 v1.5 is deterministic: signing as WeChat must give its signature.
  const auto& v = vectors().at("notification");
  auto want = headers_of(v.at("headers"));
  auto signed_by_us = sign_response(load_private_key("platform_private"), want.serial,
                                    at_seconds(want.timestamp), want.nonce, str(v, "body"));
  ASSERT_TRUE(signed_by_us) << signed_by_us.error().message();
  EXPECT_EQ(signed_by_us->signature, want.signature);
  EXPECT_EQ(signed_by_us->timestamp, want.timestamp);
  EXPECT_EQ(signed_by_us->signature_type, want.signature_type);
}

TEST(wechatpay_vectors, every_negative_notification_is_rejected_for_its_reason) {
  // How each vector's `expect` text maps to our codes. A vector whose expect
  // is not listed fails: new vectors must be looked at.
  const std::map<std::string, wechatpay_error> reasons{
    {"signature invalid", wechatpay_error::signature_invalid},
    {"signature invalid (signature probe)", wechatpay_error::signature_probe},
    {"unknown key id", wechatpay_error::unknown_serial},
    {"signature valid, decryption fails", wechatpay_error::decryption_failed},
    {"rejected as replay", wechatpay_error::stale_timestamp},
  };
  const auto& valid = vectors().at("notification");
  auto keys = platform_keys();
  size_t checked = 0;
  for (const auto& [name, v] : vectors().at("notification_negative").items()) {
    SCOPED_TRACE(name);
    auto reason = reasons.find(str(v, "expect"));
    ASSERT_NE(reason, reasons.end()) << "unmapped expect: " << str(v, "expect");
    // A vector without headers or body reuses the valid notification's.
    auto headers = headers_of(v.contains("headers") ? v.at("headers") : valid.at("headers"));
    auto body = str(v.contains("body") ? v : valid, "body");
    auto now = v.contains("now") ? at_seconds(v.at("now").get<int64_t>())
                                 : at_seconds(headers.timestamp);
    auto verified = verify_response(keys, headers, body, now, replay_window);
    if (reason->second == wechatpay_error::decryption_failed) {
      ASSERT_TRUE(verified) << verified.error().message();
      auto envelope = parse_notification(body);
      ASSERT_TRUE(envelope) << envelope.error().message();
      auto plaintext = decrypt_resource(apiv3_key(), envelope->resource);
      ASSERT_FALSE(plaintext);
      EXPECT_EQ(plaintext.error().code, reason->second) << plaintext.error().message();
    } else {
      ASSERT_FALSE(verified);
      EXPECT_EQ(verified.error().code, reason->second) << verified.error().message();
    }
    auto opened = open_notification(keys, headers, body, now, replay_window, apiv3_key());
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().code, reason->second);
    // Only a proven sender may be told "bad request" (400) instead of 401.
    EXPECT_EQ(is_signature_failure(opened.error().code),
              reason->second != wechatpay_error::decryption_failed);
    ++checked;
  }
  EXPECT_EQ(checked, vectors().at("notification_negative").size());
  EXPECT_GT(checked, 0u);
}

TEST(wechatpay_vectors, stale_message_names_the_skew) {
  const auto& v = vectors().at("notification");
  const auto& stale = vectors().at("notification_negative").at("stale_timestamp");
  auto headers = headers_of(v.at("headers"));
  auto now = stale.at("now").get<int64_t>();
  auto verified = verify_response(platform_keys(), headers, str(v, "body"), at_seconds(now),
                                  replay_window);
  ASSERT_FALSE(verified);
  auto skew = std::to_string(now - std::stoll(headers.timestamp));
  EXPECT_NE(verified.error().message().find(skew + " s"), std::string::npos)
    << verified.error().message();
  EXPECT_NE(verified.error().message().find("check the host clock"), std::string::npos);
}

TEST(wechatpay_vectors, unknown_serial_message_names_arrived_and_known) {
  const auto& v = vectors().at("notification_negative").at("unknown_serial");
  auto headers = headers_of(v.at("headers"));
  auto verified = verify_response(platform_keys(), headers, str(v, "body"),
                                  at_seconds(headers.timestamp), replay_window);
  ASSERT_FALSE(verified);
  auto message = verified.error().message();
  EXPECT_NE(message.find(headers.serial), std::string::npos) << message;
  EXPECT_NE(message.find(str(vectors(), "platform_public_key_id")), std::string::npos) << message;
}

TEST(wechatpay_vectors, query_response_verifies_and_parses) {
  const auto& v = vectors().at("response_query");
  auto headers = headers_of(v.at("headers"));
  auto body = str(v, "body");
  auto verified = verify_response(platform_keys(), headers, body, at_seconds(headers.timestamp),
                                  replay_window);
  ASSERT_TRUE(verified) << verified.error().message();
  auto t = parse_transaction(body);
  ASSERT_TRUE(t) << t.error().message();
  auto reference = json::parse(body);
  EXPECT_EQ(t->out_trade_no, str(reference, "out_trade_no"));
  EXPECT_STREQ(to_string(t->state), str(reference, "trade_state").c_str());
  ASSERT_TRUE(t->amount);
  EXPECT_EQ(t->amount->total, reference.at("amount").at("total").get<int64_t>());
}

TEST(wechatpay_vectors, jsapi_pay_sign) {
  const auto& v = vectors().at("jsapi_pay_params");
  auto merchant = load_private_key("merchant_private");
  auto message = jsapi_signature_message(str(v, "appId"), str(v, "timeStamp"),
                                         str(v, "nonceStr"), str(v, "package"));
  auto signature = sign_sha256_rsa(merchant, message);
  ASSERT_TRUE(signature);
  EXPECT_EQ(*signature, str(v, "paySign"));

  const std::string prefix = "prepay_id=";
  auto package = str(v, "package");
  ASSERT_EQ(package.rfind(prefix, 0), 0u);
  auto params = make_jsapi_pay_params(merchant, str(v, "appId"), package.substr(prefix.size()),
                                      at_seconds(str(v, "timeStamp")), str(v, "nonceStr"));
  ASSERT_TRUE(params) << params.error().message();
  EXPECT_EQ(json::parse(to_json(*params)), v);
}
