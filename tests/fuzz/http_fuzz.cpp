// libFuzzer over inbound HTTP: the bytes a client sends on one connection,
// parsed the way net/http_server.cpp's session does (a fresh
// request_parser<string_body> per request, header_limit first with no body
// limit, then the route's body limit once the header is in, 413 without
// reading a Content-Length body over it), then net/router's route lookup and
// query parsing (percent decoding) on each target parsed.
//
// Input layout:
//   byte 0  where the wire bytes split into two reads: the first gets
//           byte0 * n / 256 of the n bytes, the second the rest
//   byte 1  bit 0: the client closes after sending (the parser sees EOF)
//   then    the bytes on the wire (pipelined requests allowed)
//
// The route table is the production one (public, notify, admin and metrics
// routes with their body limits) plus two prefix routes and one route with a
// 32-byte body limit, so that limits and prefixes are reachable with small
// inputs.
//
// Checked: no crash; a header is accepted only within header_limit, a body
// only within its limit; the router's answers are consistent (a found route
// has a handler, a 405 an Allow list); decoded parameters are within
// router_limits, never hold NUL, and match an independent percent decoder.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "net/router.hpp"

namespace http = boost::beast::http;
using paycoord::net::param_map;
using paycoord::net::route_options;
using paycoord::net::route_status;
using paycoord::net::router;

namespace {

// http_server_options' defaults (net/http_server.hpp), which paycoord uses.
constexpr std::size_t header_limit = 8 * 1024;
constexpr std::size_t default_body_limit = 64 * 1024;
constexpr std::size_t discard_limit = 1024 * 1024;
constexpr std::size_t public_body_limit = 64 * 1024; // api/public_api.hpp
constexpr std::size_t small_body_limit = 32;
constexpr int max_requests = 16; // per input; pipelining is bounded anyway

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "http_fuzz: %s\n", what.c_str());
  std::abort();
}

const router& routes() {
  static const router r = [] {
    router out;
    route_options limited;
    limited.body_limit = public_body_limit;
    // api/public_api.cpp
    out.add(http::verb::post, "/v1/orders", {}, limited);
    out.add(http::verb::get, "/v1/orders/{out_trade_no}", {}, limited);
    out.add(http::verb::post, "/v1/wechatpay/notify", {}, limited);
    // api/admin_api.cpp
    for (auto asset : {"index.html", "inspector.css", "inspector.js"})
      out.add(http::verb::get, std::string{"/admin/"} + asset, {});
    out.add(http::verb::get, "/admin/", {});
    out.add(http::verb::get, "/admin", {});
    out.add(http::verb::get, "/admin/api/summary", {});
    out.add(http::verb::get, "/admin/api/orders", {});
    out.add(http::verb::get, "/admin/api/orders/{id}", {});
    for (auto action : {"verify", "forward", "retry", "resolve"})
      out.add(http::verb::post, std::string{"/admin/api/orders/{id}/"} + action, {});
    out.add(http::verb::get, "/admin/api/orphan-events", {});
    // app/paycoord.cpp
    out.add(http::verb::get, "/metrics", {});
    out.add(http::verb::get, "/healthz", {});
    out.add(http::verb::get, "/readyz", {});
    // Not in production: prefixes and a tiny body limit, for reach.
    out.add_prefix(http::verb::get, "/static/", {});
    out.add_prefix(http::verb::get, "/static/img/", {});
    route_options small;
    small.body_limit = small_body_limit;
    out.add(http::verb::put, "/fuzz/{a}/{b}", {}, small);
    return out;
  }();
  return r;
}

int hex(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c = static_cast<char>(c | 0x20);
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/// An independent reading of percent_decode's contract (net/router.hpp).
std::optional<std::string> reference_decode(std::string_view text, bool plus_is_space,
                                            std::size_t max_bytes) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%') {
      if (text.size() - i < 3 || hex(text[i + 1]) < 0 || hex(text[i + 2]) < 0)
        return std::nullopt;
      char c = static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      if (c == '\0')
        return std::nullopt;
      out += c;
      i += 2;
    } else {
      out += plus_is_space && text[i] == '+' ? ' ' : text[i];
    }
  }
  if (out.size() > max_bytes)
    return std::nullopt;
  return out;
}

void check_param(std::string_view name, const std::string& value) {
  const auto& limits = routes().limits();
  if (value.size() > limits.max_param_bytes)
    die("parameter " + std::string{name} + " over max_param_bytes");
  if (value.find('\0') != std::string::npos)
    die("parameter " + std::string{name} + " holds a NUL");
}

/// What the session does with a target once the header is in.
const route_options* route_target(http::verb method, std::string_view target) {
  const auto& r = routes();
  auto query_start = target.find('?');
  auto path = target.substr(0, query_start);
  auto match = r.find(method, path);
  switch (match.status) {
    case route_status::found:
    case route_status::bad_param:
      if (match.on_request == nullptr || match.options == nullptr)
        die("a matched route without its handler or options");
      break;
    case route_status::method_not_allowed:
      if (match.allow.empty())
        die("405 with an empty Allow list");
      break;
    case route_status::not_found:
      if (!match.params.empty())
        die("not found, yet parameters");
      break;
  }
  if (match.status == route_status::found) {
    for (const auto& [name, value] : match.params)
      check_param(name, value);
    // A pattern parameter is a whole path segment, decoded without '+'.
    if (auto id = match.params.find("id"); id != match.params.end()) {
      auto segments = path.substr(std::string_view{"/admin/api/orders/"}.size());
      auto segment = segments.substr(0, segments.find('/'));
      if (reference_decode(segment, false, r.limits().max_param_bytes) != id->second)
        die("path parameter id decodes differently from the reference");
    }
  }
  if (query_start != std::string_view::npos) {
    auto query = target.substr(query_start + 1);
    auto params = paycoord::net::parse_query(query, r.limits());
    if (params) {
      if (params->size() > r.limits().max_query_params)
        die("more query parameters than max_query_params");
      for (const auto& [name, value] : *params) {
        check_param(name, name);
        check_param(name, value);
      }
      // Each piece decodes as the reference does; the first of a name wins.
      std::string_view rest = query;
      param_map seen;
      while (!rest.empty()) {
        auto amp = rest.find('&');
        auto piece = rest.substr(0, amp);
        rest.remove_prefix(amp == std::string_view::npos ? rest.size() : amp + 1);
        if (piece.empty())
          continue;
        auto eq = piece.find('=');
        auto name = reference_decode(piece.substr(0, eq), true, r.limits().max_param_bytes);
        auto value = reference_decode(
          eq == std::string_view::npos ? std::string_view{} : piece.substr(eq + 1), true,
          r.limits().max_param_bytes);
        if (!name || !value)
          die("parse_query accepted a piece the reference refuses");
        seen.emplace(*name, *value);
      }
      if (seen != *params)
        die("parse_query differs from the reference");
    }
  }
  return match.status == route_status::found ? match.options : nullptr;
}

/// The bytes of one connection as they arrive: the first read, then the rest.
class connection {
public:
  connection(std::string_view wire, std::size_t split, bool eof)
    : wire_(wire), arrived_(split), eof_(eof) {
    buffer_.assign(wire.substr(0, split));
  }

  enum class outcome { done, error, starved };

  /// Feeds `parser` until `done(parser)`, reading more when it needs more.
  /// `consumed` counts the bytes it took.
  template <class Done>
  outcome feed(http::request_parser<http::string_body>& parser, Done done,
               boost::beast::error_code& ec, std::size_t& consumed) {
    for (;;) {
      if (done(parser))
        return outcome::done;
      std::size_t n = parser.put(boost::asio::buffer(buffer_), ec);
      buffer_.erase(0, n);
      consumed += n;
      if (ec == http::error::need_more) {
        ec = {};
        if (arrived_ < wire_.size()) {
          buffer_.append(wire_.substr(arrived_));
          arrived_ = wire_.size();
          continue;
        }
        if (!eof_)
          return outcome::starved; // the read would time out
        parser.put_eof(ec);
        if (ec)
          return outcome::error;
        return done(parser) ? outcome::done : outcome::error;
      }
      if (ec)
        return outcome::error;
      if (n == 0 && !done(parser))
        return outcome::starved; // no progress: never spin

    }
  }

  /// Drops up to `n` bytes of a rejected body; false when they never come.
  bool discard(std::size_t n) {
    if (buffer_.size() < n && arrived_ < wire_.size()) {
      buffer_.append(wire_.substr(arrived_));
      arrived_ = wire_.size();
    }
    if (buffer_.size() < n)
      return false;
    buffer_.erase(0, n);
    return true;
  }

  bool idle() const {
    return buffer_.empty() && arrived_ == wire_.size();
  }

private:
  std::string_view wire_;
  std::size_t arrived_;
  bool eof_;
  std::string buffer_;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2)
    return 0;
  std::string_view wire{reinterpret_cast<const char*>(data) + 2, size - 2};
  connection conn{wire, data[0] * wire.size() / 256, (data[1] & 1) != 0};
  for (int request = 0; request < max_requests && !conn.idle(); ++request) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(header_limit));
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    boost::beast::error_code ec;
    std::size_t header_bytes = 0;
    auto header = conn.feed(parser, [](auto& p) { return p.is_header_done(); }, ec, header_bytes);
    if (header != connection::outcome::done)
      return 0; // 400, 431, or the connection ends
    if (header_bytes > header_limit)
      die("accepted a header of " + std::to_string(header_bytes) + " bytes, header_limit is "
          + std::to_string(header_limit));
    const auto& req = parser.get();
    std::string_view target{req.target().data(), req.target().size()};
    const route_options* options = route_target(req.method(), target);
    std::size_t limit =
      options != nullptr && options->body_limit ? *options->body_limit : default_body_limit;
    auto length = parser.content_length();
    if (length && *length > limit) {
      // 413; a small body is dropped to keep the connection, else it closes.
      if (*length > discard_limit || !conn.discard(static_cast<std::size_t>(*length)))
        return 0;
      continue;
    }
    parser.body_limit(limit);
    std::size_t body_bytes = 0;
    auto body = conn.feed(parser, [](auto& p) { return p.is_done(); }, ec, body_bytes);
    if (body != connection::outcome::done)
      return 0; // 413 for a chunked body over the limit, 400, or a timeout
    if (parser.get().body().size() > limit)
      die("accepted a body of " + std::to_string(parser.get().body().size())
          + " bytes, its limit is " + std::to_string(limit));
    if (!parser.keep_alive())
      return 0;
  }
  return 0;
}
