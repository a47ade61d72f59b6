#include "api/admin_refunds.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "actors/messages.hpp"
#include "api/refund_request.hpp"
#include "common/text.hpp"

namespace paycoord::api {

namespace {

using json = nlohmann::json;
using ctx_ptr = std::shared_ptr<const admin_context>;
namespace http = boost::beast::http;

constexpr uint32_t max_page = 500;

/// 200 (or `status`) with the refund, or the error of the outcome.
order_reply refund_reply(const net::responder& respond, unsigned status) {
  return order_reply{[respond, status](order_outcome out) {
    if (out.status >= 400 || !out.has_refund) {
      respond.send_error(out.status >= 400 ? out.status : 500, out.code, out.message);
      return;
    }
    respond.send_json(status, refund_admin_json(out.refund));
  }};
}

void list_refunds(const ctx_ptr& ctx, net::request_context rc) {
  std::string state{rc.query_param("state").value_or("")};
  std::string after{rc.query_param("after").value_or("")};
  if (!state.empty() && !parse_refund_state(state)) {
    rc.respond.send_error(400, "INVALID_REQUEST",
                          "state: one of REQUESTED, PROCESSING, SUCCESS, CLOSED, ABNORMAL");
    return;
  }
  auto respond = rc.respond;
  auto api = ctx->api;
  api->system->spawn([api, respond, state, after](caf::event_based_actor* self) {
    self->request(api->store, caf::infinite, refunds_atom_v, after, max_page, state)
      .then(
        [respond](order_store::refund_page& page) {
          json list = json::array();
          for (auto& r : page.refunds)
            list.push_back(refund_admin_json(r));
          respond.send_json(200, {{"refunds", std::move(list)},
                                  {"next", page.next.empty() ? json(nullptr) : json(page.next)}});
        },
        [respond](caf::error& err) {
          respond.send_error(500, "STORE_FAILED", caf::to_string(err));
        });
  });
}

void verify_refund(const ctx_ptr& ctx, net::request_context rc) {
  std::string id{rc.path_param("id")};
  std::string no{rc.path_param("out_refund_no")};
  spdlog::info("event=operator_action out_trade_no={} out_refund_no={} action=verify",
               log_text(id, 64), log_text(no, 64));
  caf::anon_send(ctx->api->registry, refund_atom_v, verify_atom_v, id, no,
                 refund_reply(rc.respond, 202));
}

} // namespace

json refund_admin_json(const refund_record& x) {
  auto j = refund_view(x);
  bool scheduled = needs_timer(x);
  j["next_action"] = scheduled ? json(to_string(x.action)) : json(nullptr);
  j["next_due"] = scheduled ? time_or_null(x.next_due_ms) : json(nullptr);
  j["accepted_at"] = time_or_null(x.accepted_at_ms);
  j["apply_attempts"] = x.apply_attempts;
  j["queries"] = x.queries;
  j["failures"] = x.failures;
  j["undelivered"] = x.undelivered;
  j["delivery_attempts"] = x.delivery_attempts;
  j["first_delivery_failure"] = time_or_null(x.first_delivery_failure_ms);
  j["resolved_at"] = time_or_null(x.resolved_at_ms);
  j["resolved_note"] = x.resolved_note;
  j["needs_a_person"] = needs_a_person(x);
  return j;
}

void add_admin_refund_routes(net::router& routes,
                             const std::function<net::handler(admin_handler)>& guard) {
  routes.add(http::verb::get, "/admin/api/refunds", guard(list_refunds));
  routes.add(http::verb::post, "/admin/api/orders/{id}/refunds/{out_refund_no}/verify",
             guard(verify_refund));
}

void resolve_refund(const ctx_ptr& ctx, const net::responder& respond, std::string id,
                    std::string out_refund_no, std::string note) {
  spdlog::info("event=operator_action out_trade_no={} out_refund_no={} action=resolve note=\"{}\"",
               log_text(id, 64), log_text(out_refund_no, 64), log_text(note, 200));
  caf::anon_send(ctx->api->registry, refund_atom_v, resolve_atom_v, std::move(id),
                 std::move(out_refund_no), std::move(note), refund_reply(respond, 200));
}

} // namespace paycoord::api
