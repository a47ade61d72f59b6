#pragma once

// Accepts connections on its own strand, applies the connection caps, and
// starts a session for each connection it admits.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>

#include "net/http/server_state.hpp"

namespace paycoord::net::detail {

class listener : public std::enable_shared_from_this<listener> {
public:
  listener(boost::asio::io_context& io, std::shared_ptr<server_state> server);

  /// Binds and listens; returns the reason on failure.
  std::optional<std::string> open(const boost::asio::ip::tcp::endpoint& endpoint);

  std::uint16_t port() const;

  void run();

  /// Thread-safe.
  void close();

private:
  void do_accept();
  void on_accept(boost::beast::error_code ec, boost::asio::ip::tcp::socket socket);

  /// Over a connection cap: a 503 and a close, never a session.
  void reject(boost::asio::ip::tcp::socket socket, const char* reason, std::size_t cap);

  boost::asio::io_context& io_;
  const std::shared_ptr<server_state> server_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;
};

} // namespace paycoord::net::detail
