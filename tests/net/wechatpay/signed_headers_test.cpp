#include "net/wechatpay/signed_headers.hpp"

#include <random>

#include <gtest/gtest.h>

#include "net/wechatpay/signing.hpp"
#include "tests/net/wechatpay/test_support.hpp"

using namespace paycoord;
using namespace paycoord::wechatpay;
using namespace paycoord::wechatpay::test;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view pub_key_id = "PUB_KEY_ID_0119000000012026112600000000000001";

class signed_headers_test : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_TRUE(keys_.add_public_key(std::string{pub_key_id}, load_public_key("platform_public")));
    auto signed_now = sign_response(platform_, pub_key_id, now_, "NONCE123", body_);
    ASSERT_TRUE(signed_now);
    headers_ = *signed_now;
  }

  wechatpay_error rejection(const signed_headers& headers, std::string_view body,
                            timestamp now) {
    auto r = verify_response(keys_, headers, body, now, 300s);
    EXPECT_FALSE(r);
    return r ? wechatpay_error::signature_invalid : r.error().code;
  }

  private_key platform_ = load_private_key("platform_private");
  key_set keys_;
  timestamp now_ = at_seconds(1795658406);
  std::string body_ = R"({"mchid":"1900000001","out_trade_no":"A1","trade_state":"SUCCESS"})";
  signed_headers headers_;
};

} // namespace

TEST_F(signed_headers_test, signed_response_verifies_with_or_without_signature_type) {
  EXPECT_TRUE(verify_response(keys_, headers_, body_, now_, 300s));
  auto untyped = headers_;
  untyped.signature_type.clear();
  EXPECT_TRUE(verify_response(keys_, untyped, body_, now_, 300s));
}

TEST_F(signed_headers_test, missing_headers_are_named) {
  std::pair<std::string_view, std::string signed_headers::*> fields[] = {
    {timestamp_header, &signed_headers::timestamp},
    {nonce_header, &signed_headers::nonce},
    {signature_header, &signed_headers::signature},
    {serial_header, &signed_headers::serial},
  };
  for (auto [name, field] : fields) {
    auto headers = headers_;
    (headers.*field).clear();
    auto r = verify_response(keys_, headers, body_, now_, 300s);
    ASSERT_FALSE(r) << name;
    EXPECT_EQ(r.error().code, wechatpay_error::missing_header);
    EXPECT_EQ(r.error().detail, name);
  }
}

TEST_F(signed_headers_test, other_signature_types_are_unsupported) {
  auto headers = headers_;
  headers.signature_type = "WECHATPAY2-SM2-WITH-SM3";
  EXPECT_EQ(rejection(headers, body_, now_), wechatpay_error::unsupported_signature_type);
}

TEST_F(signed_headers_test, replay_window_is_strict_both_ways) {
  EXPECT_TRUE(verify_response(keys_, headers_, body_, now_ + 299s, 300s));
  EXPECT_TRUE(verify_response(keys_, headers_, body_, now_ - 299s, 300s));
  EXPECT_TRUE(verify_response(keys_, headers_, body_, now_ + 299999ms, 300s));
  EXPECT_EQ(rejection(headers_, body_, now_ + 300s), wechatpay_error::stale_timestamp);
  EXPECT_EQ(rejection(headers_, body_, now_ - 300s), wechatpay_error::stale_timestamp);
  auto r = verify_response(keys_, headers_, body_, now_ - 400s, 300s);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().detail.find("400 s ahead of the local clock, max 300 s"), std::string::npos)
    << r.error().detail;
}

TEST_F(signed_headers_test, malformed_timestamps_are_bad_headers) {
  for (std::string bad : {"abc", "-1795658406", "1795658406.0", " 1795658406",
                          "1795658406000000000"}) {
    auto headers = headers_;
    headers.timestamp = bad;
    EXPECT_EQ(rejection(headers, body_, now_), wechatpay_error::bad_header) << bad;
  }
}

TEST_F(signed_headers_test, serial_of_a_certificate_matches_in_any_case) {
  auto cert = certificate_from_pem(make_certificate_pem(platform_, "00ABCDEF"));
  ASSERT_TRUE(cert);
  key_set keys;
  ASSERT_TRUE(keys.add_certificate(*cert));
  for (std::string serial : {"ABCDEF", "abcdef", "00abcdef", "000000ABCDEF"}) {
    auto headers = headers_;
    headers.serial = serial;
    EXPECT_TRUE(verify_response(keys, headers, body_, now_, 300s)) << serial;
  }
  auto headers = headers_;
  EXPECT_EQ(verify_response(keys, headers, body_, now_, 300s).error().code,
            wechatpay_error::unknown_serial);
}

TEST_F(signed_headers_test, wrong_key_is_an_invalid_signature) {
  auto by_merchant = sign_response(load_private_key("merchant_private"), pub_key_id, now_,
                                   "NONCE123", body_);
  ASSERT_TRUE(by_merchant);
  EXPECT_EQ(rejection(*by_merchant, body_, now_), wechatpay_error::signature_invalid);
}

TEST_F(signed_headers_test, signed_fields_are_all_covered) {
  auto headers = headers_;
  headers.nonce = "NONCE124";
  EXPECT_EQ(rejection(headers, body_, now_), wechatpay_error::signature_invalid);
  headers = headers_;
  headers.timestamp = std::to_string(std::stoll(headers_.timestamp) + 1);
  EXPECT_EQ(rejection(headers, body_, now_), wechatpay_error::signature_invalid);
  EXPECT_EQ(rejection(headers_, body_ + "\n", now_), wechatpay_error::signature_invalid);
  EXPECT_EQ(rejection(headers_, "", now_), wechatpay_error::signature_invalid);
}

TEST_F(signed_headers_test, one_flipped_byte_anywhere_is_rejected) {
  std::mt19937 rng{42};
  // Every body byte with one random bit flipped.
  for (size_t pos = 0; pos < body_.size(); ++pos) {
    auto body = body_;
    body[pos] = static_cast<char>(body[pos] ^ (1 << (rng() % 8)));
    EXPECT_EQ(rejection(headers_, body, now_), wechatpay_error::signature_invalid)
      << "body byte " << pos;
  }
  // Every bit of every signature character: the last characters carry
  // padding and unused bits, which must count too.
  for (size_t pos = 0; pos < headers_.signature.size(); ++pos) {
    for (int bit = 0; bit < 8; ++bit) {
      auto headers = headers_;
      headers.signature[pos] = static_cast<char>(headers.signature[pos] ^ (1 << bit));
      EXPECT_EQ(rejection(headers, body_, now_), wechatpay_error::signature_invalid)
        << "signature char " << pos << " bit " << bit << ": " << headers.signature;
    }
  }
}

TEST_F(signed_headers_test, probe_and_non_base64_signatures_never_throw) {
  auto headers = headers_;
  headers.signature = "WECHATPAY/SIGNTEST/" + headers_.signature.substr(19);
  EXPECT_EQ(rejection(headers, body_, now_), wechatpay_error::signature_probe);
  headers.signature = "not base64 at all!";
  EXPECT_EQ(rejection(headers, body_, now_), wechatpay_error::signature_invalid);
  headers.signature = "AAAA";
  EXPECT_EQ(rejection(headers, body_, now_), wechatpay_error::signature_invalid);
}
