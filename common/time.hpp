#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace paycoord {

/// Wall-clock time: what records store and what the outside world speaks.
using wall_clock = std::chrono::system_clock;
using timestamp = wall_clock::time_point;
using duration = std::chrono::milliseconds;

/// The furthest a timestamp reaches either side of 1970 (about the year 2255:
/// system_clock counts nanoseconds in 64 bits).
inline constexpr int64_t max_unix_ms = 9'000'000'000'000;

/// Milliseconds since the Unix epoch (the stored form of a timestamp).
int64_t to_unix_ms(timestamp t);
/// The instant `ms` after the epoch, clamped to +-max_unix_ms (a peer's
/// number never overflows).
timestamp from_unix_ms(int64_t ms);

/// Formats `t` as RFC 3339 with second precision and the given UTC offset in
/// minutes, e.g. `2026-11-26T10:00:00+08:00` (China Standard Time by default,
/// as WeChat Pay writes it).
std::string format_rfc3339(timestamp t, int offset_minutes = 480);

/// Parses RFC 3339 (`YYYY-MM-DDTHH:MM:SS[.fff](Z|+hh:mm|-hh:mm)`). Returns
/// nullopt for anything else, including out-of-range fields; never throws.
std::optional<timestamp> parse_rfc3339(std::string_view text);

/// Parses a duration with a unit: `250ms`, `5s`, `1m`, `2h` (a non-negative
/// integer, then exactly one of the units ms, s, m, h). Returns nullopt for
/// anything else ("5 parsecs", "", "1.5s", "-1s", overflow).
std::optional<duration> parse_duration(std::string_view text);

/// The shortest exact form with a unit: 7200000 ms -> "2h", 1500 -> "1500ms".
std::string format_duration(duration d);

} // namespace paycoord
