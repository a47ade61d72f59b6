#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <nlohmann/json_fwd.hpp>

#include "common/expected.hpp"
#include "common/time.hpp"
#include "net/router.hpp"

namespace paycoord::net {

using http_request = boost::beast::http::request<boost::beast::http::string_body>;
using http_response = boost::beast::http::response<boost::beast::http::string_body>;

namespace detail {
class reply_slot;
class session;
class listener;
struct server_state;
} // namespace detail

// -- responses ----------------------------------------------------------------------

/// `{"code": code, "message": message}` with the given status, Content-Type
/// application/json, Content-Length and `Server: paycoord`. Invalid UTF-8 in
/// `message` is replaced, never thrown about.
http_response json_error(unsigned status, std::string_view code, std::string_view message,
                         unsigned version = 11, bool keep_alive = true);

/// `body` serialized as JSON, with the same headers as `json_error`.
http_response json_response(unsigned status, const nlohmann::json& body, unsigned version = 11,
                            bool keep_alive = true);

/// Answers one request. Copyable and safe to call from any thread (e.g. a CAF
/// actor); only the first call of all copies counts. Sending posts the
/// response onto the connection's strand, which sets its version, keep-alive,
/// `Server` header and Content-Length, and writes it in request order.
///
/// If the connection is gone the response is dropped. If every copy is
/// destroyed without a call, the client gets 500 INTERNAL; if no call comes
/// within `http_server_options::handler_timeout`, 504 TIMEOUT (a later call is
/// then dropped). A responder must not outlive the io_context.
class responder {
public:
  /// An inert responder: `send` returns false (for default-constructed
  /// message types); the server hands out live ones.
  responder() = default;

  /// Sends `response`. Returns true if this was the first call of all copies
  /// (which does not promise that the client is still there), false if a
  /// response was already sent.
  bool send(http_response response) const;

  /// `send(json_response(status, body))`.
  bool send_json(unsigned status, const nlohmann::json& body) const;

  /// `send(json_error(status, code, message))`.
  bool send_error(unsigned status, std::string_view code, std::string_view message) const;

  /// Whether some copy was already called.
  bool answered() const noexcept;

private:
  friend class detail::session;
  explicit responder(std::shared_ptr<detail::reply_slot> slot);

  std::shared_ptr<detail::reply_slot> slot_;
};

/// Everything a handler gets for one request.
struct request_context {
  http_request request;
  /// Decoded `{name}` segments of the route pattern (or `router::rest_param`).
  param_map path_params;
  /// Decoded query parameters.
  param_map query;
  boost::asio::ip::tcp::endpoint remote;
  responder respond;

  /// The path parameter `name`, or "" when the route has none of that name.
  std::string_view path_param(std::string_view name) const;

  /// The query parameter `name`, or nullopt when the target has none.
  std::optional<std::string_view> query_param(std::string_view name) const;
};

// -- server -------------------------------------------------------------------------

/// Limits and timeouts of one listener; every one has a default.
struct http_server_options {
  /// For logs: "public", "admin", "metrics".
  std::string name = "http";
  std::string address = "127.0.0.1";
  /// 0 picks a free port (see `http_server::port`).
  std::uint16_t port = 0;
  /// Request line plus header fields, in bytes; over it the answer is 431.
  std::size_t header_limit = 8 * 1024;
  /// Body limit of routes that set none, and of requests that match no route.
  std::size_t default_body_limit = 64 * 1024;
  /// A body over its limit gets 413; up to this many of its bytes are read and
  /// dropped so that the client gets to read the answer, beyond that the
  /// server answers and closes.
  std::size_t discard_limit = 1024 * 1024;
  /// From the first byte of a request to its last.
  duration read_timeout{10'000};
  /// Waiting for the next request on a keep-alive connection.
  duration idle_timeout{30'000};
  /// Writing one response.
  duration write_timeout{10'000};
  /// From a request's dispatch to its handler's answer; then 504 TIMEOUT.
  duration handler_timeout{30'000};
  /// Requests of one connection that may be read ahead of their answers.
  std::size_t pipeline_limit = 8;
  /// Open connections; beyond it a new one gets 503 and is closed.
  std::size_t max_connections = 1024;
  /// Open connections from one client address (CONTRACTS.md §8), so that one
  /// client holding idle connections cannot lock the others out; beyond it a
  /// new one from that address gets 503 and is closed. 0: no such limit.
  std::size_t max_connections_per_address = 256;
};

/// Plain counters for metrics; read them with relaxed loads.
struct http_server_counters {
  std::atomic<std::uint64_t> connections_open{0};
  std::atomic<std::uint64_t> connections_total{0};
  std::atomic<std::uint64_t> connections_rejected{0};
  /// Of those, rejected by the per-address limit.
  std::atomic<std::uint64_t> connections_rejected_per_address{0};
  std::atomic<std::uint64_t> requests_total{0};
  /// Answers the server gave because a handler did not: 500 for a dropped
  /// responder or a thrown exception, 504 for a handler timeout.
  std::atomic<std::uint64_t> handler_failures{0};
};

/// An HTTP/1.1 (and 1.0) server on one address:port, running on an io_context
/// that the caller owns and runs on its own threads. Each connection is a
/// session on its own strand; handlers run there and answer via `responder`.
/// Destroy the server before its io_context.
class http_server {
public:
  /// Binds and listens on `options.address:options.port` and starts accepting
  /// on `io`. Returns the reason when the options are unusable or the address
  /// cannot be bound.
  static expected<std::unique_ptr<http_server>, std::string>
  start(boost::asio::io_context& io, http_server_options options, router routes);

  /// Stops accepting (as `stop`); sessions still open finish on the io_context.
  ~http_server();

  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// The bound port (the chosen one when `options.port` was 0).
  std::uint16_t port() const noexcept;

  /// Graceful stop; thread-safe and idempotent. Stops accepting, lets requests
  /// already being read or handled finish (their answers carry `Connection:
  /// close`), and closes idle connections. Returns at once.
  void stop();

  /// Blocks until no connection is open or `timeout` passes; returns whether
  /// none is open. Never call it on a thread that runs the io_context.
  bool wait_idle(duration timeout);

  const http_server_counters& counters() const noexcept;

private:
  http_server(std::shared_ptr<detail::server_state> state,
              std::shared_ptr<detail::listener> listener, std::uint16_t port);

  std::shared_ptr<detail::server_state> state_;
  std::shared_ptr<detail::listener> listener_;
  std::uint16_t port_;
};

} // namespace paycoord::net
