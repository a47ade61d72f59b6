#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "actors/messages.hpp"
#include "common/expected.hpp"
#include "common/time.hpp"

namespace paycoord::api {

/// A request field that failed validation: `field` is its JSON path
/// (`amount.total`), `message` says why.
struct field_error {
  std::string field;
  std::string message;
};

/// True for 6-32 characters of `[A-Za-z0-9_|*-]` (CONTRACTS.md §3).
bool valid_out_trade_no(std::string_view id);

/// Parses and validates the body of `POST /v1/orders` at `now`: every rule of
/// CONTRACTS.md §3, the first failure naming its field. Never throws.
expected<create_order, field_error> parse_create_order(std::string_view body,
                                                       timestamp now);

/// The `GET /v1/orders/{id}` view of a record (CONTRACTS.md §3) with its
/// refunds (§10: `refunded_total`, the sum of SUCCESS refunds, and each
/// refund's `out_refund_no` and `state`), as JSON text.
std::string order_view_json(const order_record& x, const std::vector<refund_record>& refunds);

} // namespace paycoord::api
