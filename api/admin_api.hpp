#pragma once

#include <memory>
#include <string>

#include "api/access.hpp"
#include "api/public_api.hpp"
#include "net/router.hpp"
#include "storage/order_store.hpp"

namespace paycoord::api {

/// What the admin routes need beyond the public context.
struct admin_context {
  std::shared_ptr<const api_context> api;
  /// `Authorization: Bearer {token}`, compared in constant time.
  std::string token;
  timestamp started_at = wall_clock::now();
};


/// Adds the inspector page (the files of web/, embedded at build time) at
/// `GET /admin/` and `GET /admin/{file}`, without a token: the page asks for
/// it. Served with a Content-Security-Policy that allows only its own script
/// and same-origin API calls.
void add_inspector_page(net::router& routes);

/// Adds the inspector page and the inspector API of CONTRACTS.md §6 under `/admin/api/`: summary,
/// order pages, one order in full (record, live actor, events) and the
/// operator actions verify and forward. Every route answers 401 without the
/// token.
void add_admin_routes(net::router& routes,
                      std::shared_ptr<const admin_context> ctx);

} // namespace paycoord::api
