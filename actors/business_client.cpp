#include "actors/business_client.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <utility>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "actors/blocking_pool.hpp"
#include "net/callback_signature.hpp"

namespace paycoord {

std::string callback_body(const forward_request& request) {
  nlohmann::ordered_json body{
    {"event", "order.paid"},
    {"out_trade_no", request.out_trade_no},
    {"transaction_id", request.transaction_id},
    {"amount",
     {{"total", request.total},
      {"payer_total", request.payer_total},
      {"currency", request.currency}}},
    {"paid_at", format_rfc3339(from_unix_ms(request.paid_at_ms))},
    {"late", request.late},
  };
  return body.dump();
}

business_client::business_client(business_config config, std::function<timestamp()> now,
                                 net::http_client_options http)
    : config_(std::move(config)),
      now_(now ? std::move(now) : [] { return wall_clock::now(); }),
      http_(std::move(http)) {
}

forward_result business_client::deliver(const forward_request& request) {
  auto body = callback_body(request);
  auto unix_seconds = std::chrono::duration_cast<std::chrono::seconds>(
                        now_().time_since_epoch())
                        .count();
  auto signed_at = std::to_string(unix_seconds);
  net::outbound_request http_request;
  http_request.method = "POST";
  http_request.url = config_.callback_url;
  http_request.headers = {
    {"Content-Type", "application/json"},
    {"Idempotency-Key", request.out_trade_no},
    {"X-Paycoord-Timestamp", signed_at},
    {"X-Paycoord-Signature", net::callback_signature(config_.secret, signed_at, body)},
  };
  http_request.body = std::move(body);

  forward_result result;
  auto started = std::chrono::steady_clock::now();
  auto response = http_.send(http_request);
  result.latency_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
  if (!response) {
    result.error = std::string{net::to_string(response.error().code)} + ": "
                   + response.error().message;
  } else {
    result.status = response->status;
    result.acked = result.status >= 200 && result.status <= 299;
    if (!result.acked)
      result.error = "HTTP " + std::to_string(result.status);
  }
  spdlog::log(result.acked ? spdlog::level::info : spdlog::level::warn,
              "event=business_callback out_trade_no={} late={} status={} acked={} "
              "latency_ms={} error=\"{}\"",
              request.out_trade_no, request.late, result.status, result.acked,
              result.latency_ms, result.error);
  return result;
}

caf::actor spawn_business_pool(caf::actor_system& system, business_pool_config config) {
  config.http.timeout = config.business.timeout;
  auto workers = static_cast<size_t>(std::max(config.business.concurrency, 1));
  auto m = config.metrics;
  auto make_executor = [config, m] {
    auto client = std::make_shared<business_client>(config.business, config.now,
                                                    config.http);
    return caf::message_handler{
      [client, m](forward_atom, const forward_request& x) {
        auto r = client->deliver(x);
        if (m)
          m->business_callback(r.acked         ? business_outcome::acked
                               : r.status != 0 ? business_outcome::rejected
                                               : business_outcome::no_answer,
                               r.latency_ms);
        return r;
      },
    };
  };
  auto refusals = [](const std::string& reason) {
    forward_result refused;
    refused.error = reason;
    return caf::message_handler{
      [=](forward_atom, const forward_request&) { return refused; },
    };
  };
  auto on_refused = [m](const caf::message&) {
    if (m)
      m->business_callback(business_outcome::refused, 0);
  };
  return spawn_blocking_pool(system, {.name = "business",
                                      .workers = workers,
                                      .queue_limit = config.queue_limit,
                                      .make_executor = std::move(make_executor),
                                      .refusals = std::move(refusals),
                                      .on_refused = std::move(on_refused),
                                      .is_urgent = {}});
}

} // namespace paycoord
