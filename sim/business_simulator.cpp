#include "sim/business_simulator.hpp"

#include <charconv>
#include <cstdlib>

#include <boost/beast/http/field.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "net/callback_signature.hpp"
#include "sim/run_after.hpp"

namespace paycoord::sim {

namespace http = boost::beast::http;
using json = nlohmann::json;

namespace {

/// Keys are an out_trade_no (6 to 32 characters) or `{out_refund_no}:{event}`
/// (at most 64 + 1 + 16); a little slack.
constexpr std::size_t max_key_bytes = 96;

/// Whether `text` is unix seconds within `max_skew` of now.
bool fresh_timestamp(std::string_view text, duration max_skew) {
  int64_t seconds = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty() || text.size() > 12)
    return false;
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 wall_clock::now().time_since_epoch())
                 .count();
  return std::llabs(now - seconds) * 1000 <= max_skew.count();
}

std::optional<business_callback> parse_callback(std::string_view key, std::string_view body) {
  auto doc = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object())
    return std::nullopt;
  business_callback callback;
  callback.idempotency_key = key;
  auto text = [&](const char* name) {
    auto it = doc.find(name);
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string{};
  };
  callback.event = text("event");
  callback.out_trade_no = text("out_trade_no");
  callback.transaction_id = text("transaction_id");
  callback.out_refund_no = text("out_refund_no");
  callback.refund_id = text("refund_id");
  if (auto amount = doc.find("amount"); amount != doc.end() && amount->is_object()) {
    auto money = [&](const char* name, std::optional<int64_t>& out) {
      if (auto it = amount->find(name); it != amount->end() && it->is_number_integer())
        out = it->get<int64_t>();
    };
    money("total", callback.total);
    money("refund", callback.refund);
  }
  if (auto late = doc.find("late"); late != doc.end() && late->is_boolean())
    callback.late = late->get<bool>();
  return callback;
}

} // namespace

business_simulator::business_simulator(options opts, sim_state& state, boost::asio::io_context& io)
  : options_(std::move(opts)), state_(state), io_(io) {
}

net::router business_simulator::routes() {
  net::router r;
  r.add(http::verb::post, options_.path,
        [this](net::request_context ctx) { on_callback(std::move(ctx)); });
  return r;
}

void business_simulator::on_callback(net::request_context ctx) {
  const auto& request = ctx.request;
  std::string key{request["Idempotency-Key"]};
  if (key.empty() || key.size() > max_key_bytes)
    return void(ctx.respond.send_error(400, "INVALID_REQUEST",
                                       "Idempotency-Key is missing or longer than 96 bytes"));

  auto gate = state_.open_business_request(key);
  auto answer = [this, respond = ctx.respond, latency = gate.latency](unsigned status,
                                                                      json body) {
    run_after(io_, latency, [respond, status, body = std::move(body)] {
      respond.send_json(status, body);
    });
  };
  auto error_body = [](std::string_view code, std::string_view message) {
    return json{{"code", code}, {"message", message}};
  };
  if (gate.down) {
    spdlog::info("paysim event=business_down key={}", key);
    return answer(503, error_body("UNAVAILABLE", "business server is down (fault injected)"));
  }
  std::string timestamp{request["X-Paycoord-Timestamp"]};
  if (!fresh_timestamp(timestamp, options_.max_clock_skew)
      || !net::verify_callback_signature(options_.secret, timestamp, request.body(),
                                         std::string{request["X-Paycoord-Signature"]})) {
    state_.count_bad_hmac(key);
    spdlog::warn("paysim event=business_bad_signature key={}", key);
    return answer(401, error_body("BAD_SIGNATURE", "timestamp or HMAC signature is invalid"));
  }
  if (state_.draw_business_error())
    return answer(500, error_body("INTERNAL", "business server error (fault injected)"));
  auto callback = parse_callback(key, request.body());
  if (!callback)
    return answer(400, error_body("INVALID_REQUEST", "body is not a JSON object"));
  // A body without `event` is an order.paid, as before refunds existed.
  if (!callback->event.empty() && callback->event != "order.paid"
      && !refund_callback_event_from(callback->event))
    return answer(400, error_body("INVALID_REQUEST",
                                  "event must be order.paid, refund.succeeded, refund.closed or "
                                  "refund.abnormal"));
  bool first = state_.record_delivery(*callback);
  spdlog::info("paysim event=business_delivery key={} event={} duplicate={} late={}", key,
               callback->event.empty() ? "order.paid" : callback->event, !first,
               callback->late);
  answer(200, {{"ok", true}, {"duplicate", !first}});
}

} // namespace paycoord::sim
