#include "common/json_input.hpp"
#include "common/text.hpp"

#include <string>

#include <gtest/gtest.h>

using namespace paycoord;

namespace {

std::string nested(int depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

} // namespace

TEST(json_input, parses_what_is_within_bounds) {
  auto j = parse_json_input(R"({"a":{"b":[1,2,{"c":"d"}]},"e":null})");
  ASSERT_TRUE(j) << j.error().message;
  EXPECT_EQ((*j)["a"]["b"][2]["c"], "d");
  EXPECT_TRUE(parse_json_input("7")); // any value at the top
}

TEST(json_input, refuses_a_key_twice_in_one_object) {
  for (auto text : {R"({"total":10000,"total":1})",
                    R"({"amount":{"total":1},"x":1,"amount":{"total":2}})",
                    R"({"a":{"k":1,"k":2}})", R"([{"k":1},{"k":2,"k":3}])"}) {
    auto j = parse_json_input(text);
    ASSERT_FALSE(j) << text;
    EXPECT_NE(j.error().message.find("duplicate key"), std::string::npos) << j.error().message;
  }
  auto j = parse_json_input(R"({"amount":{"total":1},"amount":{"total":2}})");
  ASSERT_FALSE(j);
  EXPECT_EQ(j.error().message, R"(duplicate key "amount")");
  EXPECT_EQ(j.error().duplicate, "amount");
  // Named by its path; array elements take their array's path.
  j = parse_json_input(R"({"amount":{"total":1,"total":2}})");
  ASSERT_FALSE(j);
  EXPECT_EQ(j.error().duplicate, "amount.total");
  j = parse_json_input(R"({"list":[{"k":1},{"k":2,"k":3}]})");
  ASSERT_FALSE(j);
  EXPECT_EQ(j.error().duplicate, "list.k");
}

TEST(json_input, the_same_key_in_different_objects_is_fine) {
  auto j = parse_json_input(R"({"k":{"k":{"k":1}},"o":[{"k":1},{"k":2}],"p":{"k":3}})");
  ASSERT_TRUE(j) << j.error().message;
  EXPECT_EQ((*j)["o"][1]["k"], 2);
  EXPECT_EQ((*j)["p"]["k"], 3);
}

TEST(json_input, duplicates_may_be_allowed_and_the_last_wins) {
  auto j = parse_json_input(R"({"total":10000,"total":1})", {1 << 20, 16, false});
  ASSERT_TRUE(j) << j.error().message;
  EXPECT_EQ((*j)["total"], 1);
}

TEST(json_input, refuses_nesting_past_the_limit_and_stops_early) {
  EXPECT_TRUE(parse_json_input(nested(16)));
  auto j = parse_json_input(nested(17));
  ASSERT_FALSE(j);
  EXPECT_EQ(j.error().message, "nested deeper than 16");
  // 10,000 deep (and unterminated): refused at the 17th level.
  j = parse_json_input(std::string(10000, '['));
  ASSERT_FALSE(j);
  EXPECT_EQ(j.error().message, "nested deeper than 16");
  EXPECT_FALSE(parse_json_input(std::string(10000, '{'), {1 << 20, 4, true}));
}

TEST(json_input, refuses_text_over_the_size_cap) {
  auto j = parse_json_input(R"({"a":"0123456789"})", {10, 16, true});
  ASSERT_FALSE(j);
  EXPECT_EQ(j.error().message, "body of 18 bytes exceeds 10 bytes");
}

TEST(json_input, reports_bad_json_and_bad_utf8_without_throwing) {
  for (std::string text : {std::string{"{nope"}, std::string{""}, std::string{"{\"a\":\"\xff\"}"},
                           std::string{"{\"a\":1}trailing"}, std::string{"1e400"}}) {
    auto j = parse_json_input(text);
    ASSERT_FALSE(j) << text;
    EXPECT_FALSE(j.error().message.empty());
    EXPECT_TRUE(j.error().duplicate.empty());
  }
  // The parser's own message, without nlohmann's "[json.exception...]" tag.
  EXPECT_EQ(parse_json_input("{nope").error().message.rfind("parse error at line 1", 0), 0u)
    << parse_json_input("{nope").error().message;
  // A duplicate key that is cut for the message stays valid UTF-8.
  std::string key(59, 'k'); // the cut at 64 bytes falls inside the Chinese
  key += "\xe4\xb8\xad\xe6\x96\x87";
  key += std::string(10, 'k');
  auto j = parse_json_input("{\"" + key + "\":1,\"" + key + "\":2}");
  ASSERT_FALSE(j);
  EXPECT_TRUE(is_valid_utf8(j.error().message)) << j.error().message;
}
