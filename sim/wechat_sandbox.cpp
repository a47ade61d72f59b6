#include "sim/wechat_sandbox.hpp"

#include <cctype>

#include <boost/beast/http/field.hpp>
#include <spdlog/spdlog.h>

#include "common/json_input.hpp"
#include "net/wechatpay/authorization.hpp"
#include "net/wechatpay/models.hpp"
#include "sim/run_after.hpp"

namespace paycoord::sim {

namespace http = boost::beast::http;

namespace {

/// A certificate serial as a hex number: upper case, no leading zeros.
std::string serial_key(std::string_view serial) {
  std::string result;
  for (char c : serial)
    if (!result.empty() || c != '0')
      result += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return result;
}

sim_answer bad_request(const wechatpay::protocol_error& error) {
  return {400, {{"code", "PARAM_ERROR"}, {"message", error.message()}}};
}

/// `answer` with `message` replaced when it is an error and `message` is set.
void override_message(sim_answer& answer, const std::string& message) {
  if (answer.status >= 400 && !message.empty() && answer.body.is_object())
    answer.body["message"] = message;
}

net::http_response to_response(const sim_answer& answer) {
  if (answer.status == 204) {
    net::http_response response{http::status::no_content, 11};
    return response;
  }
  return net::json_response(answer.status, answer.body);
}

} // namespace

wechat_sandbox::wechat_sandbox(options opts, wechatpay::public_key merchant_key,
                               const sandbox_signer& signer, sim_state& state,
                               notifier& notifications, boost::asio::io_context& io)
  : options_(std::move(opts)),
    merchant_key_(std::move(merchant_key)),
    signer_(signer),
    state_(state),
    notifier_(notifications),
    io_(io),
    refund_timers_(io) {
}

void wechat_sandbox::stop() {
  refund_timers_.cancel_all();
}

net::router wechat_sandbox::routes() {
  net::router r;
  r.add(http::verb::post, "/v3/pay/transactions/jsapi",
        [this](net::request_context ctx) { on_prepay(std::move(ctx)); });
  r.add(http::verb::get, "/v3/pay/transactions/out-trade-no/{out_trade_no}",
        [this](net::request_context ctx) { on_query(std::move(ctx)); });
  r.add(http::verb::post, "/v3/pay/transactions/out-trade-no/{out_trade_no}/close",
        [this](net::request_context ctx) { on_close(std::move(ctx)); });
  r.add(http::verb::post, "/v3/refund/domestic/refunds",
        [this](net::request_context ctx) { on_refund_apply(std::move(ctx)); });
  r.add(http::verb::get, "/v3/refund/domestic/refunds/{out_refund_no}",
        [this](net::request_context ctx) { on_refund_query(std::move(ctx)); });
  return r;
}

bool wechat_sandbox::authorized(const net::request_context& ctx) {
  const auto& request = ctx.request;
  std::string method{request.method_string()};
  std::string target{request.target()};
  std::string reason;
  auto auth = wechatpay::parse_authorization(std::string{request[http::field::authorization]});
  if (!auth)
    reason = auth.error().message();
  else if (auto ok = wechatpay::verify_request(merchant_key_, *auth, method, target,
                                               request.body(), wall_clock::now(),
                                               options_.max_clock_skew);
           !ok)
    reason = ok.error().message();
  else if (auth->mchid != options_.mchid)
    reason = "mchid '" + auth->mchid + "' is not this merchant";
  else if (!options_.merchant_serial_no.empty()
           && serial_key(auth->serial_no) != serial_key(options_.merchant_serial_no))
    reason = "serial_no '" + auth->serial_no + "' is not the merchant certificate's";
  if (reason.empty())
    return true;
  state_.count_bad_authorization();
  spdlog::warn("paysim event=bad_authorization method={} target={} reason=\"{}\"", method,
               target, reason);
  sim_answer answer{401, {{"code", "SIGN_ERROR"}, {"message", reason}}};
  override_message(answer, state_.api_error_message());
  net::http_response response = to_response(answer);
  signer_.sign(response, false);
  ctx.respond.send(std::move(response));
  return false;
}

void wechat_sandbox::reply(const net::responder& respond, sim_answer answer) {
  override_message(answer, state_.api_error_message());
  bool probe = state_.draw_response_probe();
  run_after(io_, state_.api_latency(), [this, respond, answer = std::move(answer), probe] {
    auto response = to_response(answer);
    signer_.sign(response, probe);
    respond.send(std::move(response));
  });
}

void wechat_sandbox::on_prepay(net::request_context ctx) {
  if (!authorized(ctx))
    return;
  auto request = wechatpay::parse_prepay_request(ctx.request.body());
  if (!request)
    return reply(ctx.respond, bad_request(request.error()));
  auto answer = state_.prepay(*request);
  spdlog::info("paysim event=prepay out_trade_no={} status={}", request->out_trade_no,
               answer.status);
  reply(ctx.respond, std::move(answer));
}

bool wechat_sandbox::answered_query_fault(const net::responder& respond) {
  switch (state_.draw_query_fault()) {
    case query_fault::server_error:
      reply(respond, {500, {{"code", "SYSTEM_ERROR"}, {"message", "fault injected"}}});
      return true;
    case query_fault::throttled:
      reply(respond, {429, {{"code", "FREQUENCY_LIMITED"}, {"message", "fault injected"}}});
      return true;
    case query_fault::none:
      break;
  }
  return false;
}

void wechat_sandbox::on_query(net::request_context ctx) {
  if (!authorized(ctx))
    return;
  auto id = std::string{ctx.path_param("out_trade_no")};
  if (answered_query_fault(ctx.respond))
    return;
  auto answer = state_.query(id, ctx.query_param("mchid").value_or(""));
  spdlog::info("paysim event=query out_trade_no={} status={} trade_state={}", id, answer.status,
               answer.body.value("trade_state", ""));
  reply(ctx.respond, std::move(answer));
}

void wechat_sandbox::on_close(net::request_context ctx) {
  if (!authorized(ctx))
    return;
  auto id = std::string{ctx.path_param("out_trade_no")};
  auto request = wechatpay::parse_close_request(ctx.request.body());
  if (!request)
    return reply(ctx.respond, bad_request(request.error()));
  auto outcome = state_.close(id, request->mchid);
  spdlog::info("paysim event=close out_trade_no={} status={} paid_by_close={}", id,
               outcome.answer.status, outcome.notification.has_value());
  if (outcome.notification)
    notifier_.submit(std::move(*outcome.notification));
  reply(ctx.respond, std::move(outcome.answer));
}

void wechat_sandbox::on_refund_apply(net::request_context ctx) {
  if (!authorized(ctx))
    return;
  const auto& body = ctx.request.body();
  // The models read WeChat's own documents leniently (the last duplicate key
  // wins); a merchant's apply is refused instead: with two `refund` keys,
  // which amount would it be asking for?
  if (auto doc = parse_json_input(body); !doc)
    return reply(ctx.respond,
                 {400, {{"code", "PARAM_ERROR"}, {"message", "body: " + doc.error().message}}});
  auto request = wechatpay::parse_refund_request(body);
  if (!request)
    return reply(ctx.respond, bad_request(request.error()));
  auto outcome = state_.apply_refund(*request);
  spdlog::info("paysim event=refund_apply out_trade_no={} out_refund_no={} refund={} status={} "
               "accepted={}",
               request->out_trade_no, request->out_refund_no, request->amount.refund,
               outcome.answer.status, outcome.timer.has_value());
  if (outcome.timer)
    start_refund_timer(std::move(*outcome.timer));
  reply(ctx.respond, std::move(outcome.answer));
}

void wechat_sandbox::on_refund_query(net::request_context ctx) {
  if (!authorized(ctx))
    return;
  auto id = std::string{ctx.path_param("out_refund_no")};
  if (!valid_out_refund_no(id))
    return reply(ctx.respond, {400,
                               {{"code", "PARAM_ERROR"},
                                {"message", "out_refund_no must be 1 to 64 characters of "
                                            "[A-Za-z0-9_|*@-]"}}});
  if (answered_query_fault(ctx.respond))
    return;
  auto answer = state_.query_refund(id);
  spdlog::info("paysim event=refund_query out_trade_no={} out_refund_no={} status={} "
               "refund_status={}",
               answer.body.value("out_trade_no", ""), id, answer.status,
               answer.body.value("status", ""));
  reply(ctx.respond, std::move(answer));
}

void wechat_sandbox::start_refund_timer(refund_timer timer) {
  auto delay = timer.delay;
  refund_timers_.run_after(delay, [this, timer = std::move(timer)] {
    auto job = state_.settle_refund(timer);
    if (!job)
      return;
    spdlog::info("paysim event=refund_resolved out_trade_no={} out_refund_no={} event_type={}",
                 job->out_trade_no, job->out_refund_no, job->event_type);
    notifier_.submit(std::move(*job));
  });
}

} // namespace paycoord::sim
