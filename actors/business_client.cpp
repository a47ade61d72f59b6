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

std::string callback_body(const refund_delivery& request) {
  nlohmann::ordered_json body{
    {"event", request.event},
    {"out_trade_no", request.out_trade_no},
    {"out_refund_no", request.out_refund_no},
    {"refund_id", request.refund_id},
    {"amount",
     {{"refund", request.refund}, {"total", request.total}, {"currency", request.currency}}},
    {"succeeded_at", request.succeeded_at_ms > 0
                       ? nlohmann::ordered_json(format_rfc3339(from_unix_ms(request.succeeded_at_ms)))
                       : nlohmann::ordered_json(nullptr)},
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
  auto result = post(callback_body(request), request.out_trade_no);
  spdlog::log(result.acked ? spdlog::level::info : spdlog::level::warn,
              "event=business_callback out_trade_no={} late={} status={} acked={} "
              "latency_ms={} error=\"{}\"",
              request.out_trade_no, request.late, result.status, result.acked,
              result.latency_ms, result.error);
  return result;
}

forward_result business_client::deliver(const refund_delivery& request) {
  auto result = post(callback_body(request), request.out_refund_no + ":" + request.event);
  spdlog::log(result.acked ? spdlog::level::info : spdlog::level::warn,
              "event=business_callback out_trade_no={} out_refund_no={} callback={} status={} "
              "acked={} latency_ms={} error=\"{}\"",
              request.out_trade_no, request.out_refund_no, request.event, result.status,
              result.acked, result.latency_ms, result.error);
  return result;
}

forward_result business_client::post(std::string body, const std::string& idempotency_key) {
  auto unix_seconds = std::chrono::duration_cast<std::chrono::seconds>(
                        now_().time_since_epoch())
                        .count();
  auto signed_at = std::to_string(unix_seconds);
  net::outbound_request http_request;
  http_request.method = "POST";
  http_request.url = config_.callback_url;
  http_request.headers = {
    {"Content-Type", "application/json"},
    {"Idempotency-Key", idempotency_key},
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
  return result;
}

caf::actor spawn_business_pool(caf::actor_system& system, business_pool_config config) {
  config.http.timeout = config.business.timeout;
  auto workers = static_cast<size_t>(std::max(config.business.concurrency, 1));
  auto m = config.metrics;
  auto make_executor = [config, m] {
    auto client = std::make_shared<business_client>(config.business, config.now,
                                                    config.http);
    auto counted = [m](forward_result r) {
      if (m)
        m->business_callback(r.acked         ? business_outcome::acked
                             : r.status != 0 ? business_outcome::rejected
                                             : business_outcome::no_answer,
                             r.latency_ms);
      return r;
    };
    return caf::message_handler{
      [client, counted](forward_atom, const forward_request& x) {
        return counted(client->deliver(x));
      },
      [client, counted](forward_atom, const refund_delivery& x) {
        return counted(client->deliver(x));
      },
    };
  };
  auto refusals = [](const std::string& reason) {
    forward_result refused;
    refused.error = reason;
    return caf::message_handler{
      [=](forward_atom, const forward_request&) { return refused; },
      [=](forward_atom, const refund_delivery&) { return refused; },
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
