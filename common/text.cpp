#include "common/text.hpp"

#include <nlohmann/json.hpp>

#include "common/time.hpp"

namespace paycoord {

namespace {

constexpr std::string_view replacement = "\xEF\xBF\xBD"; // U+FFFD

/// The character at the start of `s`: how many bytes it covers and whether
/// it is well-formed UTF-8 (Unicode 15, table 3-7). An ill-formed sequence
/// covers its maximal subpart (a lead byte and the continuation bytes that
/// could still belong to it), so "\xE4\xB8" cut short is one U+FFFD.
struct scanned {
  size_t length = 0;
  bool ok = false;
};

scanned scan(std::string_view s) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  auto c = byte(0);
  if (c < 0x80)
    return {1, true};
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF; // the range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0)
      lo = 0xA0; // no overlongs
    else if (c == 0xED)
      hi = 0x9F; // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0)
      lo = 0x90; // no overlongs
    else if (c == 0xF4)
      hi = 0x8F; // nothing above U+10FFFF
  } else {
    return {1, false};
  }
  size_t i = 1;
  for (; i < n && i < s.size(); ++i) {
    auto b = byte(i);
    bool fits = i == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
    if (!fits)
      return {i, false};
  }
  return {i, i == n};
}

} // namespace

bool is_valid_utf8(std::string_view bytes) {
  while (!bytes.empty()) {
    auto c = scan(bytes);
    if (!c.ok)
      return false;
    bytes.remove_prefix(c.length);
  }
  return true;
}

std::string valid_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  while (!bytes.empty()) {
    auto c = scan(bytes);
    if (c.ok)
      out.append(bytes.substr(0, c.length));
    else
      out.append(replacement);
    bytes.remove_prefix(c.length);
  }
  return out;
}

std::string utf8_prefix(std::string_view bytes, size_t max_bytes) {
  auto text = valid_utf8(bytes);
  if (text.size() <= max_bytes)
    return text;
  constexpr std::string_view ellipsis = "...";
  size_t keep = max_bytes > ellipsis.size() ? max_bytes - ellipsis.size() : 0;
  // Back up to a character boundary: never end inside a character.
  while (keep > 0 && (static_cast<unsigned char>(text[keep]) & 0xC0) == 0x80)
    --keep;
  text.resize(keep);
  if (max_bytes >= ellipsis.size())
    text += ellipsis;
  return text;
}

std::string log_text(std::string_view bytes, size_t max_bytes) {
  auto out = utf8_prefix(bytes, max_bytes);
  for (auto& c : out)
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20 || c == 0x7F)
      c = ' ';
  return out;
}

std::string json_text(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

size_t utf8_length(std::string_view text) {
  size_t n = 0;
  for (unsigned char c : text)
    if ((c & 0xC0) != 0x80)
      ++n;
  return n;
}

nlohmann::json time_or_null(int64_t unix_ms) {
  if (unix_ms == 0)
    return nullptr;
  return format_rfc3339(from_unix_ms(unix_ms));
}

} // namespace paycoord
