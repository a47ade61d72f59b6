#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "actors/messages.hpp"
#include "api/order_request.hpp"
#include "common/expected.hpp"

namespace paycoord::api {

/// True for 6-64 characters of `[A-Za-z0-9_|*@-]` (CONTRACTS.md §10).
bool valid_out_refund_no(std::string_view id);

/// Parses and validates the body of `POST /v1/orders/{out_trade_no}/refunds`:
/// every rule of CONTRACTS.md §10 that the body alone decides, the first
/// failure naming its field. Never throws.
expected<create_refund, field_error> parse_create_refund(std::string_view body,
                                                         std::string out_trade_no);

/// The refund of CONTRACTS.md §10.
nlohmann::json refund_view(const refund_record& x);

} // namespace paycoord::api
