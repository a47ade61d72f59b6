#include "net/wechatpay/authorization.hpp"

#include <algorithm>
#include <array>

#include <gtest/gtest.h>

#include "net/wechatpay/signing.hpp"
#include "tests/net/wechatpay/test_support.hpp"

using namespace paycoord;
using namespace paycoord::wechatpay;
using namespace paycoord::wechatpay::test;
using namespace std::chrono_literals;

namespace {

const authorization sample{"1900000001", "593BEC0C930BF1AFEB40B4A08C8FB242", "1795658410",
                           "5157F09EFDC096DE15EBE81A47057A7232F1B8E1", "c2lnbmF0dXJl"};

void expect_sample(const expected<authorization, protocol_error>& parsed) {
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(parsed->mchid, sample.mchid);
  EXPECT_EQ(parsed->nonce_str, sample.nonce_str);
  EXPECT_EQ(parsed->timestamp, sample.timestamp);
  EXPECT_EQ(parsed->serial_no, sample.serial_no);
  EXPECT_EQ(parsed->signature, sample.signature);
}

void expect_bad(std::string_view header) {
  auto parsed = parse_authorization(header);
  ASSERT_FALSE(parsed) << header;
  EXPECT_EQ(parsed.error().code, wechatpay_error::bad_authorization) << header;
}

} // namespace

TEST(authorization, parses_parameters_in_every_order) {
  std::array<std::string, 5> pairs{
    "mchid=\"" + sample.mchid + "\"", "nonce_str=\"" + sample.nonce_str + "\"",
    "timestamp=\"" + sample.timestamp + "\"", "serial_no=\"" + sample.serial_no + "\"",
    "signature=\"" + sample.signature + "\""};
  std::sort(pairs.begin(), pairs.end());
  int orders = 0;
  do {
    std::string header = "WECHATPAY2-SHA256-RSA2048 ";
    for (size_t i = 0; i < pairs.size(); ++i)
      header += (i == 0 ? "" : (i % 2 == 0 ? "," : ", ")) + pairs[i];
    SCOPED_TRACE(header);
    expect_sample(parse_authorization(header));
    ++orders;
  } while (std::next_permutation(pairs.begin(), pairs.end()));
  EXPECT_EQ(orders, 120);
}

TEST(authorization, ignores_unknown_parameters) {
  expect_sample(parse_authorization(
    "WECHATPAY2-SHA256-RSA2048  mchid=\"1900000001\", extra=\"x\",nonce_str=\"593BEC0C930BF1AFEB40B4A08C8FB242\","
    "timestamp=\"1795658410\",serial_no=\"5157F09EFDC096DE15EBE81A47057A7232F1B8E1\","
    "signature=\"c2lnbmF0dXJl\""));
}

TEST(authorization, rejects_malformed_headers) {
  const std::string rest = "mchid=\"1\",nonce_str=\"n\",timestamp=\"1\",serial_no=\"s\",signature=\"c2ln\"";
  expect_bad("");
  expect_bad("WECHATPAY2-SHA256-RSA2048");
  expect_bad("Bearer " + rest);
  expect_bad("WECHATPAY2-SHA256-RSA2048" + rest);               // no space after scheme
  expect_bad("WECHATPAY2-SHA256-RSA2048 mchid=\"1\",nonce_str=\"n\",timestamp=\"1\",serial_no=\"s\"");
  expect_bad("WECHATPAY2-SHA256-RSA2048 " + rest + ",mchid=\"2\""); // repeated
  expect_bad("WECHATPAY2-SHA256-RSA2048 mchid=1," + rest.substr(10)); // unquoted
  expect_bad("WECHATPAY2-SHA256-RSA2048 " + rest.substr(0, rest.size() - 1)); // unterminated
  expect_bad("WECHATPAY2-SHA256-RSA2048 " + rest + " junk");
  expect_bad("WECHATPAY2-SHA256-RSA2048 " + std::string(5000, 'a'));
}

TEST(authorization, verification_rejects_other_requests_and_stale_times) {
  auto merchant = load_private_key("merchant_private");
  auto merchant_public = load_public_key("merchant_public");
  auto now = at_seconds(1795658410);
  auto header = authorization_header("1900000001", "5157F09E", merchant, "POST",
                                     "/v3/pay/transactions/jsapi", "{\"a\":1}", now, "NONCE");
  ASSERT_TRUE(header);
  auto auth = parse_authorization(*header);
  ASSERT_TRUE(auth);
  EXPECT_TRUE(verify_request(merchant_public, *auth, "POST", "/v3/pay/transactions/jsapi",
                             "{\"a\":1}", now + 299s, 300s));

  auto code_of = [&](std::string_view method, std::string_view url, std::string_view body,
                     timestamp at, const public_key& key) {
    auto r = verify_request(key, *auth, method, url, body, at, 300s);
    return r ? std::string{"ok"} : std::string{to_string(r.error().code)};
  };
  EXPECT_EQ(code_of("GET", "/v3/pay/transactions/jsapi", "{\"a\":1}", now, merchant_public),
            "signature_invalid");
  EXPECT_EQ(code_of("POST", "/v3/pay/transactions/jsapi?x=1", "{\"a\":1}", now, merchant_public),
            "signature_invalid");
  EXPECT_EQ(code_of("POST", "/v3/pay/transactions/jsapi", "{\"a\":2}", now, merchant_public),
            "signature_invalid");
  EXPECT_EQ(code_of("POST", "/v3/pay/transactions/jsapi", "{\"a\":1}", now,
                    load_public_key("platform_public")),
            "signature_invalid");
  EXPECT_EQ(code_of("POST", "/v3/pay/transactions/jsapi", "{\"a\":1}", now + 300s,
                    merchant_public),
            "stale_timestamp");
  EXPECT_EQ(code_of("POST", "/v3/pay/transactions/jsapi", "{\"a\":1}", now - 300s,
                    merchant_public),
            "stale_timestamp");
}
