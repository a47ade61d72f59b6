#include "net/wechatpay/key_set.hpp"

#include <gtest/gtest.h>

#include "tests/net/wechatpay/test_support.hpp"

using namespace paycoord::wechatpay;
using namespace paycoord::wechatpay::test;

namespace {

constexpr std::string_view pub_key_id = "PUB_KEY_ID_0119000000012026112600000000000001";

certificate make_certificate(std::string_view key_name, std::string_view serial) {
  auto cert = certificate_from_pem(make_certificate_pem(load_private_key(key_name), serial));
  EXPECT_TRUE(cert) << cert.error().message();
  return std::move(*cert);
}

} // namespace

TEST(key_set, finds_public_key_by_exact_id) {
  key_set keys;
  ASSERT_TRUE(keys.add_public_key(std::string{pub_key_id}, load_public_key("platform_public")));
  const public_key* found = keys.find(pub_key_id);
  ASSERT_NE(found, nullptr);
  EXPECT_TRUE(*found == load_public_key("platform_public"));
  EXPECT_EQ(keys.find("PUB_KEY_ID_0119000000012026112600000000000002"), nullptr);
  EXPECT_EQ(keys.find("pub_key_id_0119000000012026112600000000000001"), nullptr);
  EXPECT_EQ(keys.find(""), nullptr);
}

TEST(key_set, matches_certificate_serials_as_hex_numbers) {
  key_set keys;
  ASSERT_TRUE(keys.add_certificate(make_certificate("platform_private", "0ABCDEF0123")));
  for (std::string_view serial : {"0ABCDEF0123", "ABCDEF0123", "abcdef0123", "000aBcDeF0123"}) {
    EXPECT_NE(keys.find(serial), nullptr) << serial;
  }
  for (std::string_view serial : {"ABCDEF0124", "ABCDEF012", "ABCDEF01230", "XYZ", "ABCDEF0123 ",
                                  "-ABCDEF0123", "0"}) {
    EXPECT_EQ(keys.find(serial), nullptr) << serial;
  }
}

TEST(key_set, public_key_and_certificates_are_live_at_once) {
  key_set keys;
  ASSERT_TRUE(keys.add_public_key(std::string{pub_key_id}, load_public_key("platform_public")));
  ASSERT_TRUE(keys.add_certificate(make_certificate("merchant_private", "1234")));
  ASSERT_TRUE(keys.add_certificate(make_certificate("platform_private", "ABCD")));
  EXPECT_EQ(keys.size(), 3u);
  EXPECT_TRUE(*keys.find(pub_key_id) == load_public_key("platform_public"));
  EXPECT_TRUE(*keys.find("1234") == load_public_key("merchant_public"));
  EXPECT_TRUE(*keys.find("abcd") == load_public_key("platform_public"));
  EXPECT_EQ(keys.known_ids(), (std::vector<std::string>{std::string{pub_key_id}, "1234", "ABCD"}));
}

TEST(key_set, refuses_duplicates_and_bad_ids) {
  key_set keys;
  ASSERT_TRUE(keys.add_certificate(make_certificate("platform_private", "00FF")));
  auto again = keys.add_certificate(make_certificate("platform_private", "FF"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, wechatpay_error::duplicate_key_id);

  ASSERT_TRUE(keys.add_public_key(std::string{pub_key_id}, load_public_key("platform_public")));
  auto same_id = keys.add_public_key(std::string{pub_key_id}, load_public_key("platform_public"));
  ASSERT_FALSE(same_id);
  EXPECT_EQ(same_id.error().code, wechatpay_error::duplicate_key_id);

  auto not_an_id = keys.add_public_key("5157F09EFDC096DE", load_public_key("platform_public"));
  ASSERT_FALSE(not_an_id);
  EXPECT_EQ(not_an_id.error().code, wechatpay_error::invalid_field);
  EXPECT_EQ(keys.size(), 2u);
}
