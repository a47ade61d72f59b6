#include "net/http/session.hpp"

#include <algorithm>
#include <limits>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "net/http/connection_ops.hpp"

namespace paycoord::net::detail {

// -- lifecycle ----------------------------------------------------------------

session::session(tcp::socket&& socket, std::shared_ptr<server_state> server)
    : server_(std::move(server)),
      options_(server_->options),
      stream_(std::move(socket)),
      strand_(stream_.get_executor()),
      handler_timer_(strand_) {
  beast::error_code ignored;
  remote_ = stream_.socket().remote_endpoint(ignored);
}

session::~session() {
  if (registered_)
    server_->remove_session(id_);
}

void session::run() {
  id_ = server_->add_session(weak_from_this(), remote_.address());
  registered_ = true;
  asio::post(strand_, [self = shared_from_this()] { self->start(); });
}

void session::on_stop() {
  if (closed_)
    return;
  closing_ = true;
  maybe_finish();
}

void session::on_reply(std::uint64_t seq, http_response response, reply_origin origin) {
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

// -- dispatching --------------------------------------------------------------

std::string session::path_of(const http_request& request) {
  auto target = to_std(request.target());
  return std::string{target.substr(0, target.find('?'))};
}

session::pending_reply& session::enqueue(const http_request& request,
                                         steady_clock::time_point deadline) {
  replies_.push_back(pending_reply{next_seq_++, std::nullopt, steady_clock::now(), deadline,
                                   request.version(), request.keep_alive(),
                                   request.method() == http::verb::head,
                                   std::string{to_std(request.method_string())},
                                   path_of(request)});
  if (!request.keep_alive())
    closing_ = true;
  return replies_.back();
}

std::optional<http_response> session::routing_error(const http_request& request) const {
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

void session::dispatch(http_request request) {
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

void session::handler_threw(reply_slot& slot, std::string_view what) {
  spdlog::error("http event=handler_exception listener={} remote={} error=\"{}\"",
                options_.name, endpoint_text(remote_), what);
  slot.send(json_error(500, "INTERNAL", "internal error"), reply_origin::exception);
}

// -- handler deadline ---------------------------------------------------------

void session::arm_handler_timer() {
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

void session::on_handler_timer(beast::error_code) {
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

// -- writing ------------------------------------------------------------------

void session::respond_and_close(unsigned status, std::string_view code, std::string message) {
  replies_.push_back(pending_reply{next_seq_++, json_error(status, code, message),
                                   steady_clock::now(), steady_clock::time_point::max(), 11,
                                   false, false, "-", "-"});
  closing_ = true;
  maybe_write();
}

void session::finalize(pending_reply& entry) {
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

void session::maybe_write() {
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

void session::on_write(beast::error_code ec, std::size_t) {
  writing_ = false;
  if (closed_)
    return;
  if (ec) {
    log_failure(options_.name, remote_, ec, "write");
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

// -- closing ------------------------------------------------------------------

void session::maybe_finish() {
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

void session::linger() {
  if (closed_)
    return;
  mark_closed();
  linger_close(stream_, shared_from_this(), options_.discard_limit, options_.read_timeout);
}

void session::close() {
  if (closed_)
    return;
  mark_closed();
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.socket().close(ignored);
}

void session::mark_closed() {
  closed_ = true;
  replies_.clear();
  handler_timer_.cancel();
}

} // namespace paycoord::net::detail
