#pragma once

// JSON from outside the process, parsed within bounds: a size cap, a nesting
// cap (a document 10,000 deep is refused at the 17th level, before it costs
// anything) and, unless allowed, no key twice in one object. The order and
// admin APIs, paysim's control API, WeChat's documents and the config file
// all parse through parse_json_input.
//
// Why duplicates are refused: RFC 8259 leaves `{"total":10000,"total":1}`
// open (parsers keep the first, keep the last, or fail), so a front end that
// checked one amount could have paycoord charge the other, the classic
// parser-differential attack; in a config file the last one would silently
// win. RFC 7493 (I-JSON) forbids duplicate names. WeChat's documents are
// signed; they are read with duplicates allowed, as nlohmann does (the last
// one wins), so as never to refuse a real payment.

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

struct json_input_error {
  /// One sentence: "body of N bytes exceeds M bytes", "nested deeper than
  /// 16", "duplicate key \"amount.total\"", or the parser's own ("parse error
  /// at line 1, column 5: ...").
  std::string message;
  /// For a key given twice, its path ("amount.total"; array elements take
  /// their array's path); empty otherwise.
  std::string duplicate;
};

/// `text` parsed, or why not. Any value at the top (callers check for an
/// object). Never throws.
expected<nlohmann::json, json_input_error> parse_json_input(std::string_view text,
                                                            const json_limits& limits = {});

} // namespace paycoord
