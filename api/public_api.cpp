#include "api/public_api.hpp"

#include <cctype>

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "actors/messages.hpp"
#include "actors/wechat_client.hpp"
#include "common/json_input.hpp"
#include "common/text.hpp"
#include "api/access.hpp"
#include "api/order_request.hpp"
#include "api/refund_request.hpp"
#include "net/http_server.hpp"
#include "net/wechatpay/jsapi.hpp"
#include "net/wechatpay/models.hpp"
#include "net/wechatpay/notification_opener.hpp"

namespace paycoord::api {

namespace {

using json = nlohmann::json;
namespace http = boost::beast::http;
using ctx_ptr = std::shared_ptr<const api_context>;

bool not_ready(const ctx_ptr& ctx, const net::request_context& rc,
               std::string_view code = "NOT_READY") {
  if (ctx->ready == nullptr || ctx->ready->load())
    return false;
  rc.respond.send_error(503, code, "paycoord is recovering; retry shortly");
  return true;
}

std::string header(const net::http_request& req, std::string_view name) {
  auto i = req.find(boost::beast::string_view{name.data(), name.size()});
  if (i == req.end())
    return {};
  auto v = i->value();
  return std::string{v.data(), v.size()};
}

// -- orders ------------------------------------------------------------------

// 201/200 with the order and, when a prepay id exists, the signed JSAPI pay
// parameters for the mobile page; runs on the io_context (RSA signing).
void render_order(const ctx_ptr& ctx, const net::responder& respond,
                  const order_outcome& out) {
  const auto& x = out.record;
  json body{{"out_trade_no", x.out_trade_no},
            {"state", to_string(x.state)},
            {"prepay_id", x.prepay_id.empty() ? json(nullptr)
                                              : json(x.prepay_id)}};
  if (out.status >= 400) {
    body["code"] = out.code;
    body["message"] = out.message;
  }
  if (!x.prepay_id.empty() && out.status < 400) {
    auto params = wechatpay::make_jsapi_pay_params(
      ctx->credentials->merchant_key, ctx->appid, x.prepay_id, ctx->now(),
      wechatpay::make_nonce());
    if (!params) {
      respond.send_error(500, "SIGNING_FAILED", params.error().message());
      return;
    }
    body["jsapi"] = json::parse(wechatpay::to_json(*params));
  }
  respond.send_json(out.status, body);
}

void create_order_route(const ctx_ptr& ctx, net::request_context rc) {
  if (not_ready(ctx, rc))
    return;
  auto req = parse_create_order(rc.request.body(), ctx->now());
  if (!req) {
    auto& e = req.error();
    rc.respond.send_error(400, "INVALID_REQUEST",
                          e.field.empty() ? e.message
                                          : e.field + ": " + e.message);
    return;
  }
  auto respond = rc.respond;
  order_reply reply{[ctx, respond](order_outcome out) {
    if (!out.has_record) {
      respond.send_error(out.status, out.code, out.message);
      return;
    }
    boost::asio::post(*ctx->io, [ctx, respond, out = std::move(out)] {
      render_order(ctx, respond, out);
    });
  }};
  caf::anon_send(ctx->registry, create_atom_v, std::move(*req),
                 std::move(reply));
}

void get_order_route(const ctx_ptr& ctx, net::request_context rc) {
  std::string id{rc.path_param("out_trade_no")};
  if (!valid_out_trade_no(id)) {
    rc.respond.send_error(404, "ORDER_NOT_FOUND", "no order " + id);
    return;
  }
  // A short-lived actor asks the store (synced state only) and answers.
  auto respond = rc.respond;
  ctx->system->spawn([ctx, respond, id](caf::event_based_actor* self) {
    self->request(ctx->store, caf::infinite, load_atom_v, id)
      .then(
        [respond, id](order_lookup& lookup) {
          if (!lookup.found) {
            respond.send_error(404, "ORDER_NOT_FOUND", "no order " + id);
            return;
          }
          net::http_response res{http::status::ok, 11};
          res.set(http::field::content_type, "application/json");
          res.body() = order_view_json(lookup.record, lookup.refunds);
          respond.send(std::move(res));
        },
        [respond, id](caf::error& err) {
          spdlog::error("event=order_read_failed out_trade_no={} error=\"{}\"",
                        id, caf::to_string(err));
          respond.send_error(500, "STORE_FAILED", caf::to_string(err));
        });
  });
}

// -- refunds -------------------------------------------------------------------

void refund_reply(const net::responder& respond, const order_outcome& out) {
  if (!out.has_refund) {
    respond.send_error(out.status, out.code, out.message);
    return;
  }
  auto body = refund_view(out.refund);
  if (out.status >= 400) {
    body["code"] = out.code;
    body["message"] = out.message;
  }
  net::http_response res{static_cast<http::status>(out.status), 11};
  res.set(http::field::content_type, "application/json");
  res.body() = json_text(body);
  respond.send(std::move(res));
}

void create_refund_route(const ctx_ptr& ctx, net::request_context rc) {
  if (not_ready(ctx, rc))
    return;
  std::string id{rc.path_param("out_trade_no")};
  if (!valid_out_trade_no(id)) {
    rc.respond.send_error(404, "ORDER_NOT_FOUND", "no order " + id);
    return;
  }
  auto req = parse_create_refund(rc.request.body(), id);
  if (!req) {
    auto& e = req.error();
    rc.respond.send_error(400, "INVALID_REQUEST",
                          e.field.empty() ? e.message : e.field + ": " + e.message);
    return;
  }
  auto respond = rc.respond;
  order_reply reply{[respond](order_outcome out) { refund_reply(respond, out); }};
  caf::anon_send(ctx->registry, refund_atom_v, std::move(*req), std::move(reply));
}

void get_refund_route(const ctx_ptr& ctx, net::request_context rc) {
  std::string id{rc.path_param("out_trade_no")};
  std::string no{rc.path_param("out_refund_no")};
  if (!valid_out_trade_no(id) || !valid_out_refund_no(no)) {
    rc.respond.send_error(404, "REFUND_NOT_FOUND", "no refund " + utf8_prefix(no, 64));
    return;
  }
  auto respond = rc.respond;
  ctx->system->spawn([ctx, respond, id, no](caf::event_based_actor* self) {
    self->request(ctx->store, caf::infinite, load_atom_v, id)
      .then(
        [respond, id, no](order_lookup& lookup) {
          auto* r = lookup.found ? find_refund(lookup.refunds, no) : nullptr;
          if (r == nullptr) {
            respond.send_error(404, "REFUND_NOT_FOUND",
                               "no refund " + no + " of order " + id);
            return;
          }
          order_outcome out;
          out.status = 200;
          out.has_refund = true;
          out.refund = *r;
          refund_reply(respond, out);
        },
        [respond, id](caf::error& err) {
          spdlog::error("event=order_read_failed out_trade_no={} error=\"{}\"", id,
                        caf::to_string(err));
          respond.send_error(500, "STORE_FAILED", caf::to_string(err));
        });
  });
}

// -- notify --------------------------------------------------------------------

void fail(const net::responder& respond, unsigned status, std::string message) {
  respond.send_error(status, "FAIL", message);
}

/// A refusal of the notify route, counted.
void refuse(const ctx_ptr& ctx, const net::responder& respond, notify_outcome why,
            unsigned status, std::string message) {
  ctx->metrics->notification(why);
  fail(respond, status, std::move(message));
}

void notify_route(const ctx_ptr& ctx, net::request_context rc) {
  if (not_ready(ctx, rc, "FAIL")) {
    ctx->metrics->notification(notify_outcome::not_ready);
    return;
  }
  const auto& req = rc.request;
  wechatpay::signed_headers headers{
    header(req, wechatpay::timestamp_header),
    header(req, wechatpay::nonce_header),
    header(req, wechatpay::signature_header),
    header(req, wechatpay::serial_header),
    header(req, wechatpay::signature_type_header)};
  auto opened = wechatpay::open_notification(
    ctx->credentials->platform_keys, headers, req.body(), ctx->now(),
    ctx->max_clock_skew, ctx->apiv3_key);
  if (!opened) {
    auto& e = opened.error();
    auto status = wechatpay::is_signature_failure(e.code) ? 401u : 400u;
    spdlog::warn("event=notify_rejected status={} reason={} detail=\"{}\"",
                 status, wechatpay::to_string(e.code), log_text(e.detail));
    // A 401 names the reason only: the key ids we know and our clock are
    // logged above, never told to whoever sent it.
    refuse(ctx, rc.respond,
           status == 401 ? notify_outcome::rejected_signature
                         : notify_outcome::rejected_malformed,
           status, status == 401 ? std::string{wechatpay::to_string(e.code)} : e.message());
    return;
  }
  verified_notification n;
  n.notification_id = opened->envelope.id;
  n.event_type = opened->envelope.event_type;
  n.plaintext = opened->plaintext;
  switch (wechatpay::classify_event(n.event_type)) {
    case wechatpay::event_kind::payment: {
      auto t = wechatpay::parse_transaction(opened->plaintext);
      if (!t) {
        refuse(ctx, rc.respond, notify_outcome::rejected_malformed, 400,
               t.error().message());
        return;
      }
      if (t->mchid != ctx->mchid || t->appid != ctx->appid) {
        // Signed by WeChat but not for this merchant: logged, counted,
        // nothing stored.
        spdlog::error("event=notify_foreign_merchant id={} mchid={} appid={}",
                      log_text(n.notification_id, 128), log_text(t->mchid, 64),
                      log_text(t->appid, 64));
        refuse(ctx, rc.respond, notify_outcome::foreign_merchant, 400,
               "notification is for mchid " + utf8_prefix(t->mchid, 64) + " / appid "
                 + utf8_prefix(t->appid, 64)
                 + ", not this merchant");
        return;
      }
      n.is_payment = true;
      n.fact = to_payment_fact(*t);
      break;
    }
    case wechatpay::event_kind::refund:
      if (auto e = wechatpay::parse_refund_event(opened->plaintext)) {
        if (!e->mchid.empty() && e->mchid != ctx->mchid) {
          spdlog::error("event=notify_foreign_merchant id={} mchid={}",
                        log_text(n.notification_id, 128), log_text(e->mchid, 64));
          refuse(ctx, rc.respond, notify_outcome::foreign_merchant, 400,
                 "notification is for mchid " + utf8_prefix(e->mchid, 64)
                   + ", not this merchant");
          return;
        }
        n.is_refund = true;
        n.refund.out_trade_no = e->out_trade_no;
        n.refund.out_refund_no = e->out_refund_no;
        n.refund.refund_id = e->refund_id;
        n.refund.status = e->refund_status;
        n.refund.refund = e->amount.refund;
        n.refund.total = e->amount.total;
        if (e->success_time)
          n.refund.success_time_ms = to_unix_ms(*e->success_time);
      }
      [[fallthrough]]; // routed by out_trade_no like any other event
    case wechatpay::event_kind::other: {
      // Never read as a payment: stored on the order's timeline (or as an
      // orphan event) and answered 204, so WeChat does not retry for a day.
      // Signed by WeChat: a duplicate key is read as the models read it.
      auto plain = parse_json_input(opened->plaintext, {.unique_keys = false});
      if (plain && plain->is_object() && plain->contains("out_trade_no")
          && (*plain)["out_trade_no"].is_string())
        n.fact.out_trade_no = (*plain)["out_trade_no"].get<std::string>();
      if (!valid_out_trade_no(n.fact.out_trade_no)) {
        // Kept as an orphan event under a key made of the id's plain
        // characters only (the id is WeChat's text: any bytes).
        std::string key = "EVENT-";
        for (char c : n.notification_id)
          if (key.size() < 30 && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'))
            key += c;
        n.fact.out_trade_no = key;
      }
      break;
    }
  }
  if (!valid_out_trade_no(n.fact.out_trade_no) && n.is_payment) {
    refuse(ctx, rc.respond, notify_outcome::rejected_malformed, 400,
           "out_trade_no is not valid");
    return;
  }
  auto respond = rc.respond;
  order_reply reply{[respond, m = ctx->metrics](order_outcome out) {
    m->notification(out.status == 204 ? out.notified : notify_outcome::failed);
    if (out.status == 204) {
      net::http_response res{http::status::no_content, 11};
      respond.send(std::move(res));
    } else {
      fail(respond, out.status >= 500 ? out.status : 500, out.message);
    }
  }};
  spdlog::info("event=notify_verified out_trade_no={} id={} type={}",
               log_text(n.fact.out_trade_no, 64), log_text(n.notification_id, 128),
               log_text(n.event_type, 64));
  caf::anon_send(ctx->registry, notify_atom_v, std::move(n), std::move(reply));
}

} // namespace

/// The route behind api.token when one is set.
template <class F>
net::handler order_route(std::shared_ptr<const api_context> ctx, F f) {
  return [ctx, f](net::request_context rc) {
    if (ctx->api_token.empty() || authorized(rc, ctx->api_token, "api.token"))
      f(ctx, std::move(rc));
  };
}

void add_order_routes(net::router& routes, std::shared_ptr<const api_context> ctx) {
  net::route_options limit;
  limit.body_limit = public_body_limit;
  routes.add(http::verb::post, "/v1/orders", order_route(ctx, create_order_route), limit);
  routes.add(http::verb::get, "/v1/orders/{out_trade_no}", order_route(ctx, get_order_route),
             limit);
  routes.add(http::verb::post, "/v1/orders/{out_trade_no}/refunds",
             order_route(ctx, create_refund_route), limit);
  routes.add(http::verb::get, "/v1/orders/{out_trade_no}/refunds/{out_refund_no}",
             order_route(ctx, get_refund_route), limit);
}

void add_notify_route(net::router& routes, std::shared_ptr<const api_context> ctx) {
  net::route_options limit;
  limit.body_limit = public_body_limit;
  routes.add(
    http::verb::post, ctx->notify_path,
    [ctx](net::request_context rc) { notify_route(ctx, std::move(rc)); },
    limit);
}

void add_public_routes(net::router& routes, std::shared_ptr<const api_context> ctx) {
  add_order_routes(routes, ctx);
  add_notify_route(routes, ctx);
}

} // namespace paycoord::api
