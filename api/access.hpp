#pragma once

// Bearer tokens of the order API (api.token) and the admin API (admin.token),
// CONTRACTS.md §6 and §8.

#include <string_view>

#include "net/router.hpp"

namespace paycoord::api {

/// True when `header` is exactly `Bearer {token}`, compared in constant time
/// (the token's length is not secret). An empty token matches nothing.
bool bearer_matches(std::string_view header, std::string_view token);

/// True when the request carries `Authorization: Bearer {token}`; otherwise
/// answers 401 UNAUTHORIZED (the message names `key`, never the token) and
/// returns false.
bool authorized(const net::request_context& rc, std::string_view token, std::string_view key);

} // namespace paycoord::api
