#include "net/wechatpay/base64.hpp"

#include <random>

#include <gtest/gtest.h>

using namespace paycoord::wechatpay;

TEST(base64, encodes_rfc4648_examples) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode(std::string("\xfb\xff", 2)), "+/8=");
}

TEST(base64, round_trips_every_length_and_byte) {
  std::mt19937 rng{7};
  for (size_t length = 0; length < 300; ++length) {
    std::string bytes(length, '\0');
    for (auto& b : bytes)
      b = static_cast<char>(rng());
    auto decoded = base64_decode(base64_encode(bytes));
    ASSERT_TRUE(decoded) << length;
    EXPECT_EQ(*decoded, bytes);
  }
}

TEST(base64, rejects_garbage_without_throwing) {
  for (std::string_view bad : {
         "WECHATPAY/SIGNTEST/1J7fguPpXV+HcIX+Ap4221QB3hBNHiY255j3uQd6KWe9mrZb", // probe
         "Zg=",        // length not a multiple of 4
         "Zm9",        // missing padding
         "Z===",       // too much padding
         "====",       // padding only
         "Zg==Zg==",   // padding in the middle
         "Zm=v",       // '=' before data
         "Zh==",       // non-zero unused bits: another text for "f"
         "Zm9=",       // non-zero unused bits: another text for "fo"
         "Zm9v\n",     // whitespace
         " Zm9v",      // whitespace
         "Zm-v",       // URL-safe alphabet is not ours
         "Zm_v",
         "Zm9v\xff===",
       }) {
    EXPECT_FALSE(base64_decode(bad)) << bad;
  }
  std::string with_nul("Zm\0v", 4);
  EXPECT_FALSE(base64_decode(with_nul));
}
