#pragma once

#include <string>
#include <string_view>

namespace paycoord::net {

/// The business-server callback signature of CONTRACTS.md §5:
/// `v1=` + lower-case hex of HMAC-SHA256(secret, timestamp + "." + body).
/// paycoord signs with it; the business simulator (and any real business
/// server) verifies with `verify_callback_signature`.
std::string callback_signature(std::string_view secret,
                               std::string_view timestamp,
                               std::string_view body);

/// True when `header_value` is exactly the signature of `timestamp` and
/// `body` under `secret`; compared in constant time.
bool verify_callback_signature(std::string_view secret,
                               std::string_view timestamp,
                               std::string_view body,
                               std::string_view header_value);

} // namespace paycoord::net
