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

namespace {

/// Bytes asked for when waiting for the first byte of a request.
constexpr std::size_t first_read_bytes = 4096;

bool is_parse_error(beast::error_code ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category()
         && ec != http::error::end_of_stream && ec != http::error::partial_message;
}

} // namespace

// Reading runs ahead of the answers up to `pipeline_limit` requests: idle
// wait for the first byte, header (route and body limit decided there), body,
// or the discard of a body answered 413.

void session::start() {
  // stop() may have taken its snapshot of the registry just before we joined.
  if (server_->stopping.load())
    closing_ = true;
  if (closing_)
    return maybe_finish();
  do_read();
}

void session::do_read() {
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

void session::on_idle_read(beast::error_code ec, std::size_t n) {
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
    log_failure(options_.name, remote_, ec, "idle read");
    return close();
  }
  buffer_.commit(n);
  read_header();
}

void session::read_header() {
  reading_ = read_phase::request;
  request_deadline_ = steady_clock::now() + options_.read_timeout;
  stream_.expires_at(request_deadline_);
  http::async_read_header(stream_, buffer_, *parser_,
                          beast::bind_front_handler(&session::on_header, shared_from_this()));
}

void session::on_header(beast::error_code ec, std::size_t) {
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

bool session::expects_continue() const {
  const auto& request = parser_->get();
  return request.version() >= 11
         && beast::iequals(request[http::field::expect], "100-continue");
}

void session::send_continue() {
  static constexpr std::string_view line = "HTTP/1.1 100 Continue\r\n\r\n";
  writing_ = true;
  stream_.expires_after(options_.write_timeout);
  asio::async_write(stream_, asio::buffer(line.data(), line.size()),
                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                      self->writing_ = false;
                      if (self->closed_)
                        return;
                      if (ec) {
                        log_failure(self->options_.name, self->remote_, ec, "write continue");
                        return self->close();
                      }
                      self->maybe_write();
                    });
}

void session::reject_body(std::uint64_t length, std::size_t limit) {
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

void session::discard_body() {
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

void session::on_discard(beast::error_code ec, std::size_t n) {
  if (closed_)
    return;
  if (ec) {
    reading_ = read_phase::none;
    log_failure(options_.name, remote_, ec, "discard body");
    return close();
  }
  buffer_.commit(n);
  discard_body();
}

void session::on_body(beast::error_code ec, std::size_t) {
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

void session::on_read_error(beast::error_code ec, std::string_view what) {
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
  log_failure(options_.name, remote_, ec, what);
  close();
}

} // namespace paycoord::net::detail
