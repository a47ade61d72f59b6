#include "common/time.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace paycoord {

namespace {

// Howard Hinnant's days_from_civil: exact for the proleptic Gregorian calendar.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool read_digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size())
    return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

bool is_leap(int y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

} // namespace

int64_t to_unix_ms(timestamp t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           t.time_since_epoch())
    .count();
}

timestamp from_unix_ms(int64_t ms) {
  // system_clock counts nanoseconds in 64 bits: about 292 years either side
  // of 1970. A peer's time beyond that would overflow (undefined behaviour),
  // so it is clamped to the edge; parse_rfc3339 rejects such times outright.
  ms = std::clamp(ms, -max_unix_ms, max_unix_ms);
  return timestamp{std::chrono::duration_cast<wall_clock::duration>(
    std::chrono::milliseconds{ms})};
}

std::string format_rfc3339(timestamp t, int offset_minutes) {
  using namespace std::chrono;
  auto local = floor<seconds>(t) + minutes{offset_minutes};
  auto days = floor<std::chrono::days>(local);
  year_month_day ymd{days};
  hh_mm_ss hms{local - days};
  char sign = offset_minutes < 0 ? '-' : '+';
  int off = offset_minutes < 0 ? -offset_minutes : offset_minutes;
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02d:%02d:%02d%c%02d:%02d",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()), sign, off / 60,
                off % 60);
  return buf;
}

std::optional<timestamp> parse_rfc3339(std::string_view s) {
  int y, mo, d, h, mi, se;
  if (s.size() < 20 || !read_digits(s, 0, 4, y) || s[4] != '-'
      || !read_digits(s, 5, 2, mo) || s[7] != '-' || !read_digits(s, 8, 2, d)
      || (s[10] != 'T' && s[10] != 't') || !read_digits(s, 11, 2, h)
      || s[13] != ':' || !read_digits(s, 14, 2, mi) || s[16] != ':'
      || !read_digits(s, 17, 2, se))
    return std::nullopt;
  static constexpr int month_days[] = {31, 28, 31, 30, 31, 30,
                                       31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 60)
    return std::nullopt;
  if (d > month_days[mo - 1] + (mo == 2 && is_leap(y) ? 1 : 0))
    return std::nullopt;
  size_t pos = 19;
  int64_t millis = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    int scale = 100;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      millis += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start || pos - start > 9)
      return std::nullopt;
  }
  int offset_minutes = 0;
  if (pos >= s.size())
    return std::nullopt;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int oh, om;
    if (!read_digits(s, pos + 1, 2, oh) || pos + 3 >= s.size()
        || s[pos + 3] != ':' || !read_digits(s, pos + 4, 2, om) || oh > 23
        || om > 59)
      return std::nullopt;
    offset_minutes = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size())
    return std::nullopt;
  int64_t secs = days_from_civil(y, static_cast<unsigned>(mo),
                                 static_cast<unsigned>(d))
                   * 86400
                 + h * 3600 + mi * 60 + se - offset_minutes * 60;
  if (secs > max_unix_ms / 1000 || secs < -max_unix_ms / 1000)
    return std::nullopt; // not representable (beyond 2255): not a time we accept
  return from_unix_ms(secs * 1000 + millis);
}

std::optional<duration> parse_duration(std::string_view s) {
  size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9')
    ++digits;
  if (digits == 0 || digits > 12)
    return std::nullopt;
  int64_t value = 0;
  std::from_chars(s.data(), s.data() + digits, value);
  auto unit = s.substr(digits);
  if (unit == "ms")
    return duration{value};
  if (unit == "s")
    return duration{value * 1000};
  if (unit == "m")
    return duration{value * 60'000};
  if (unit == "h")
    return duration{value * 3'600'000};
  return std::nullopt;
}

std::string format_duration(duration d) {
  auto ms = d.count();
  if (ms != 0 && ms % 3'600'000 == 0)
    return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0)
    return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0)
    return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

} // namespace paycoord
