#pragma once

// One connection: reads requests (session_read.cpp), dispatches them to the
// router's handlers, enforces the handler deadline, and writes the answers in
// request order (session.cpp).

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>

#include "net/http/reply_slot.hpp"
#include "net/http/server_state.hpp"
#include "net/http_server.hpp"
#include "net/router.hpp"

namespace paycoord::net::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using steady_clock = std::chrono::steady_clock;

// -- session ------------------------------------------------------------------------------

/// One connection. Every member function runs on the connection's strand,
/// except `executor`. Reads run ahead of the answers up to
/// `pipeline_limit`; answers are written strictly in request order.
class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket&& socket, std::shared_ptr<server_state> server);
  ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  /// Thread-safe: the strand never changes.
  const asio::any_io_executor& executor() const noexcept {
    return strand_;
  }

  /// Called by the listener, off the strand: registering here (not in
  /// `start`) counts the connection before the next accept checks the cap.
  void run();

  /// The server stops: read no new request, finish those begun, then close.
  void on_stop();

  /// A response from a reply slot (posted onto the strand).
  void on_reply(std::uint64_t seq, http_response response, reply_origin origin);

private:
  enum class read_phase {
    none,
    /// Waiting for the first byte of the next request.
    idle,
    /// Reading a request's header or body.
    request,
    /// Dropping the body of a request answered 413.
    discard,
  };

  /// A request read and not yet answered, in request order.
  struct pending_reply {
    std::uint64_t seq;
    std::optional<http_response> response;
    steady_clock::time_point received;
    /// When the server answers 504 for the handler.
    steady_clock::time_point deadline;
    unsigned version;
    bool keep_alive;
    bool head;
    std::string method;
    std::string path;
  };

  // -- reading ----------------------------------------------------------------------------

  void start();
  void do_read();
  void on_idle_read(beast::error_code ec, std::size_t n);
  void read_header();
  void on_header(beast::error_code ec, std::size_t);
  bool expects_continue() const;

  /// Lets a client that waits for permission send its body now rather than
  /// after its own timeout. Only when nothing else is being written, because
  /// answers go out in request order.
  void send_continue();

  /// The body is over the route's limit: answer 413, and keep the connection
  /// usable by dropping the body when it is small enough to read.
  void reject_body(std::uint64_t length, std::size_t limit);
  void discard_body();
  void on_discard(beast::error_code ec, std::size_t n);
  void on_body(beast::error_code ec, std::size_t);
  void on_read_error(beast::error_code ec, std::string_view what);

  // -- dispatching ------------------------------------------------------------------------

  static std::string path_of(const http_request& request);
  pending_reply& enqueue(const http_request& request, steady_clock::time_point deadline);

  /// Answers a request the router cannot serve, or nullopt when it can.
  std::optional<http_response> routing_error(const http_request& request) const;
  void dispatch(http_request request);
  void handler_threw(reply_slot& slot, std::string_view what);

  // -- handler deadline --------------------------------------------------------------------

  /// Keeps one timer wait for the earliest unanswered request. The wait also
  /// keeps the session alive while only responders refer to it.
  void arm_handler_timer();
  void on_handler_timer(beast::error_code);

  // -- writing -----------------------------------------------------------------------------

  void respond_and_close(unsigned status, std::string_view code, std::string message);

  /// Sets what the server owns in every response: version, keep-alive,
  /// `Server`, Content-Length; a HEAD answer keeps the length, not the body.
  void finalize(pending_reply& entry);
  void maybe_write();
  void on_write(beast::error_code ec, std::size_t);

  // -- closing -----------------------------------------------------------------------------

  /// Closes once closing and nothing is left to answer.
  void maybe_finish();

  /// Polite close after the last answer (see `linger_close`).
  void linger();

  /// Abrupt close, after an error or a timeout.
  void close();
  void mark_closed();
  const std::shared_ptr<server_state> server_;
  const http_server_options& options_;
  beast::tcp_stream stream_;
  const asio::any_io_executor strand_;
  tcp::endpoint remote_;
  std::uint64_t id_ = 0;
  bool registered_ = false;

  // The request being read.
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  read_phase reading_ = read_phase::none;
  steady_clock::time_point request_deadline_;
  route_match route_;
  std::optional<param_map> query_;
  std::size_t discard_left_ = 0;
  bool idle_read_unbounded_ = false;
  bool rearm_idle_read_ = false;

  // Requests read and not yet answered, oldest first.
  std::deque<pending_reply> replies_;
  std::uint64_t next_seq_ = 0;
  bool writing_ = false;
  asio::steady_timer handler_timer_;
  int handler_waits_ = 0;

  /// No further request is read; close once the pending ones are answered.
  bool closing_ = false;
  /// The socket is closed or lingering; nothing more happens.
  bool closed_ = false;
};

} // namespace paycoord::net::detail
