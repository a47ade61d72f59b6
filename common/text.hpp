#pragma once

// Text from peers (WeChat's error messages, notification ids, header values,
// a merchant's description) may be any bytes. Everything that cuts, stores,
// logs or re-serialises such text goes through these functions, so that a
// multi-byte character cut in half or a stray byte can never reach a JSON
// serialiser that throws on invalid UTF-8 (nlohmann's dump() does).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace paycoord {

/// True when `bytes` is well-formed UTF-8 (no overlongs, no surrogates,
/// nothing above U+10FFFF).
bool is_valid_utf8(std::string_view bytes);

/// `bytes` as valid UTF-8: every maximal ill-formed subsequence becomes
/// U+FFFD, the rest is kept as it is. Never fails.
std::string valid_utf8(std::string_view bytes);

/// At most `max_bytes` of valid UTF-8, cut on a character boundary; when
/// something was cut, the result ends in "..." (counted within
/// `max_bytes`). Never fails.
std::string utf8_prefix(std::string_view bytes, size_t max_bytes);

/// A bounded value for a one-line `key="value"` log field: utf8_prefix with
/// quotes, backslashes and control characters turned into spaces.
std::string log_text(std::string_view bytes, size_t max_bytes = 200);

/// `j.dump()` that never throws: invalid UTF-8 in strings is replaced.
std::string json_text(const nlohmann::json& j);

/// Characters (code points) of UTF-8 text: the bytes that do not continue a
/// character. The length rules of the API count these.
size_t utf8_length(std::string_view text);

/// RFC 3339 of Unix milliseconds, or null for 0 (unset): how every API
/// answer writes a time.
nlohmann::json time_or_null(int64_t unix_ms);

} // namespace paycoord
