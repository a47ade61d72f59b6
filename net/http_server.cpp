#include "net/http_server.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace paycoord::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using steady_clock = std::chrono::steady_clock;

namespace {

constexpr const char* server_name = "paycoord";

/// Bytes asked for when waiting for the first byte of a request.
constexpr std::size_t first_read_bytes = 4096;

/// Upper bound on lingering before a close (see `linger_close`).
constexpr duration max_linger{2'000};

std::string_view to_std(beast::string_view text) {
  return {text.data(), text.size()};
}

std::string endpoint_text(const tcp::endpoint& endpoint) {
  auto address = endpoint.address();
  auto text = address.to_string();
  if (address.is_v6())
    text = "[" + text + "]";
  return text + ":" + std::to_string(endpoint.port());
}

/// Logs a failed operation. Peers that leave or stall are routine and only
/// logged at debug; anything else deserves a look.
void fail(std::string_view listener, const tcp::endpoint& remote, beast::error_code ec,
          std::string_view what) {
  bool routine = ec == asio::error::eof || ec == asio::error::operation_aborted
                 || ec == asio::error::connection_reset || ec == asio::error::broken_pipe
                 || ec == beast::error::timeout || ec == http::error::end_of_stream
                 || ec == http::error::partial_message;
  spdlog::log(routine ? spdlog::level::debug : spdlog::level::warn,
              "http event=fail listener={} remote={} what={} error=\"{}\"", listener,
              endpoint_text(remote), what, ec.message());
}

using scratch_buffer = std::array<char, 16 * 1024>;

void drain_then_close(beast::tcp_stream& stream, std::shared_ptr<void> owner,
                      std::shared_ptr<scratch_buffer> scratch, std::size_t budget,
                      steady_clock::time_point deadline) {
  stream.expires_at(deadline);
  stream.async_read_some(
      asio::buffer(*scratch),
      [&stream, owner = std::move(owner), scratch, budget, deadline](beast::error_code ec,
                                                                     std::size_t n) mutable {
        if (ec || n >= budget) {
          beast::error_code ignored;
          stream.socket().close(ignored);
          return;
        }
        drain_then_close(stream, std::move(owner), std::move(scratch), budget - n, deadline);
      });
}

/// Half-closes `stream`, then reads and drops what the peer still sends (at
/// most `budget` bytes, for at most `linger`) before closing. Closing a socket
/// with unread input makes the kernel send RST, which can destroy an answer
/// the client has not read yet. `owner` keeps `stream` alive.
void linger_close(beast::tcp_stream& stream, std::shared_ptr<void> owner, std::size_t budget,
                  duration linger) {
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  drain_then_close(stream, std::move(owner), std::make_shared<scratch_buffer>(), budget,
                   steady_clock::now() + std::min(linger, max_linger));
}

bool is_parse_error(beast::error_code ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category()
         && ec != http::error::end_of_stream && ec != http::error::partial_message;
}

} // namespace

// -- responses ------------------------------------------------------------------------

http_response json_response(unsigned status, const nlohmann::json& body, unsigned version,
                            bool keep_alive) {
  http_response response{static_cast<http::status>(status), version};
  response.set(http::field::server, server_name);
  response.set(http::field::content_type, "application/json");
  response.keep_alive(keep_alive);
  response.body() = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  response.prepare_payload();
  return response;
}

http_response json_error(unsigned status, std::string_view code, std::string_view message,
                         unsigned version, bool keep_alive) {
  return json_response(status, {{"code", code}, {"message", message}}, version, keep_alive);
}

// -- request context ----------------------------------------------------------------------

std::string_view request_context::path_param(std::string_view name) const {
  auto it = path_params.find(name);
  return it == path_params.end() ? std::string_view{} : std::string_view{it->second};
}

std::optional<std::string_view> request_context::query_param(std::string_view name) const {
  auto it = query.find(name);
  if (it == query.end())
    return std::nullopt;
  return std::string_view{it->second};
}

namespace detail {

// -- server state -----------------------------------------------------------------------

/// What the listener, the sessions and the `http_server` handle share; sessions
/// keep it alive after the handle is gone.
struct server_state {
  server_state(http_server_options options_in, router routes_in)
    : options(std::move(options_in)), routes(std::move(routes_in)) {
  }

  const http_server_options options;
  const router routes;
  http_server_counters counters;
  std::atomic<bool> stopping{false};

  /// Registers a new session from `address`; returns its id for
  /// `remove_session`.
  std::uint64_t add_session(std::weak_ptr<session> s, const asio::ip::address& address) {
    std::lock_guard<std::mutex> guard{mutex};
    auto id = next_session_id++;
    sessions.emplace(id, entry{std::move(s), address});
    ++per_address[address];
    counters.connections_open.fetch_add(1);
    counters.connections_total.fetch_add(1);
    return id;
  }

  void remove_session(std::uint64_t id) {
    std::lock_guard<std::mutex> guard{mutex};
    if (auto i = sessions.find(id); i != sessions.end()) {
      if (auto j = per_address.find(i->second.address); j != per_address.end() && --j->second == 0)
        per_address.erase(j);
      sessions.erase(i);
    }
    counters.connections_open.fetch_sub(1);
    idle.notify_all();
  }

  /// Open connections from `address`.
  std::size_t connections_from(const asio::ip::address& address) {
    std::lock_guard<std::mutex> guard{mutex};
    auto i = per_address.find(address);
    return i == per_address.end() ? 0 : i->second;
  }

  std::vector<std::shared_ptr<session>> live_sessions() {
    std::lock_guard<std::mutex> guard{mutex};
    std::vector<std::shared_ptr<session>> result;
    for (auto& [id, e] : sessions)
      if (auto s = e.handle.lock())
        result.push_back(std::move(s));
    return result;
  }

  bool wait_idle(duration timeout) {
    std::unique_lock<std::mutex> lock{mutex};
    return idle.wait_for(lock, timeout, [this] { return sessions.empty(); });
  }

  // The session registry: stop() reaches open sessions through it and
  // wait_idle() waits for it to empty. Guarded by `mutex`.
  std::mutex mutex;
  std::condition_variable idle;
  struct entry {
    std::weak_ptr<session> handle;
    asio::ip::address address;
  };
  std::unordered_map<std::uint64_t, entry> sessions;
  /// Open sessions per client address (erased at 0, so it stays small).
  std::map<asio::ip::address, std::size_t> per_address;
  std::uint64_t next_session_id = 0;
};

// -- reply slot -----------------------------------------------------------------------

/// Why a response reaches the session.
enum class reply_origin {
  handler,
  /// Every responder copy was destroyed unanswered.
  dropped,
  /// The handler threw.
  exception,
};

/// The state all copies of one responder share. It refers to its session
/// weakly, so a held responder does not keep a dead connection's buffers.
class reply_slot {
public:
  reply_slot(std::weak_ptr<session> owner, std::uint64_t seq)
    : session_(std::move(owner)), seq_(seq) {
  }

  reply_slot(const reply_slot&) = delete;
  reply_slot& operator=(const reply_slot&) = delete;

  /// The last copy is gone: answer 500 unless some copy answered, so that the
  /// client does not wait for the handler timeout.
  ~reply_slot() {
    if (answered_.exchange(true))
      return;
    try {
      deliver(json_error(500, "INTERNAL", "internal error"), reply_origin::dropped);
    } catch (...) {
      // Out of memory while failing a request: the handler timeout answers.
    }
  }

  bool send(http_response response, reply_origin origin) {
    if (answered_.exchange(true))
      return false;
    deliver(std::move(response), origin);
    return true;
  }

  bool answered() const noexcept {
    return answered_.load();
  }

private:
  void deliver(http_response response, reply_origin origin);

  std::atomic<bool> answered_{false};
  const std::weak_ptr<session> session_;
  const std::uint64_t seq_;
};

// -- session ------------------------------------------------------------------------------

/// One connection. Every member function runs on the connection's strand,
/// except `executor`. Reads run ahead of the answers up to
/// `pipeline_limit`; answers are written strictly in request order.
class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket&& socket, std::shared_ptr<server_state> server)
    : server_(std::move(server)),
      options_(server_->options),
      stream_(std::move(socket)),
      strand_(stream_.get_executor()),
      handler_timer_(strand_) {
    beast::error_code ignored;
    remote_ = stream_.socket().remote_endpoint(ignored);
  }

  ~session() {
    if (registered_)
      server_->remove_session(id_);
  }

  session(const session&) = delete;
  session& operator=(const session&) = delete;

  /// Thread-safe: the strand never changes.
  const asio::any_io_executor& executor() const noexcept {
    return strand_;
  }

  /// Called by the listener, off the strand: registering here (not in
  /// `start`) counts the connection before the next accept checks the cap.
  void run() {
    id_ = server_->add_session(weak_from_this(), remote_.address());
    registered_ = true;
    asio::post(strand_, [self = shared_from_this()] { self->start(); });
  }

  /// The server stops: read no new request, finish those begun, then close.
  void on_stop() {
    if (closed_)
      return;
    closing_ = true;
    maybe_finish();
  }

  /// A response from a reply slot (posted onto the strand).
  void on_reply(std::uint64_t seq, http_response response, reply_origin origin) {
    if (closed_)
      return;
    auto entry = std::find_if(replies_.begin(), replies_.end(),
                              [seq](const pending_reply& r) { return r.seq == seq; });
    // Unknown or answered: the 504 came first (and may be written already).
    if (entry == replies_.end() || entry->response)
      return;
    if (origin != reply_origin::handler) {
      server_->counters.handler_failures.fetch_add(1);
      spdlog::warn("http event=handler_failure listener={} remote={} method={} path={} "
                   "status=500 reason={}",
                   options_.name, endpoint_text(remote_), entry->method, entry->path,
                   origin == reply_origin::dropped ? "responder_dropped" : "exception");
    }
    entry->response = std::move(response);
    maybe_write();
    arm_handler_timer();
  }

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

  void start() {
    // stop() may have taken its snapshot of the registry just before we joined.
    if (server_->stopping.load())
      closing_ = true;
    if (closing_)
      return maybe_finish();
    do_read();
  }

  void do_read() {
    if (closed_ || closing_ || reading_ != read_phase::none
        || replies_.size() >= options_.pipeline_limit)
      return;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(options_.header_limit));
    // The route, found once the header is in, decides the body limit. Not
    // boost::none: Beast 1.74 compares `length > none`, which is always true.
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    if (buffer_.size() > 0)
      return read_header();
    reading_ = read_phase::idle;
    if (replies_.empty()) {
      stream_.expires_after(options_.idle_timeout);
    } else {
      // The client waits for us, so it is not idle; `on_write` re-arms this
      // read with the idle timeout once every answer is out.
      stream_.expires_never();
      idle_read_unbounded_ = true;
    }
    stream_.async_read_some(buffer_.prepare(first_read_bytes),
                            beast::bind_front_handler(&session::on_idle_read, shared_from_this()));
  }

  void on_idle_read(beast::error_code ec, std::size_t n) {
    reading_ = read_phase::none;
    idle_read_unbounded_ = false;
    bool rearm = std::exchange(rearm_idle_read_, false);
    if (closed_)
      return;
    if (closing_)
      return maybe_finish();
    if (ec == asio::error::operation_aborted && rearm)
      return do_read();
    if (ec == asio::error::eof) {
      // The client sent its last request; answer what is pending, then close.
      closing_ = true;
      return maybe_finish();
    }
    if (ec) {
      fail(options_.name, remote_, ec, "idle read");
      return close();
    }
    buffer_.commit(n);
    read_header();
  }

  void read_header() {
    reading_ = read_phase::request;
    request_deadline_ = steady_clock::now() + options_.read_timeout;
    stream_.expires_at(request_deadline_);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&session::on_header, shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t) {
    if (closed_)
      return;
    if (ec)
      return on_read_error(ec, "read header");
    const auto& request = parser_->get();
    auto target = to_std(request.target());
    auto query_start = target.find('?');
    route_ = server_->routes.find(request.method(), target.substr(0, query_start));
    query_ = query_start == std::string_view::npos
                 ? param_map{}
                 : parse_query(target.substr(query_start + 1), server_->routes.limits());
    auto limit = route_.status == route_status::found && route_.options->body_limit
                     ? *route_.options->body_limit
                     : options_.default_body_limit;
    auto length = parser_->content_length();
    if (length && *length > limit)
      return reject_body(*length, limit);
    // A chunked body over the limit fails the read below with body_limit.
    parser_->body_limit(limit);
    if (expects_continue() && replies_.empty() && !writing_)
      send_continue();
    stream_.expires_at(request_deadline_);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&session::on_body, shared_from_this()));
  }

  bool expects_continue() const {
    const auto& request = parser_->get();
    return request.version() >= 11
           && beast::iequals(request[http::field::expect], "100-continue");
  }

  /// Lets a client that waits for permission send its body now rather than
  /// after its own timeout. Only when nothing else is being written, because
  /// answers go out in request order.
  void send_continue() {
    static constexpr std::string_view line = "HTTP/1.1 100 Continue\r\n\r\n";
    writing_ = true;
    stream_.expires_after(options_.write_timeout);
    asio::async_write(stream_, asio::buffer(line.data(), line.size()),
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        self->writing_ = false;
                        if (self->closed_)
                          return;
                        if (ec) {
                          fail(self->options_.name, self->remote_, ec, "write continue");
                          return self->close();
                        }
                        self->maybe_write();
                      });
  }

  /// The body is over the route's limit: answer 413, and keep the connection
  /// usable by dropping the body when it is small enough to read.
  void reject_body(std::uint64_t length, std::size_t limit) {
    spdlog::info("http event=body_too_large listener={} remote={} path={} length={} limit={}",
                 options_.name, endpoint_text(remote_), path_of(parser_->get()), length, limit);
    // A client that awaits 100-continue will not send the body to drop.
    bool discard = length <= options_.discard_limit && !expects_continue();
    auto& entry = enqueue(parser_->get(), steady_clock::time_point::max());
    entry.keep_alive = entry.keep_alive && discard;
    entry.response = json_error(413, "PAYLOAD_TOO_LARGE",
                                "request body over " + std::to_string(limit) + " bytes");
    if (!discard) {
      closing_ = true;
      reading_ = read_phase::none;
      return maybe_write();
    }
    discard_left_ = static_cast<std::size_t>(length);
    maybe_write();
    discard_body();
  }

  void discard_body() {
    reading_ = read_phase::discard;
    auto buffered = std::min(buffer_.size(), discard_left_);
    buffer_.consume(buffered);
    discard_left_ -= buffered;
    if (discard_left_ == 0) {
      reading_ = read_phase::none;
      do_read();
      return maybe_write();
    }
    stream_.expires_at(request_deadline_);
    stream_.async_read_some(buffer_.prepare(std::min<std::size_t>(discard_left_, 64 * 1024)),
                            beast::bind_front_handler(&session::on_discard, shared_from_this()));
  }

  void on_discard(beast::error_code ec, std::size_t n) {
    if (closed_)
      return;
    if (ec) {
      reading_ = read_phase::none;
      fail(options_.name, remote_, ec, "discard body");
      return close();
    }
    buffer_.commit(n);
    discard_body();
  }

  void on_body(beast::error_code ec, std::size_t) {
    if (closed_)
      return;
    if (ec == http::error::body_limit) {
      reading_ = read_phase::none;
      // Chunked: the rest of the body cannot be skipped without parsing it.
      return respond_and_close(413, "PAYLOAD_TOO_LARGE", "request body over the limit");
    }
    if (ec)
      return on_read_error(ec, "read body");
    reading_ = read_phase::none;
    dispatch(parser_->release());
    do_read();
  }

  void on_read_error(beast::error_code ec, std::string_view what) {
    reading_ = read_phase::none;
    if (ec == http::error::header_limit)
      return respond_and_close(431, "HEADER_TOO_LARGE",
                               "request header over " + std::to_string(options_.header_limit)
                                   + " bytes");
    if (ec == http::error::end_of_stream) {
      closing_ = true;
      return maybe_finish();
    }
    if (is_parse_error(ec)) {
      spdlog::info("http event=bad_request listener={} remote={} error=\"{}\"", options_.name,
                   endpoint_text(remote_), ec.message());
      return respond_and_close(400, "BAD_REQUEST", "malformed request: " + ec.message());
    }
    fail(options_.name, remote_, ec, what);
    close();
  }

  // -- dispatching ------------------------------------------------------------------------

  static std::string path_of(const http_request& request) {
    auto target = to_std(request.target());
    return std::string{target.substr(0, target.find('?'))};
  }

  pending_reply& enqueue(const http_request& request, steady_clock::time_point deadline) {
    replies_.push_back(pending_reply{next_seq_++, std::nullopt, steady_clock::now(), deadline,
                                     request.version(), request.keep_alive(),
                                     request.method() == http::verb::head,
                                     std::string{to_std(request.method_string())},
                                     path_of(request)});
    if (!request.keep_alive())
      closing_ = true;
    return replies_.back();
  }

  /// Answers a request the router cannot serve, or nullopt when it can.
  std::optional<http_response> routing_error(const http_request& request) const {
    auto path = path_of(request);
    if (path.empty() || path.front() != '/')
      return json_error(400, "BAD_REQUEST", "the request target must be an absolute path");
    switch (route_.status) {
      case route_status::found:
        break;
      case route_status::not_found:
        return json_error(404, "NOT_FOUND", "no such resource: " + path);
      case route_status::method_not_allowed: {
        auto response = json_error(405, "METHOD_NOT_ALLOWED",
                                   std::string{to_std(request.method_string())}
                                       + " is not allowed on " + path);
        response.set(http::field::allow, route_.allow);
        return response;
      }
      case route_status::bad_param:
        return json_error(400, "INVALID_REQUEST", "malformed or oversized path parameter");
    }
    if (!query_)
      return json_error(400, "INVALID_REQUEST", "malformed or oversized query string");
    return std::nullopt;
  }

  void dispatch(http_request request) {
    server_->counters.requests_total.fetch_add(1);
    if (auto error = routing_error(request)) {
      enqueue(request, steady_clock::time_point::max()).response = std::move(*error);
      return maybe_write();
    }
    auto& entry = enqueue(request, steady_clock::now() + options_.handler_timeout);
    // Held across the call so that a throw, which destroys the handler's
    // copies while unwinding, is answered as an exception, not a drop. Once
    // released, a handler that kept no copy gets its 500 from the slot.
    auto slot = std::make_shared<reply_slot>(weak_from_this(), entry.seq);
    arm_handler_timer();
    try {
      (*route_.on_request)(request_context{std::move(request), std::move(route_.params),
                                           std::move(*query_), remote_, responder{slot}});
    } catch (const std::exception& e) {
      handler_threw(*slot, e.what());
    } catch (...) {
      handler_threw(*slot, "unknown exception");
    }
  }

  void handler_threw(reply_slot& slot, std::string_view what) {
    spdlog::error("http event=handler_exception listener={} remote={} error=\"{}\"",
                  options_.name, endpoint_text(remote_), what);
    slot.send(json_error(500, "INTERNAL", "internal error"), reply_origin::exception);
  }

  // -- handler deadline --------------------------------------------------------------------

  /// Keeps one timer wait for the earliest unanswered request. The wait also
  /// keeps the session alive while only responders refer to it.
  void arm_handler_timer() {
    if (closed_)
      return;
    auto entry = std::find_if(replies_.begin(), replies_.end(),
                              [](const pending_reply& r) { return !r.response; });
    if (entry == replies_.end())
      return;
    if (handler_waits_ > 0 && handler_timer_.expiry() <= entry->deadline)
      return;
    handler_timer_.expires_at(entry->deadline);
    ++handler_waits_;
    handler_timer_.async_wait(
        beast::bind_front_handler(&session::on_handler_timer, shared_from_this()));
  }

  void on_handler_timer(beast::error_code) {
    --handler_waits_;
    if (closed_)
      return;
    auto now = steady_clock::now();
    bool answered = false;
    for (auto& entry : replies_) {
      if (entry.response || entry.deadline > now)
        continue;
      server_->counters.handler_failures.fetch_add(1);
      spdlog::warn("http event=handler_timeout listener={} remote={} method={} path={} "
                   "status=504",
                   options_.name, endpoint_text(remote_), entry.method, entry.path);
      entry.response = json_error(504, "TIMEOUT", "the request was not answered in time");
      answered = true;
    }
    if (answered)
      maybe_write();
    if (handler_waits_ == 0)
      arm_handler_timer();
  }

  // -- writing -----------------------------------------------------------------------------

  void respond_and_close(unsigned status, std::string_view code, std::string message) {
    replies_.push_back(pending_reply{next_seq_++, json_error(status, code, message),
                                     steady_clock::now(), steady_clock::time_point::max(), 11,
                                     false, false, "-", "-"});
    closing_ = true;
    maybe_write();
  }

  /// Sets what the server owns in every response: version, keep-alive,
  /// `Server`, Content-Length; a HEAD answer keeps the length, not the body.
  void finalize(pending_reply& entry) {
    auto& response = *entry.response;
    // The last answer before a close says so.
    bool last = closing_ && replies_.size() == 1
                && (reading_ == read_phase::none || reading_ == read_phase::idle);
    response.version(entry.version);
    response.keep_alive(entry.keep_alive && !last);
    response.set(http::field::server, server_name);
    try {
      response.prepare_payload();
    } catch (const std::exception& e) {
      // E.g. a 204 with a body: the handler's bug, the client's 500.
      spdlog::error("http event=bad_response listener={} path={} status={} error=\"{}\"",
                    options_.name, entry.path, response.result_int(), e.what());
      bool keep_alive = response.keep_alive();
      response = json_error(500, "INTERNAL", "internal error", entry.version, keep_alive);
    }
    if (entry.head)
      response.body().clear();
  }

  void maybe_write() {
    if (closed_ || writing_)
      return;
    if (replies_.empty() || !replies_.front().response)
      return maybe_finish();
    auto& entry = replies_.front();
    finalize(entry);
    writing_ = true;
    stream_.expires_after(options_.write_timeout);
    http::async_write(stream_, *entry.response,
                      beast::bind_front_handler(&session::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    writing_ = false;
    if (closed_)
      return;
    if (ec) {
      fail(options_.name, remote_, ec, "write");
      return close();
    }
    auto entry = std::move(replies_.front());
    replies_.pop_front();
    spdlog::debug("http event=request listener={} remote={} method={} path={} status={} ms={}",
                  options_.name, endpoint_text(remote_), entry.method, entry.path,
                  entry.response->result_int(),
                  std::chrono::duration_cast<std::chrono::milliseconds>(steady_clock::now()
                                                                        - entry.received)
                      .count());
    if (!entry.response->keep_alive()) {
      // Nothing after a `Connection: close` answer reaches the client.
      closing_ = true;
      replies_.clear();
      return maybe_finish();
    }
    if (replies_.empty() && idle_read_unbounded_ && !closing_) {
      // The pending read has no deadline; restart it with the idle timeout.
      rearm_idle_read_ = true;
      beast::error_code ignored;
      stream_.socket().cancel(ignored);
    }
    do_read(); // resumes reading if a full pipeline had paused it
    maybe_write();
  }

  // -- closing -----------------------------------------------------------------------------

  /// Closes once closing and nothing is left to answer.
  void maybe_finish() {
    if (closed_ || !closing_ || writing_ || !replies_.empty())
      return;
    if (reading_ == read_phase::idle) {
      // Nothing of a next request has arrived; its handler comes back here.
      beast::error_code ignored;
      stream_.socket().cancel(ignored);
      return;
    }
    if (reading_ == read_phase::none)
      linger();
  }

  /// Polite close after the last answer (see `linger_close`).
  void linger() {
    if (closed_)
      return;
    mark_closed();
    linger_close(stream_, shared_from_this(), options_.discard_limit, options_.read_timeout);
  }

  /// Abrupt close, after an error or a timeout.
  void close() {
    if (closed_)
      return;
    mark_closed();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  void mark_closed() {
    closed_ = true;
    replies_.clear();
    handler_timer_.cancel();
  }

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

void reply_slot::deliver(http_response response, reply_origin origin) {
  auto owner = session_.lock();
  if (!owner)
    return;
  auto executor = owner->executor();
  asio::post(executor, [owner = std::move(owner), seq = seq_, response = std::move(response),
                        origin]() mutable { owner->on_reply(seq, std::move(response), origin); });
}

// -- listener ------------------------------------------------------------------------------

/// Accepts connections on its own strand and starts a session for each.
class listener : public std::enable_shared_from_this<listener> {
public:
  listener(asio::io_context& io, std::shared_ptr<server_state> server)
    : io_(io),
      server_(std::move(server)),
      acceptor_(asio::make_strand(io)),
      retry_timer_(acceptor_.get_executor()) {
  }

  /// Binds and listens; returns the reason on failure.
  std::optional<std::string> open(const tcp::endpoint& endpoint) {
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

  std::uint16_t port() const {
    beast::error_code ignored;
    return acceptor_.local_endpoint(ignored).port();
  }

  void run() {
    asio::post(acceptor_.get_executor(), [self = shared_from_this()] { self->do_accept(); });
  }

  /// Thread-safe.
  void close() {
    asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ignored;
      self->acceptor_.close(ignored);
      self->retry_timer_.cancel();
    });
  }

private:
  void do_accept() {
    // Each connection gets its own strand.
    acceptor_.async_accept(asio::make_strand(io_),
                           beast::bind_front_handler(&listener::on_accept, shared_from_this()));
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
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

  /// Over a connection cap: a 503 and a close, never a session.
  void reject(tcp::socket socket, const char* reason, std::size_t cap) {
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

  asio::io_context& io_;
  const std::shared_ptr<server_state> server_;
  tcp::acceptor acceptor_;
  asio::steady_timer retry_timer_;
};

} // namespace detail

// -- responder ------------------------------------------------------------------------------

responder::responder(std::shared_ptr<detail::reply_slot> slot) : slot_(std::move(slot)) {
}

bool responder::send(http_response response) const {
  return slot_ && slot_->send(std::move(response), detail::reply_origin::handler);
}

bool responder::send_json(unsigned status, const nlohmann::json& body) const {
  return send(json_response(status, body));
}

bool responder::send_error(unsigned status, std::string_view code,
                           std::string_view message) const {
  return send(json_error(status, code, message));
}

bool responder::answered() const noexcept {
  return slot_ && slot_->answered();
}

// -- http_server -----------------------------------------------------------------------------

namespace {

std::optional<std::string> check_options(const http_server_options& options) {
  if (options.header_limit == 0 || options.header_limit > std::numeric_limits<std::uint32_t>::max())
    return "header_limit must be between 1 and 2^32-1 bytes";
  if (options.pipeline_limit == 0)
    return "pipeline_limit must be at least 1";
  if (options.max_connections == 0)
    return "max_connections must be at least 1";
  for (auto timeout : {options.read_timeout, options.idle_timeout, options.write_timeout,
                       options.handler_timeout})
    if (timeout <= duration::zero())
      return "timeouts must be positive";
  return std::nullopt;
}

} // namespace

expected<std::unique_ptr<http_server>, std::string>
http_server::start(asio::io_context& io, http_server_options options, router routes) {
  auto name = options.name;
  if (auto problem = check_options(options))
    return make_unexpected("listener " + name + ": " + *problem);
  beast::error_code ec;
  auto address = asio::ip::make_address(options.address, ec);
  if (ec)
    return make_unexpected("listener " + name + ": bad address '" + options.address + "'");
  tcp::endpoint endpoint{address, options.port};
  auto state = std::make_shared<detail::server_state>(std::move(options), std::move(routes));
  auto acceptor = std::make_shared<detail::listener>(io, state);
  if (auto problem = acceptor->open(endpoint))
    return make_unexpected("listener " + name + ": " + *problem);
  acceptor->run();
  auto port = acceptor->port();
  spdlog::info("http event=listen listener={} address={} port={}", name,
               endpoint.address().to_string(), port);
  return std::unique_ptr<http_server>(new http_server(std::move(state), std::move(acceptor), port));
}

http_server::http_server(std::shared_ptr<detail::server_state> state,
                         std::shared_ptr<detail::listener> listener, std::uint16_t port)
  : state_(std::move(state)), listener_(std::move(listener)), port_(port) {
}

http_server::~http_server() {
  stop();
}

std::uint16_t http_server::port() const noexcept {
  return port_;
}

void http_server::stop() {
  if (state_->stopping.exchange(true))
    return;
  listener_->close();
  auto sessions = state_->live_sessions();
  spdlog::info("http event=stop listener={} open_connections={}", state_->options.name,
               sessions.size());
  for (auto& s : sessions)
    asio::post(s->executor(), [s] { s->on_stop(); });
}

bool http_server::wait_idle(duration timeout) {
  return state_->wait_idle(timeout);
}

const http_server_counters& http_server::counters() const noexcept {
  return state_->counters;
}

} // namespace paycoord::net
