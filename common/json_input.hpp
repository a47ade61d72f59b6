#pragma once

// JSON from a peer, parsed within bounds. Every body paycoord reads from the
// network goes through parse_json_input: a size cap, a nesting cap (a
// document 10,000 deep is refused at the 17th level, before it costs
// anything), and, for the bodies our own clients send, no key twice in one
// object.
//
// Why duplicates are refused: RFC 8259 leaves `{"total":10000,"total":1}`
// open (parsers keep the first, keep the last, or fail), so a front end that
// checked one amount could have paycoord charge the other, the classic
// parser-differential attack. RFC 7493 (I-JSON) forbids duplicate names.
// WeChat's documents are signed; they are read with duplicates allowed, as
// nlohmann does (the last one wins), so as never to refuse a real payment.

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/expected.hpp"

namespace paycoord {

struct json_limits {
  size_t max_bytes = 1 << 20; ///< the text's size
  int max_depth = 16;         ///< arrays and objects inside one another
  bool unique_keys = true;    ///< refuse a key twice in one object
};

/// `text` parsed, or a sentence saying why not: "body of N bytes exceeds M
/// bytes", "nested deeper than 16", "duplicate key \"amount\"" (the key cut
/// to 64 bytes), or the parser's own message with the byte offset. Any value
/// at the top (callers check for an object). Never throws.
expected<nlohmann::json, std::string> parse_json_input(std::string_view text,
                                                       const json_limits& limits = {});

} // namespace paycoord
