#include "sim/control_api.hpp"

#include <charconv>
#include <limits>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "sim/strict_json.hpp"

namespace paycoord::sim {

namespace http = boost::beast::http;
using json = nlohmann::json;

namespace {

/// Reads a control body with `read_fields`; answers 400 naming the key and
/// returns false on any problem. An empty body is an empty object.
template <class Reader>
bool read_body(const net::request_context& ctx, Reader read_fields) {
  std::string_view text = ctx.request.body();
  std::optional<config_error> error;
  auto doc = parse_json_object(text.empty() ? std::string_view{"{}"} : text, "body", error);
  if (doc) {
    strict_object fields(*doc, "", error);
    read_fields(fields);
    fields.reject_unknown_keys();
  }
  if (!error)
    return true;
  ctx.respond.send_error(400, "INVALID_REQUEST", error->message());
  return false;
}

/// `{"amount": N, "drop_notification": bool}`, both optional.
struct pay_options {
  std::optional<int64_t> amount;
  bool drop_notification = false;
};

bool read_pay_options(const net::request_context& ctx, pay_options& out, bool allow_drop) {
  return read_body(ctx, [&](strict_object& fields) {
    int64_t amount = 0;
    fields.integer("amount", amount, 1, std::numeric_limits<int64_t>::max());
    if (amount > 0)
      out.amount = amount;
    if (allow_drop)
      fields.flag("drop_notification", out.drop_notification);
  });
}

} // namespace

control_api::control_api(sim_state& state, notifier& notifications)
  : state_(state), notifier_(notifications) {
}

net::router control_api::routes() {
  net::router r;
  auto bind = [this](void (control_api::*member)(net::request_context)) {
    return [this, member](net::request_context ctx) { (this->*member)(std::move(ctx)); };
  };
  r.add(http::verb::post, "/control/orders/{id}/pay",
        [this](net::request_context ctx) { on_pay(std::move(ctx), false); });
  r.add(http::verb::post, "/control/orders/{id}/pay-before-close",
        [this](net::request_context ctx) { on_pay(std::move(ctx), true); });
  r.add(http::verb::post, "/control/orders/{id}/refund", bind(&control_api::on_refund));
  r.add(http::verb::get, "/control/orders/{id}", bind(&control_api::on_order));
  r.add(http::verb::get, "/control/refunds/{out_refund_no}", bind(&control_api::on_get_refund));
  r.add(http::verb::post, "/control/refunds/{out_refund_no}/resolve",
        bind(&control_api::on_resolve_refund));
  r.add(http::verb::get, "/control/report", bind(&control_api::on_report));
  r.add(http::verb::get, "/control/faults", bind(&control_api::on_get_faults));
  r.add(http::verb::post, "/control/faults", bind(&control_api::on_set_faults));
  r.add(http::verb::post, "/control/business", bind(&control_api::on_business));
  r.add(http::verb::post, "/control/reset", bind(&control_api::on_reset));
  return r;
}

void control_api::finish(const net::responder& respond, control_outcome outcome) {
  if (outcome.notification && !notifier_.submit(std::move(*outcome.notification)))
    return void(respond.send_error(503, "NOTIFY_QUEUE_FULL",
                                   "state changed, but the notification queue is full"));
  respond.send_json(outcome.answer.status, outcome.answer.body);
}

void control_api::on_pay(net::request_context ctx, bool before_close) {
  pay_options options;
  if (!read_pay_options(ctx, options, true))
    return;
  auto id = ctx.path_param("id");
  auto outcome = state_.pay(id, options.amount, before_close, options.drop_notification);
  spdlog::info("paysim event=pay out_trade_no={} before_close={} drop_notification={} status={}",
               id, before_close, options.drop_notification, outcome.answer.status);
  finish(ctx.respond, std::move(outcome));
}

void control_api::on_refund(net::request_context ctx) {
  pay_options options;
  if (!read_pay_options(ctx, options, false))
    return;
  auto id = ctx.path_param("id");
  auto outcome = state_.refund(id, options.amount);
  spdlog::info("paysim event=refund out_trade_no={} status={}", id, outcome.answer.status);
  finish(ctx.respond, std::move(outcome));
}

void control_api::on_get_refund(net::request_context ctx) {
  if (auto refund = state_.refund_report(ctx.path_param("out_refund_no")))
    return void(ctx.respond.send_json(200, *refund));
  ctx.respond.send_error(404, "REFUND_NOT_FOUND", "paysim has no refund with this out_refund_no");
}

void control_api::on_resolve_refund(net::request_context ctx) {
  std::string status;
  if (!read_body(ctx, [&](strict_object& fields) {
        fields.text("status", status, true);
        if (!status.empty() && status != "SUCCESS" && status != "CLOSED")
          fields.fail("status", "must be SUCCESS or CLOSED");
      }))
    return;
  auto id = ctx.path_param("out_refund_no");
  if (!valid_out_refund_no(id))
    return void(ctx.respond.send_error(404, "REFUND_NOT_FOUND", "not an out_refund_no"));
  auto outcome = state_.resolve_refund(
      id, status == "SUCCESS" ? refund_status::success : refund_status::closed);
  spdlog::info("paysim event=refund_resolve out_trade_no={} out_refund_no={} to={} status={}",
               outcome.answer.body.value("out_trade_no", ""), id, status, outcome.answer.status);
  finish(ctx.respond, std::move(outcome));
}

void control_api::on_order(net::request_context ctx) {
  if (auto row = state_.order_report(ctx.path_param("id")))
    return void(ctx.respond.send_json(200, *row));
  ctx.respond.send_error(404, "ORDER_NOT_FOUND", "paysim never saw this out_trade_no");
}

void control_api::on_report(net::request_context ctx) {
  sim_state::report_page page;
  page.with_orders = ctx.query_param("orders").value_or("true") != "false";
  page.after = ctx.query_param("after").value_or("");
  auto limit = ctx.query_param("limit").value_or("0");
  auto [end, ec] = std::from_chars(limit.data(), limit.data() + limit.size(), page.limit);
  if (ec != std::errc{} || end != limit.data() + limit.size())
    return void(ctx.respond.send_error(400, "INVALID_REQUEST", "limit must be a count"));
  ctx.respond.send_json(200, state_.report(page, notifier_.pending()));
}

void control_api::on_get_faults(net::request_context ctx) {
  ctx.respond.send_json(200, to_json(state_.faults()));
}

void control_api::on_set_faults(net::request_context ctx) {
  auto faults = state_.faults();
  if (!read_body(ctx, [&](strict_object& fields) { read_faults(fields, faults); }))
    return;
  state_.set_faults(faults);
  spdlog::info("paysim event=faults_set faults={}", to_json(faults).dump());
  ctx.respond.send_json(200, to_json(faults));
}

void control_api::on_business(net::request_context ctx) {
  bool up = state_.business_up();
  duration down_for{0};
  if (!read_body(ctx, [&](strict_object& fields) {
        fields.flag("up", up);
        fields.span("for", down_for);
      }))
    return;
  std::optional<duration> bounded;
  if (!up && down_for > duration::zero())
    bounded = down_for;
  state_.set_business_up(up, bounded);
  spdlog::info("paysim event=business_switch up={} for={}", up, format_duration(down_for));
  ctx.respond.send_json(200, {{"up", up}});
}

void control_api::on_reset(net::request_context ctx) {
  notifier_.clear();
  state_.reset();
  spdlog::info("paysim event=reset");
  ctx.respond.send_json(200, {{"reset", true}, {"epoch", state_.epoch()}});
}

} // namespace paycoord::sim
