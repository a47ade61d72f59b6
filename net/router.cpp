#include "net/router.hpp"

#include <algorithm>
#include <stdexcept>

#include <boost/beast/http/verb.hpp>

namespace paycoord::net {

namespace http = boost::beast::http;

namespace {

/// Splits an absolute path after its leading '/' at every '/': "/a/b" gives
/// {"a", "b"}, "/" gives {""}, "/a/" gives {"a", ""}.
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segments;
  path.remove_prefix(1);
  for (;;) {
    auto slash = path.find('/');
    segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos)
      return segments;
    path.remove_prefix(slash + 1);
  }
}

bool is_param_segment(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

} // namespace

// -- router -----------------------------------------------------------------------

router::router(router_limits limits) : limits_(limits) {
}

router& router::add(http::verb method, std::string_view pattern, handler on_request,
                    route_options options) {
  if (pattern.empty() || pattern.front() != '/')
    throw std::invalid_argument("route pattern must start with '/': " + std::string{pattern});
  route r{method, false, {}, {}, std::move(on_request), options};
  std::vector<std::string_view> names;
  for (auto segment : split_path(pattern)) {
    bool has_brace = segment.find_first_of("{}") != std::string_view::npos;
    if (has_brace) {
      auto name = segment.substr(1, segment.size() >= 2 ? segment.size() - 2 : 0);
      if (!is_param_segment(segment) || name.find_first_of("{}") != std::string_view::npos)
        throw std::invalid_argument("route parameter must be a whole segment '{name}': "
                                    + std::string{pattern});
      if (std::find(names.begin(), names.end(), name) != names.end())
        throw std::invalid_argument("route parameter repeats: " + std::string{pattern});
      names.push_back(name);
    }
    r.segments.emplace_back(segment);
  }
  // Pattern routes come first, in the order added (see `add_prefix`).
  auto first_prefix = std::find_if(routes_.begin(), routes_.end(),
                                   [](const route& other) { return other.is_prefix; });
  routes_.insert(first_prefix, std::move(r));
  return *this;
}

router& router::add_prefix(http::verb method, std::string_view prefix, handler on_request,
                           route_options options) {
  if (prefix.empty() || prefix.front() != '/')
    throw std::invalid_argument("route prefix must start with '/': " + std::string{prefix});
  route r{method, true, std::string{prefix}, {}, std::move(on_request), options};
  // Pattern routes stay first in the order added; prefixes follow, longest
  // first, so the most specific prefix wins.
  auto pos = std::find_if(routes_.begin(), routes_.end(), [&](const route& other) {
    return other.is_prefix && other.prefix.size() < r.prefix.size();
  });
  routes_.insert(pos, std::move(r));
  return *this;
}

bool router::matches(const route& r, const std::vector<std::string_view>& segments,
                     std::string_view path, param_map& params, bool& bad_param) const {
  params.clear();
  bad_param = false;
  if (r.is_prefix) {
    if (path.substr(0, r.prefix.size()) != r.prefix)
      return false;
    auto rest = percent_decode(path.substr(r.prefix.size()), false, limits_.max_param_bytes);
    if (rest)
      params.emplace(rest_param, std::move(*rest));
    else
      bad_param = true;
    return true;
  }
  if (segments.size() != r.segments.size())
    return false;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const auto& expected = r.segments[i];
    if (!is_param_segment(expected)) {
      if (segments[i] != expected)
        return false;
      continue;
    }
    if (segments[i].empty())
      return false;
    auto value = percent_decode(segments[i], false, limits_.max_param_bytes);
    if (!value) {
      bad_param = true;
      continue;
    }
    params.emplace(expected.substr(1, expected.size() - 2), std::move(*value));
  }
  return true;
}

route_match router::find(http::verb method, std::string_view path) const {
  route_match result;
  if (path.empty() || path.front() != '/')
    return result;
  auto segments = split_path(path);
  const route* get_fallback = nullptr;
  param_map get_params;
  bool get_bad = false;
  std::vector<http::verb> allowed;
  for (const auto& r : routes_) {
    param_map params;
    bool bad = false;
    if (!matches(r, segments, path, params, bad))
      continue;
    if (r.method == method) {
      result.status = bad ? route_status::bad_param : route_status::found;
      result.on_request = &r.on_request;
      result.options = &r.options;
      result.params = std::move(params);
      return result;
    }
    if (method == http::verb::head && r.method == http::verb::get && !get_fallback) {
      get_fallback = &r;
      get_params = std::move(params);
      get_bad = bad;
    }
    if (std::find(allowed.begin(), allowed.end(), r.method) == allowed.end())
      allowed.push_back(r.method);
  }
  if (get_fallback) {
    result.status = get_bad ? route_status::bad_param : route_status::found;
    result.on_request = &get_fallback->on_request;
    result.options = &get_fallback->options;
    result.params = std::move(get_params);
    return result;
  }
  if (allowed.empty())
    return result;
  bool has_get = std::find(allowed.begin(), allowed.end(), http::verb::get) != allowed.end();
  bool has_head = std::find(allowed.begin(), allowed.end(), http::verb::head) != allowed.end();
  if (has_get && !has_head)
    allowed.push_back(http::verb::head);
  result.status = route_status::method_not_allowed;
  for (auto verb : allowed) {
    if (!result.allow.empty())
      result.allow += ", ";
    auto name = http::to_string(verb);
    result.allow.append(name.data(), name.size());
  }
  return result;
}

// -- target parsing ----------------------------------------------------------------

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space,
                                          std::size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes));
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size())
        return std::nullopt;
      int high = hex_value(text[i + 1]);
      int low = hex_value(text[i + 2]);
      // A decoded NUL would truncate the value wherever it meets a C API.
      if (high < 0 || low < 0 || (high == 0 && low == 0))
        return std::nullopt;
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
    if (out.size() > max_bytes)
      return std::nullopt;
  }
  return out;
}

std::optional<param_map> parse_query(std::string_view query, const router_limits& limits) {
  param_map params;
  std::size_t count = 0;
  while (!query.empty()) {
    auto amp = query.find('&');
    auto piece = query.substr(0, amp);
    query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
    if (piece.empty())
      continue;
    if (++count > limits.max_query_params)
      return std::nullopt;
    auto eq = piece.find('=');
    auto name = percent_decode(piece.substr(0, eq), true, limits.max_param_bytes);
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view{}
                                                             : piece.substr(eq + 1),
                                true, limits.max_param_bytes);
    if (!name || !value)
      return std::nullopt;
    params.emplace(std::move(*name), std::move(*value));
  }
  return params;
}

} // namespace paycoord::net
