#pragma once

#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "api/admin_api.hpp"
#include "net/http_server.hpp"
#include "storage/refund_record.hpp"

namespace paycoord::api {

/// A refund for the inspector: the contract's view (CONTRACTS.md §10) and
/// its schedule (next action and due time, calls made, undelivered events,
/// resolution).
nlohmann::json refund_admin_json(const refund_record& x);

using admin_handler
  = std::function<void(const std::shared_ptr<const admin_context>&, net::request_context)>;

/// The refund routes of the inspector API (CONTRACTS.md §10 "Admin"):
/// `GET /admin/api/refunds?state=&after=` lists refunds by state, `POST
/// /admin/api/orders/{id}/refunds/{out_refund_no}/verify` queries one now
/// (202). `guard` wraps each with the token check.
void add_admin_refund_routes(net::router& routes,
                             const std::function<net::handler(admin_handler)>& guard);

/// `POST /admin/api/orders/{id}/resolve?refund={out_refund_no}` with a
/// validated note: an ABNORMAL refund marked handled (200 with the refund,
/// 409 INVALID_STATE otherwise).
void resolve_refund(const std::shared_ptr<const admin_context>& ctx, const net::responder& respond,
                    std::string id, std::string out_refund_no, std::string note);

} // namespace paycoord::api
