#include "net/wechatpay/jsapi.hpp"

#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "net/wechatpay/signing.hpp"
#include "tests/net/wechatpay/test_support.hpp"

using namespace paycoord::wechatpay;
using namespace paycoord::wechatpay::test;

TEST(jsapi, nonces_are_upper_hex_of_the_asked_length_and_fresh) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    auto nonce = make_nonce();
    ASSERT_EQ(nonce.size(), 32u);
    EXPECT_EQ(nonce.find_first_not_of("0123456789ABCDEF"), std::string::npos) << nonce;
    seen.insert(nonce);
  }
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_EQ(make_nonce(12).size(), 12u);
  EXPECT_EQ(make_nonce(7).size(), 7u);
  EXPECT_EQ(make_nonce(0), "");
}

TEST(jsapi, pay_params_verify_with_the_merchant_public_key) {
  auto params = make_jsapi_pay_params(load_private_key("merchant_private"), "wx1", "wx26abc",
                                      at_seconds(1795658400), make_nonce());
  ASSERT_TRUE(params);
  EXPECT_EQ(params->package, "prepay_id=wx26abc");
  EXPECT_EQ(params->sign_type, "RSA");
  EXPECT_EQ(params->time_stamp, "1795658400");
  EXPECT_TRUE(verify_sha256_rsa(load_public_key("merchant_public"),
                                jsapi_signature_message(params->app_id, params->time_stamp,
                                                        params->nonce_str, params->package),
                                params->pay_sign));
  auto json = nlohmann::json::parse(to_json(*params));
  for (const char* name : {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"})
    EXPECT_TRUE(json.contains(name)) << name;
}
