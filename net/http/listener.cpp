#include "net/http/listener.hpp"

#include <chrono>
#include <string_view>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/write.hpp>
#include <spdlog/spdlog.h>

#include "net/http/connection_ops.hpp"
#include "net/http/session.hpp"

namespace paycoord::net::detail {

listener::listener(asio::io_context& io, std::shared_ptr<server_state> server)
  : io_(io),
    server_(std::move(server)),
    acceptor_(asio::make_strand(io)),
    retry_timer_(acceptor_.get_executor()) {
}

std::optional<std::string> listener::open(const tcp::endpoint& endpoint) {
  beast::error_code ec;
  auto failed = [&](std::string_view what) {
    return std::string{what} + " " + endpoint_text(endpoint) + ": " + ec.message();
  };
  acceptor_.open(endpoint.protocol(), ec);
  if (ec)
    return failed("open");
  acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec)
    return failed("set_option");
  acceptor_.bind(endpoint, ec);
  if (ec)
    return failed("bind");
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return failed("listen");
  return std::nullopt;
}

std::uint16_t listener::port() const {
  beast::error_code ignored;
  return acceptor_.local_endpoint(ignored).port();
}

void listener::run() {
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] { self->do_accept(); });
}

void listener::close() {
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    beast::error_code ignored;
    self->acceptor_.close(ignored);
    self->retry_timer_.cancel();
  });
}

void listener::do_accept() {
  // Each connection gets its own strand.
  acceptor_.async_accept(asio::make_strand(io_),
                         beast::bind_front_handler(&listener::on_accept, shared_from_this()));
}

void listener::on_accept(beast::error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !acceptor_.is_open())
    return;
  if (ec) {
    // E.g. out of file descriptors: wait a little instead of spinning.
    spdlog::warn("http event=accept_failed listener={} error=\"{}\"", server_->options.name,
                 ec.message());
    retry_timer_.expires_after(std::chrono::milliseconds(100));
    retry_timer_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
      if (!wait_ec)
        self->do_accept();
    });
    return;
  }
  if (server_->stopping.load()) {
    beast::error_code ignored;
    socket.close(ignored);
    return;
  }
  beast::error_code ignored;
  auto remote = socket.remote_endpoint(ignored);
  const auto& o = server_->options;
  if (server_->counters.connections_open.load() >= o.max_connections)
    reject(std::move(socket), "connection_cap", o.max_connections);
  else if (o.max_connections_per_address > 0
           && server_->connections_from(remote.address()) >= o.max_connections_per_address)
    reject(std::move(socket), "per_address_cap", o.max_connections_per_address);
  else
    std::make_shared<session>(std::move(socket), server_)->run();
  do_accept();
}

void listener::reject(tcp::socket socket, const char* reason, std::size_t cap) {
  server_->counters.connections_rejected.fetch_add(1);
  if (std::string_view{reason} == "per_address_cap")
    server_->counters.connections_rejected_per_address.fetch_add(1);
  beast::error_code ignored;
  spdlog::warn("http event=connection_rejected listener={} remote={} reason={} cap={}",
               server_->options.name, endpoint_text(socket.remote_endpoint(ignored)), reason,
               cap);
  struct rejection {
    beast::tcp_stream stream;
    http_response response;
  };
  auto r = std::make_shared<rejection>(rejection{
      beast::tcp_stream{std::move(socket)},
      json_error(503, "TOO_MANY_CONNECTIONS", "too many connections, retry later", 11, false)});
  r->stream.expires_after(server_->options.write_timeout);
  http::async_write(r->stream, r->response,
                    [r, budget = server_->options.discard_limit,
                     linger = server_->options.read_timeout](beast::error_code ec, std::size_t) {
                      if (!ec)
                        linger_close(r->stream, r, budget, linger);
                    });
}

} // namespace paycoord::net::detail
