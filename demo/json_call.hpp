#pragma once

// The demo's own HTTP calls: JSON in, JSON out, short timeouts.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "net/http_client.hpp"

namespace paycoord::demo {

struct json_answer {
  /// 0: no answer (connection refused, timeout, ...).
  int status = 0;
  /// The parsed body; null when there is none or it is not JSON.
  nlohmann::json body;
};

/// A client for one demo thread (not thread-safe, like net::http_client).
net::http_client make_demo_client();

/// The integer at `j[section][key]`; 0 when it is missing or not an integer.
int64_t json_int(const nlohmann::json& j, const char* section, const char* key);

/// Sends `method url` with `body` (none when null) as JSON, and `headers`
/// after the content type (e.g. an `Authorization` for the admin API).
json_answer call_json(net::http_client& client, const std::string& method,
                      const std::string& url, const nlohmann::json& body = nullptr,
                      const std::vector<std::pair<std::string, std::string>>& headers = {});

} // namespace paycoord::demo
