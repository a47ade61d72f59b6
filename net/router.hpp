#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <ostream> // Boost 1.74's verb.hpp uses std::ostream without including it
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/verb.hpp>

namespace paycoord::net {

struct request_context; // net/http_server.hpp

// -- routes -----------------------------------------------------------------------

/// Decoded path parameters or query parameters by name (`std::less<>` allows
/// lookups by string_view).
using param_map = std::map<std::string, std::string, std::less<>>;

/// Serves one request. Runs on the connection's strand, so it must not block:
/// it answers through `request_context::respond`, now or later from any thread.
using handler = std::function<void(request_context)>;

struct route_options {
  /// Largest request body accepted, in bytes; nullopt means the server's
  /// `http_server_options::default_body_limit`.
  std::optional<std::size_t> body_limit;
};

/// Bounds on what a request target may make the router allocate.
struct router_limits {
  /// Longest decoded path parameter (and prefix remainder), in bytes.
  std::size_t max_param_bytes = 256;
  /// Most query parameters in one target.
  std::size_t max_query_params = 32;
};

enum class route_status {
  found,
  /// No route's path matches.
  not_found,
  /// Some route's path matches, but none for this method (`allow` lists them).
  method_not_allowed,
  /// A route matches, but a parameter is malformed or over the limit.
  bad_param,
};

struct route_match {
  route_status status = route_status::not_found;
  /// The route's handler and options when `status == found`, else null. They
  /// live as long as the router.
  const handler* on_request = nullptr;
  const route_options* options = nullptr;
  param_map params;
  /// With `method_not_allowed`: the value for the `Allow` header, e.g. "GET, HEAD".
  std::string allow;
};

/// Maps a method and a path to a handler. Routes are added while wiring, before
/// the server starts; afterwards the router is read-only and `find` is safe to
/// call from any number of threads at once.
///
/// Precedence: pattern routes in the order they were added, then prefix routes,
/// longest prefix first. A HEAD request is served by a GET route when no HEAD
/// route matches (the server then drops the body).
class router {
public:
  /// The parameter that carries the rest of the path for a prefix route.
  static constexpr std::string_view rest_param = "*";

  explicit router(router_limits limits = {});

  /// Adds a route for `pattern`, an absolute path whose segments are literal
  /// text or a whole-segment parameter `{name}`, e.g.
  /// `/admin/api/orders/{id}/verify`. Literal segments compare with the raw
  /// target; parameters match one non-empty segment and are percent-decoded.
  /// Throws std::invalid_argument for a malformed pattern (a wiring bug).
  router& add(boost::beast::http::verb method, std::string_view pattern, handler on_request,
              route_options options = {});

  /// Adds a route for every path that starts with `prefix` (e.g. `/admin/`).
  /// The decoded remainder is the parameter `rest_param`; it may contain `/`
  /// and `..`, so a handler that maps it to files must check it. Throws
  /// std::invalid_argument unless `prefix` starts with '/'.
  router& add_prefix(boost::beast::http::verb method, std::string_view prefix,
                     handler on_request, route_options options = {});

  /// Finds the route for `method` and `path` (the target without its query).
  route_match find(boost::beast::http::verb method, std::string_view path) const;

  const router_limits& limits() const noexcept {
    return limits_;
  }

private:
  struct route {
    boost::beast::http::verb method;
    bool is_prefix;
    std::string prefix;                  // prefix routes only
    std::vector<std::string> segments;   // pattern routes: literal text or "{name}"
    handler on_request;
    route_options options;
  };

  /// Whether `path` matches `r`; fills `params` (which may still be bad).
  bool matches(const route& r, const std::vector<std::string_view>& segments,
               std::string_view path, param_map& params, bool& bad_param) const;

  router_limits limits_;
  std::vector<route> routes_;
};

// -- target parsing --------------------------------------------------------------

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`, as in query
/// strings). Returns nullopt for a truncated or non-hex escape, for `%00`, and
/// when the result would exceed `max_bytes`.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space,
                                          std::size_t max_bytes);

/// Parses a query string (`a=1&b=x%20y`, without the `?`) into decoded names
/// and values; a name without `=` gets an empty value and empty pieces are
/// skipped. When a name repeats, the first value wins. Returns nullopt when a
/// piece does not decode or a bound of `limits` is exceeded.
std::optional<param_map> parse_query(std::string_view query, const router_limits& limits);

} // namespace paycoord::net
