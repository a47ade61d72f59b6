#include "common/time.hpp"

#include <gtest/gtest.h>

using namespace paycoord;
using namespace std::chrono_literals;

TEST(rfc3339, formats_in_china_standard_time_by_default) {
  // 2026-11-26T02:00:00Z
  auto t = from_unix_ms(1795658400000);
  EXPECT_EQ(format_rfc3339(t), "2026-11-26T10:00:00+08:00");
  EXPECT_EQ(format_rfc3339(t, 0), "2026-11-26T02:00:00+00:00");
  EXPECT_EQ(format_rfc3339(t, -90), "2026-11-26T00:30:00-01:30");
}

TEST(rfc3339, parses_offsets_fractions_and_zulu_to_the_same_instant) {
  auto a = parse_rfc3339("2026-11-26T10:00:00+08:00");
  auto b = parse_rfc3339("2026-11-26T02:00:00Z");
  auto c = parse_rfc3339("2026-11-25T21:00:00.000-05:00");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(*a, *c);
  EXPECT_EQ(to_unix_ms(*a), 1795658400000);
  auto f = parse_rfc3339("2026-11-26T02:00:00.250Z");
  ASSERT_TRUE(f);
  EXPECT_EQ(to_unix_ms(*f), 1795658400250);
}

TEST(rfc3339, round_trips) {
  auto t = from_unix_ms(1700000000000);
  EXPECT_EQ(parse_rfc3339(format_rfc3339(t)), t);
}

TEST(rfc3339, rejects_malformed_text) {
  for (auto bad : {"", "2026-11-26", "2026-11-26T10:00:00", "2026-13-01T00:00:00Z",
                   "2026-02-30T00:00:00Z", "2026-11-26T24:00:00Z",
                   "2026-11-26T10:00:00+8:00", "2026-11-26T10:00:00Zjunk",
                   "2026-11-26 10:00:00Z", "abcd-11-26T10:00:00Z",
                   "2026-11-26T10:00:00."})
    EXPECT_FALSE(parse_rfc3339(bad)) << bad;
  EXPECT_TRUE(parse_rfc3339("2024-02-29T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("2025-02-29T00:00:00Z"));
}

TEST(duration, parses_every_unit) {
  EXPECT_EQ(parse_duration("250ms"), 250ms);
  EXPECT_EQ(parse_duration("5s"), 5s);
  EXPECT_EQ(parse_duration("1m"), 1min);
  EXPECT_EQ(parse_duration("2h"), 2h);
  EXPECT_EQ(parse_duration("0s"), 0ms);
}

TEST(duration, rejects_anything_without_a_known_unit) {
  for (auto bad : {"", "5", "5 parsecs", "1.5s", "-1s", "s", "5S", "5sec",
                   " 5s", "5s ", "9999999999999h"})
    EXPECT_FALSE(parse_duration(bad)) << bad;
}

TEST(duration, formats_the_shortest_exact_unit) {
  EXPECT_EQ(format_duration(2h), "2h");
  EXPECT_EQ(format_duration(90s), "90s");
  EXPECT_EQ(format_duration(30min), "30m");
  EXPECT_EQ(format_duration(1500ms), "1500ms");
  EXPECT_EQ(format_duration(0ms), "0s");
  for (auto text : {"250ms", "5s", "1m", "2h", "90s"})
    EXPECT_EQ(format_duration(*parse_duration(text)), text);
}

// Found by models_fuzz: a peer's year 4052 overflowed system_clock's
// nanoseconds (undefined behaviour). Such a time is refused; a raw number is
// clamped.
TEST(rfc3339, times_beyond_what_the_clock_holds_are_refused_not_overflowed) {
  EXPECT_FALSE(parse_rfc3339("4052-11-26T10:00:05+08:00"));
  EXPECT_FALSE(parse_rfc3339("9999-12-31T23:59:59Z"));
  EXPECT_TRUE(parse_rfc3339("2200-01-01T00:00:00Z"));
  EXPECT_EQ(to_unix_ms(from_unix_ms(INT64_MAX)), max_unix_ms);
  EXPECT_EQ(to_unix_ms(from_unix_ms(INT64_MIN)), -max_unix_ms);
}
