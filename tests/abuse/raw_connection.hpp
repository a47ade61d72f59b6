#pragma once

// A TCP client that sends whatever bytes a test wants, as slowly or as badly
// as it wants, and reads back HTTP responses: plain POSIX sockets, so that a
// test can hold thousands of them (no io_context per connection).

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

namespace paycoord::testing {

using http_answer = boost::beast::http::response<boost::beast::http::string_body>;

/// One client connection to 127.0.0.1. Non-blocking underneath; every call
/// takes a bound on how long it may wait. Not thread-safe; movable.
class raw_connection {
public:
  using clock = std::chrono::steady_clock;
  using milliseconds = std::chrono::milliseconds;

  /// How a read ended.
  enum class read_end {
    answer,  ///< a complete response was read
    closed,  ///< the server closed (FIN or RST) before a complete response
    timeout, ///< nothing conclusive within the bound
  };

  raw_connection() = default;

  /// Starts connecting to 127.0.0.1:`port` from the loopback address `from`
  /// (any of 127.0.0.0/8; nullptr: the kernel's choice) without waiting; see
  /// `await_connected`. `ok()` is false when the socket could not be made.
  raw_connection(std::uint16_t port, const char* from = nullptr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0)
      return;
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (from != nullptr) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      ::inet_pton(AF_INET, from, &local.sin_addr);
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
        close();
        return;
      }
    }
    sockaddr_in remote{};
    remote.sin_family = AF_INET;
    remote.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0
        && errno != EINPROGRESS)
      close();
  }

  ~raw_connection() {
    close();
  }

  raw_connection(raw_connection&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), buffer_(std::move(other.buffer_)) {
  }

  raw_connection& operator=(raw_connection&& other) noexcept {
    if (this != &other) {
      close();
      fd_ = std::exchange(other.fd_, -1);
      buffer_ = std::move(other.buffer_);
    }
    return *this;
  }

  bool ok() const {
    return fd_ >= 0;
  }

  int fd() const {
    return fd_;
  }

  /// Waits until the connect finished; false when it failed or took longer.
  bool await_connected(milliseconds bound = milliseconds{3000}) {
    if (!wait_for(POLLOUT, clock::now() + bound))
      return false;
    int error = 0;
    socklen_t size = sizeof error;
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &size);
    return error == 0;
  }

  /// Writes all of `bytes`; false when the connection broke (the server
  /// closed it: EPIPE, ECONNRESET) or the bound passed first.
  bool send(std::string_view bytes, milliseconds bound = milliseconds{5000}) {
    auto deadline = clock::now() + bound;
    while (!bytes.empty()) {
      auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n > 0) {
        bytes.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!wait_for(POLLOUT, deadline))
          return false;
        continue;
      }
      if (n < 0 && errno == EINTR)
        continue;
      return false;
    }
    return true;
  }

  /// Writes what the socket takes now, without waiting; returns how many
  /// bytes, or -1 when the connection broke.
  long send_some(std::string_view bytes) {
    auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n >= 0)
      return n;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
  }

  /// Reads one response into `answer` within `bound`.
  read_end read(http_answer& answer, milliseconds bound = milliseconds{5000}) {
    return read_until(answer, clock::now() + bound);
  }

  /// As `read`, with an absolute deadline.
  read_end read_until(http_answer& answer, clock::time_point deadline) {
    namespace http = boost::beast::http;
    http::response_parser<http::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    parser.eager(true);
    for (;;) {
      while (!buffer_.empty()) {
        boost::beast::error_code ec;
        auto used = parser.put(boost::asio::buffer(buffer_), ec);
        buffer_.erase(0, used);
        if (ec == http::error::need_more)
          break;
        if (ec)
          return read_end::closed; // not HTTP: as good as no answer
        if (parser.is_done()) {
          answer = parser.release();
          return read_end::answer;
        }
        if (used == 0)
          break;
      }
      switch (fill(deadline)) {
        case fill_result::data:
          continue;
        case fill_result::timeout:
          return read_end::timeout;
        case fill_result::closed: {
          // Beast's put_eof on a parser that got nothing completes an empty
          // "200" response (its state is nothing_yet, not start_line).
          if (!parser.got_some())
            return read_end::closed;
          boost::beast::error_code ec;
          parser.put_eof(ec);
          if (!ec && parser.is_done()) {
            answer = parser.release();
            return read_end::answer;
          }
          return read_end::closed;
        }
      }
    }
  }

  /// Reads (and drops) until the server closes: `closed`, or `timeout`
  /// when it keeps the connection past `bound`.
  read_end await_closed(milliseconds bound) {
    auto deadline = clock::now() + bound;
    for (;;) {
      buffer_.clear();
      switch (fill(deadline)) {
        case fill_result::data:
          continue;
        case fill_result::timeout:
          return read_end::timeout;
        case fill_result::closed:
          return read_end::closed;
      }
    }
  }

  /// Whether the server has closed (or sent something) by now, without
  /// waiting: readable means either.
  bool readable() const {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1;
  }

  /// Bytes received and not yet parsed.
  const std::string& pending() const {
    return buffer_;
  }

  void close() {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = -1;
  }

private:
  enum class fill_result { data, closed, timeout };

  bool wait_for(short events, clock::time_point deadline) {
    for (;;) {
      auto left = std::chrono::duration_cast<milliseconds>(deadline - clock::now()).count();
      if (left < 0)
        return false;
      pollfd p{fd_, events, 0};
      int r = ::poll(&p, 1, static_cast<int>(left));
      if (r > 0)
        return true;
      if (r == 0)
        return false;
      if (errno != EINTR)
        return false;
    }
  }

  fill_result fill(clock::time_point deadline) {
    char chunk[16 * 1024];
    for (;;) {
      auto n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n > 0) {
        buffer_.append(chunk, static_cast<std::size_t>(n));
        return fill_result::data;
      }
      if (n == 0)
        return fill_result::closed;
      if (errno == EINTR)
        continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        return fill_result::closed; // ECONNRESET: the server closed abruptly
      if (!wait_for(POLLIN, deadline))
        return fill_result::timeout;
    }
  }

  int fd_ = -1;
  std::string buffer_;
};

} // namespace paycoord::testing
