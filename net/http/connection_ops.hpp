#pragma once

// Connection-level helpers the session and the listener share: how a peer is
// named in logs, how a failed operation is logged, and a polite close.

#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "common/time.hpp"

namespace paycoord::net::detail {

/// The `Server` header of every answer.
inline constexpr const char* server_name = "paycoord";

/// Beast's string_view as the standard one.
inline std::string_view to_std(boost::beast::string_view text) {
  return {text.data(), text.size()};
}

/// "1.2.3.4:5" or "[::1]:5".
std::string endpoint_text(const boost::asio::ip::tcp::endpoint& endpoint);

/// Logs a failed operation. Peers that leave or stall are routine and only
/// logged at debug; anything else deserves a look.
void log_failure(std::string_view listener, const boost::asio::ip::tcp::endpoint& remote,
                 boost::beast::error_code ec, std::string_view what);

/// Half-closes `stream`, then reads and drops what the peer still sends (at
/// most `budget` bytes, for at most `linger`, capped at 2 s) before closing.
/// Closing a socket with unread input makes the kernel send RST, which can
/// destroy an answer the client has not read yet. `owner` keeps `stream` alive.
void linger_close(boost::beast::tcp_stream& stream, std::shared_ptr<void> owner,
                  std::size_t budget, duration linger);

} // namespace paycoord::net::detail
