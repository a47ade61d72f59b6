#include "api/admin_api.hpp"

#include <algorithm>
#include <array>

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include "actors/messages.hpp"
#include "actors/order_machine.hpp"
#include "api/access.hpp"
#include "api/admin_refunds.hpp"
#include "common/json_input.hpp"
#include "common/text.hpp"
#include "api/order_request.hpp"
#include "net/http_server.hpp"
#include "web/web_assets.hpp"

namespace paycoord::api {

namespace {

using json = nlohmann::json;
namespace http = boost::beast::http;
using ctx_ptr = std::shared_ptr<const admin_context>;

constexpr uint32_t max_page = 500;

json event_json(const order_event& e) {
  auto detail = json::parse(e.detail, nullptr, false);
  return json{{"seq", e.seq},
              {"at", time_or_null(e.at_ms)},
              {"at_ms", e.at_ms},
              {"kind", e.kind},
              {"detail", detail.is_discarded() ? json(e.detail) : detail}};
}

json record_json(const order_record& x) {
  auto j = json::parse(encode(x));
  j.erase("v");
  for (auto key : {"created_at_ms", "updated_at_ms", "confirmed_at_ms",
                   "paid_at_ms", "expire_at_ms", "requested_expire_at_ms",
                   "next_due_ms", "last_query_at_ms",
                   "first_forward_failure_ms", "paid_recorded_at_ms",
                   "resolved_at_ms"}) {
    std::string name{key};
    j[name.substr(0, name.size() - 3)] = time_or_null(j.value(name, int64_t{0}));
    j.erase(name);
  }
  // Written to the store only when set; always in the API.
  j["resolved_note"] = x.resolved_note;
  j["faulted_from"] = x.state == order_state::faulted && x.faulted_from != order_state::faulted
                        ? json(to_string(x.faulted_from))
                        : json(nullptr);
  j["needs_a_person"] = is_parked(x.state) && x.resolved_at_ms == 0;
  return j;
}

json orphan_event_json(const orphan_event& x) {
  auto j = event_json(x.event);
  j.erase("seq");
  j["out_trade_no"] = x.out_trade_no;
  j["notification_id"] = x.notification_id;
  return j;
}

/// Wraps a handler with the token check.
net::handler guarded(const ctx_ptr& ctx,
                     std::function<void(const ctx_ptr&, net::request_context)> f) {
  return [ctx, f = std::move(f)](net::request_context rc) {
    if (authorized(rc, ctx->token, "admin.token"))
      f(ctx, std::move(rc));
  };
}

void error_reply(const net::responder& respond, const caf::error& err) {
  respond.send_error(500, "INTERNAL", caf::to_string(err));
}

// -- summary -------------------------------------------------------------------

void summary(const ctx_ptr& ctx, net::request_context rc) {
  auto respond = rc.respond;
  auto api = ctx->api;
  // The order counts are kept exact by the metrics (seeded by the recovery
  // scan, then one delta per synced change): no store scan per request.
  const auto& m = *api->metrics;
  auto counts = m.orders_by_state();
  json by_state = json::object();
  for (size_t i = 0; i < counts.size(); ++i)
    by_state[to_string(static_cast<order_state>(i))] = counts[i];
  auto parked = counts[static_cast<size_t>(order_state::anomaly)]
                + counts[static_cast<size_t>(order_state::orphan)]
                + counts[static_cast<size_t>(order_state::faulted)];
  auto unresolved_counts = m.unresolved_counts();
  json unresolved = json::object();
  int64_t needs_a_person = 0;
  for (auto s : {order_state::anomaly, order_state::orphan, order_state::faulted}) {
    unresolved[to_string(s)] = unresolved_counts[static_cast<size_t>(s)];
    needs_a_person += unresolved_counts[static_cast<size_t>(s)];
  }
  auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
                  wall_clock::now() - ctx->started_at)
                  .count();
  auto refund_counts = m.refunds_by_state();
  json refunds_by_state = json::object();
  for (size_t i = 0; i < refund_counts.size(); ++i)
    refunds_by_state[to_string(static_cast<refund_state>(i))] = refund_counts[i];
  unresolved["ABNORMAL_REFUND"] = m.unresolved_refunds();
  needs_a_person += m.unresolved_refunds();
  json body{{"orders_by_state", by_state},
            {"refunds_by_state", refunds_by_state},
            {"stuck", m.stuck_orders()},
            {"parked", parked},
            {"unresolved", unresolved},
            {"needs_a_person", needs_a_person},
            {"unreadable_records", m.unreadable_records()},
            {"uptime_seconds", uptime},
            {"ready", api->ready == nullptr || api->ready->load()}};
  // The rest comes from the actors that own it, one answer after another.
  api->system->spawn([api, respond, body](caf::event_based_actor* self) mutable {
    auto fail = [respond](caf::error& e) { error_reply(respond, e); };
    self->request(api->store, caf::infinite, stats_atom_v)
      .then(
        [=](const store_stats& s) mutable {
          body["store_bytes"] = s.bytes;
          self->request(api->registry, caf::infinite, live_atom_v)
            .then(
              [=](uint64_t live) mutable {
                body["live_actors"] = live;
                self->request(api->registry, caf::infinite, stats_atom_v)
                  .then(
                    [=](uint64_t restarts) mutable {
                      body["actor_restarts"] = restarts;
                      self->request(api->registry, caf::infinite, timer_atom_v)
                        .then(
                          [=](caf::actor timers) mutable {
                            self->request(timers, caf::infinite, live_atom_v)
                              .then(
                                [=](uint64_t armed) mutable {
                                  body["timers_armed"] = armed;
                                  respond.send_json(200, body);
                                },
                                fail);
                          },
                          fail);
                    },
                    fail);
              },
              fail);
        },
        fail);
  });
}

// -- orders ------------------------------------------------------------------------

void list_orders(const ctx_ptr& ctx, net::request_context rc) {
  std::string state{rc.query_param("state").value_or("")};
  if (!state.empty() && !parse_order_state(state)) {
    rc.respond.send_error(400, "INVALID_REQUEST", "state: unknown state " + state);
    return;
  }
  uint32_t limit = 50;
  if (auto l = rc.query_param("limit")) {
    try {
      auto n = std::stoul(std::string{*l});
      limit = static_cast<uint32_t>(std::clamp<unsigned long>(n, 1, max_page));
    } catch (const std::exception&) {
      rc.respond.send_error(400, "INVALID_REQUEST", "limit: not a number");
      return;
    }
  }
  bool flags[2] = {false, false};
  const char* flag_names[2] = {"stuck", "unresolved"};
  for (int i = 0; i < 2; ++i) {
    auto v = rc.query_param(flag_names[i]);
    if (!v)
      continue;
    if (*v != "true" && *v != "false") {
      rc.respond.send_error(400, "INVALID_REQUEST",
                            std::string{flag_names[i]} + ": expected true or false");
      return;
    }
    flags[i] = *v == "true";
  }
  std::string after{rc.query_param("after").value_or("")};
  auto respond = rc.respond;
  auto api = ctx->api;
  api->system->spawn([api, respond, after, limit, state,
                      stuck = flags[0], unresolved = flags[1]](caf::event_based_actor* self) {
    self->request(api->store, caf::infinite, scan_atom_v, after, limit, state, stuck,
                  unresolved)
      .then(
        [respond](order_page& page) {
          json orders = json::array();
          for (auto& x : page.orders)
            orders.push_back(record_json(x));
          respond.send_json(200, {{"orders", orders},
                                  {"next", page.next.empty() ? json(nullptr)
                                                             : json(page.next)}});
        },
        [respond](caf::error& e) { error_reply(respond, e); });
  });
}

/// The newest timeline events an order's detail shows (the total is
/// `events_total`; `events_truncated` says older ones were left out).
constexpr uint32_t detail_events = 1000;

/// An open order without a live actor: passivated, its timer in the store.
struct durable_timer {
  bool indexed = false;
  std::string action;
  int64_t due_ms = 0;
};

void with_orphan_events(caf::event_based_actor* self, std::shared_ptr<const api_context> api,
                        const std::string& id, json body, durable_timer timer,
                        net::responder respond);

void order_detail(const ctx_ptr& ctx, net::request_context rc) {
  std::string id{rc.path_param("id")};
  auto respond = rc.respond;
  auto api = ctx->api;
  api->system->spawn([api, respond, id](caf::event_based_actor* self) {
    self->request(api->store, caf::infinite, history_atom_v, id, detail_events)
      .then(
        [=](order_history& h) {
          if (!h.found) {
            respond.send_error(404, "ORDER_NOT_FOUND", "no order " + id);
            return;
          }
          json timeline = json::array();
          for (auto& e : h.events)
            timeline.push_back(event_json(e));
          json refunds = json::array();
          for (auto& r : h.refunds)
            refunds.push_back(refund_admin_json(r));
          json body{{"record", record_json(h.record)},
                    {"refunds", std::move(refunds)},
                    {"events", std::move(timeline)},
                    {"events_total", h.record.event_seq},
                    {"events_truncated", h.record.event_seq > h.events.size()}};
          auto step = next_step_of(h.record, h.refunds);
          durable_timer timer{h.timer_indexed, step.action, step.due_ms};
          with_orphan_events(self, api, id, std::move(body), std::move(timer), respond);
        },
        [respond](caf::error& e) { error_reply(respond, e); });
  });
}

/// Adds the order's orphan events (refunds it never asked for) to `body`,
/// then the live actor's side, and answers.
void with_orphan_events(caf::event_based_actor* self, std::shared_ptr<const api_context> api,
                        const std::string& id, json body, durable_timer timer,
                        net::responder respond) {
  self->request(api->store, caf::infinite, orphans_atom_v, id, std::string{}, max_page)
    .then(
      [=](std::vector<orphan_event>& orphans) mutable {
        json list = json::array();
        for (auto& x : orphans)
          list.push_back(orphan_event_json(x));
        body["orphan_events"] = std::move(list);
          // The live side answers through a callback (it may be none).
          snapshot_reply reply{[respond, body = std::move(body),
                                timer = std::move(timer)](actor_snapshot s) mutable {
            // Not in memory but open: passivated, its timer is the index
            // entry in the store (shown only if it is really there).
            bool passivated = !s.alive && timer.indexed;
            if (passivated) {
              s.next_action = timer.action;
              s.next_due_ms = timer.due_ms;
            }
            bool armed = (s.alive || passivated) && !s.next_action.empty()
                         && s.next_action != "none";
            body["actor"] = {{"alive", s.alive},
                             {"passivated", passivated},
                             {"state", s.alive && !s.state.empty() ? json(s.state) : json(nullptr)},
                             {"mailbox_size", s.mailbox_size},
                             {"next_action", armed ? json(s.next_action) : json(nullptr)},
                             {"next_due", armed ? time_or_null(s.next_due_ms) : json(nullptr)},
                             {"attempts", s.attempts},
                             {"restarts", s.restarts},
                             {"in_flight", s.in_flight}};
            respond.send_json(200, body);
          }};
          self->send(api->registry, snapshot_atom_v, id, std::move(reply));
      },
      [respond](caf::error& e) { error_reply(respond, e); });
}

void list_orphan_events(const ctx_ptr& ctx, net::request_context rc) {
  std::string after{rc.query_param("after").value_or("")};
  auto respond = rc.respond;
  auto api = ctx->api;
  api->system->spawn([api, respond, after](caf::event_based_actor* self) {
    self->request(api->store, caf::infinite, orphans_atom_v, std::string{}, after,
                  uint32_t{max_page + 1})
      .then(
        [respond](std::vector<orphan_event>& orphans) {
          json list = json::array();
          bool more = orphans.size() > max_page;
          if (more)
            orphans.resize(max_page);
          for (auto& x : orphans)
            list.push_back(orphan_event_json(x));
          json next = more ? json(order_store::orphan_event_key(orphans.back().out_trade_no,
                                                                  orphans.back().notification_id))
                           : json(nullptr);
          respond.send_json(200, {{"orphan_events", list}, {"next", next}});
        },
        [respond](caf::error& e) { error_reply(respond, e); });
  });
}

template <class Atom>
void operator_action(const ctx_ptr& ctx, net::request_context rc, Atom atom) {
  std::string id{rc.path_param("id")};
  auto respond = rc.respond;
  order_reply reply{[respond](order_outcome out) {
    if (out.status >= 400) {
      respond.send_error(out.status, out.code, out.message);
      return;
    }
    respond.send_json(202, {{"accepted", true},
                            {"out_trade_no", out.record.out_trade_no},
                            {"state", to_string(out.record.state)}});
  }};
  spdlog::info("event=operator_action out_trade_no={} action={}", id,
               caf::to_string(caf::atom_value{atom.value}));
  caf::anon_send(ctx->api->registry, atom, id, std::move(reply));
}

/// The answer of retry and resolve (CONTRACTS.md §11): 200 with the record.
order_reply record_reply(const net::responder& respond) {
  return order_reply{[respond](order_outcome out) {
    if (out.status >= 400)
      respond.send_error(out.status, out.code, out.message);
    else
      respond.send_json(200, record_json(out.record));
  }};
}

void retry_order(const ctx_ptr& ctx, net::request_context rc) {
  std::string id{rc.path_param("id")};
  spdlog::info("event=operator_action out_trade_no={} action=retry", log_text(id, 64));
  caf::anon_send(ctx->api->registry, retry_atom_v, id, record_reply(rc.respond));
}

/// CONTRACTS.md §11: a note of 1-500 characters (code points of valid UTF-8).
void resolve_order(const ctx_ptr& ctx, net::request_context rc) {
  std::string id{rc.path_param("id")};
  auto parsed = parse_json_input(rc.request.body());
  if (!parsed || !parsed->is_object()) {
    rc.respond.send_error(400, "INVALID_REQUEST",
                          "body: expected a JSON object with \"note\""
                            + (parsed ? std::string{} : " (" + parsed.error().message + ")"));
    return;
  }
  const json& body = *parsed;
  auto note = body.find("note");
  if (note == body.end() || !note->is_string()) {
    rc.respond.send_error(400, "INVALID_REQUEST", "note: required, a string of 1-500 characters");
    return;
  }
  auto text = note->get<std::string>();
  auto chars = utf8_length(text);
  bool blank = text.find_first_not_of(" \t\r\n") == std::string::npos;
  if (!is_valid_utf8(text) || blank || chars > 500) {
    rc.respond.send_error(400, "INVALID_REQUEST",
                          "note: must be 1-500 characters of UTF-8, not only blanks; got "
                            + std::to_string(chars));
    return;
  }
  if (auto refund = rc.query_param("refund")) {
    resolve_refund(ctx, rc.respond, std::move(id), std::string{*refund}, std::move(text));
    return;
  }
  spdlog::info("event=operator_action out_trade_no={} action=resolve note=\"{}\"",
               log_text(id, 64), log_text(text, 200));
  caf::anon_send(ctx->api->registry, resolve_atom_v, id, std::move(text),
                 record_reply(rc.respond));
}

} // namespace

namespace {

// The page renders records that came from the network: it may only run its
// own script and talk to its own origin.
constexpr const char* page_policy
  = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

net::handler serve_asset(const web::asset& a) {
  return [&a](net::request_context rc) {
    net::http_response res{http::status::ok, 11};
    res.set(http::field::content_type, std::string{a.content_type});
    res.set(http::field::cache_control, "no-cache");
    res.set("X-Content-Type-Options", "nosniff");
    res.set("Referrer-Policy", "no-referrer");
    res.set("Content-Security-Policy", page_policy);
    res.body() = std::string{a.bytes};
    rc.respond.send(std::move(res));
  };
}

} // namespace

void add_inspector_page(net::router& routes) {
  for (const auto& a : web::assets()) {
    routes.add(http::verb::get, "/admin/" + std::string{a.name}, serve_asset(a));
    if (a.name == "index.html")
      routes.add(http::verb::get, "/admin/", serve_asset(a));
  }
  routes.add(http::verb::get, "/admin", [](net::request_context rc) {
    net::http_response res{http::status::permanent_redirect, 11};
    res.set(http::field::location, "/admin/");
    rc.respond.send(std::move(res));
  });
}

void add_admin_routes(net::router& routes, std::shared_ptr<const admin_context> ctx) {
  add_inspector_page(routes);
  routes.add(http::verb::get, "/admin/api/summary", guarded(ctx, summary));
  routes.add(http::verb::get, "/admin/api/orders", guarded(ctx, list_orders));
  routes.add(http::verb::get, "/admin/api/orders/{id}", guarded(ctx, order_detail));
  routes.add(http::verb::post, "/admin/api/orders/{id}/verify",
             guarded(ctx, [](const ctx_ptr& c, net::request_context rc) {
               operator_action(c, std::move(rc), verify_atom_v);
             }));
  routes.add(http::verb::post, "/admin/api/orders/{id}/forward",
             guarded(ctx, [](const ctx_ptr& c, net::request_context rc) {
               operator_action(c, std::move(rc), forward_atom_v);
             }));
  routes.add(http::verb::post, "/admin/api/orders/{id}/retry", guarded(ctx, retry_order));
  routes.add(http::verb::post, "/admin/api/orders/{id}/resolve", guarded(ctx, resolve_order));
  routes.add(http::verb::get, "/admin/api/orphan-events", guarded(ctx, list_orphan_events));
  add_admin_refund_routes(routes, [&ctx](admin_handler f) { return guarded(ctx, f); });
}

} // namespace paycoord::api
