#include "common/text.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using namespace paycoord;

namespace {

// 70 Chinese characters: 210 bytes, as WeChat's long error messages are.
std::string seventy_chinese() {
  std::string out;
  for (int i = 0; i < 7; ++i)
    out += "系统繁忙请稍后再试啊"; // 10 characters
  return out;
}

} // namespace

TEST(utf8, well_formed_text_is_kept_byte_for_byte) {
  auto text = "paid 支付成功 ✓ 😀 plain";
  EXPECT_TRUE(is_valid_utf8(text));
  EXPECT_EQ(valid_utf8(text), text);
}

TEST(utf8, ill_formed_bytes_become_one_replacement_each) {
  EXPECT_FALSE(is_valid_utf8("\xE4\xB8"));
  EXPECT_EQ(valid_utf8("a\xE4\xB8" "b"), "a\xEF\xBF\xBD" "b"); // truncated 3-byte char
  EXPECT_EQ(valid_utf8("\xFF\xFE"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(valid_utf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");     // overlong '/'
  EXPECT_EQ(valid_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"); // surrogate
  EXPECT_EQ(valid_utf8("\xF4\x90\x80\x80").size(), 12u);              // above U+10FFFF
  EXPECT_EQ(valid_utf8(std::string("a\0b", 3)), std::string("a\0b", 3));
}

TEST(utf8, a_prefix_never_ends_inside_a_character) {
  auto text = seventy_chinese();
  ASSERT_EQ(text.size(), 210u);
  for (size_t limit = 0; limit <= 220; ++limit) {
    auto cut = utf8_prefix(text, limit);
    EXPECT_LE(cut.size(), std::max<size_t>(limit, 0)) << limit;
    EXPECT_TRUE(is_valid_utf8(cut)) << limit;
    // nlohmann throws type_error.316 on invalid UTF-8: this must not.
    EXPECT_NO_THROW(nlohmann::json(cut).dump()) << limit;
  }
  EXPECT_EQ(utf8_prefix(text, 210), text);
  EXPECT_EQ(utf8_prefix(text, 200), text.substr(0, 195) + "...");
}

TEST(utf8, log_text_is_one_bounded_line_without_quotes) {
  auto out = log_text("a\"b\\c\nd\x01\xE4\xB8", 200);
  EXPECT_EQ(out, "a b c d \xEF\xBF\xBD");
  EXPECT_LE(log_text(seventy_chinese(), 80).size(), 80u);
  EXPECT_TRUE(is_valid_utf8(log_text(seventy_chinese(), 80)));
}

TEST(utf8, json_text_replaces_instead_of_throwing) {
  nlohmann::json j{{"message", std::string("\xE7\xB3\xBB\xE7")}};
  EXPECT_THROW(j.dump(), nlohmann::json::type_error);
  auto text = json_text(j);
  EXPECT_TRUE(is_valid_utf8(text));
  EXPECT_EQ(nlohmann::json::parse(text)["message"], "系\xEF\xBF\xBD");
}
