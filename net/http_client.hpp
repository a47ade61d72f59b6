#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/expected.hpp"
#include "common/time.hpp"

namespace paycoord::net {

// -- requests and responses ---------------------------------------------------

/// One outbound HTTP/1.1 request.
struct outbound_request {
  /// Request method as sent, e.g. "GET", "POST" (an HTTP token).
  std::string method;
  /// Absolute `http://` or `https://` URL. Its path and query go on the
  /// request line byte for byte (see `path_and_query`); a fragment is dropped.
  std::string url;
  /// Sent in order. The client adds `Host` and `Connection: Keep-Alive` unless
  /// present, and replaces any `Content-Length` or `Transfer-Encoding` with
  /// its own framing.
  std::vector<std::pair<std::string, std::string>> headers;
  /// Sent with a Content-Length. Empty means no body (and no Content-Length)
  /// unless the method is POST, PUT or PATCH, which always carry one.
  std::string body;
};

/// A complete HTTP response. Any status, including 4xx and 5xx, is a response,
/// never an error.
struct outbound_response {
  int status = 0;
  /// As received, repeated fields included; names as the server wrote them.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  /// The value of the first header called `name` (ASCII case-insensitive),
  /// or nullptr when there is none. The pointer lives as long as `*this`
  /// and its `headers` are not modified.
  const std::string* header(std::string_view name) const;
};

// -- errors ---------------------------------------------------------------------

/// Why no response came back. Only `bad_url` and `invalid_request` guarantee
/// that nothing was sent. After any other error the request may have been
/// received and acted upon (even `connect_failed`, when it comes from the
/// transparent retry after a kept-alive connection died), so repeat only calls
/// the server deduplicates, as WeChat Pay and the business server do.
enum class outbound_error_code {
  /// Not an absolute http(s) URL, or its host or port is unusable.
  bad_url,
  /// No connection: refused, unreachable, or the host name does not resolve.
  /// (A connect that takes too long is a `timeout`.)
  connect_failed,
  /// The connection or the whole exchange took longer than allowed.
  timeout,
  /// TLS handshake failed: untrusted or wrong-name certificate, protocol
  /// mismatch, or an unreadable `ca_file`.
  tls_failed,
  /// The connection broke or the server answered with something that is not
  /// HTTP/1.x (malformed or truncated response).
  protocol_error,
  /// The response body exceeds `http_client_options::max_response_bytes`.
  response_too_large,
  /// The request itself cannot be sent: the method is not an HTTP token, or a
  /// header name or value contains CR, LF or NUL (header injection).
  invalid_request,
};

/// Stable lower-case name of `code`, e.g. "connect_failed", for logs and
/// metrics. Thread-safe; the string is static.
const char* to_string(outbound_error_code code);

struct outbound_error {
  outbound_error_code code;
  /// Human-readable detail for logs (never contains request headers or body).
  std::string message;
};

// -- helpers --------------------------------------------------------------------

/// What goes on the request line for `url`: everything from the first `/` or
/// `?` after the authority up to (not including) a `#`, exactly as written and
/// never re-encoded; "/" when the URL has no path, and "/?q" for "http://h?q".
/// Callers that sign requests (WeChat Pay v3) sign this string. Returns an
/// empty string when `url` is not an absolute http(s) URL that `send` would
/// accept (that is, exactly when `send` fails with `bad_url`). Thread-safe.
std::string path_and_query(const std::string& url);

// -- client ---------------------------------------------------------------------

struct http_client_options {
  /// Bound on establishing the TCP connection plus the TLS handshake (never
  /// more than what is left of `timeout`). Resolving a host name is not
  /// bounded: the system resolver decides; IP addresses need none.
  duration connect_timeout = std::chrono::seconds{3};
  /// Bound on the whole `send`: connecting, writing the request and reading
  /// the whole response, including a transparent retry.
  duration timeout = std::chrono::seconds{5};
  /// Largest response body accepted; a larger one fails with
  /// `response_too_large` (and is not read to the end).
  std::size_t max_response_bytes = std::size_t{1} << 20;
  /// Verify the server's certificate chain and host name. Only tests turn it off.
  bool verify_tls = true;
  /// PEM file of trusted CA certificates; empty means the system store.
  std::string ca_file;
  /// A kept-alive connection idle for longer than this is closed instead of
  /// reused (servers drop idle connections; reusing one that is about to be
  /// dropped costs a retry).
  duration max_idle = std::chrono::seconds{4};
};

/// Blocking HTTP/1.1 client over Poco::Net for the calls paycoord makes to
/// WeChat Pay and to the business server.
///
/// Not thread-safe: use one instance per worker thread (it may move between
/// threads between calls). It keeps one keep-alive connection per
/// scheme://host:port and reuses it. When a request on a reused connection
/// fails before any byte of the response arrived (the server had closed the
/// idle connection), it is sent once more on a fresh connection; it is never
/// repeated after a response started, after a timeout, or on a fresh
/// connection. Redirects are not followed (a 3xx is returned as a response).
/// All Poco exceptions are caught inside; `send` never throws except
/// std::bad_alloc.
class http_client {
public:
  explicit http_client(http_client_options options = {});
  ~http_client();

  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;
  http_client(http_client&&) noexcept;
  http_client& operator=(http_client&&) noexcept;

  /// Sends `request` and reads the complete response, within
  /// `options.timeout`. Returns the response for any HTTP status, or the
  /// reason there is none (see `outbound_error_code`). After an error, the
  /// connection to that origin is closed; the next call opens a new one.
  expected<outbound_response, outbound_error> send(const outbound_request& request);

  /// Changes the bound on the whole exchange for later calls (e.g. per
  /// endpoint). Non-positive values make every later send time out.
  void set_timeout(duration timeout);

  /// Closes every kept-alive connection (e.g. before a long idle period).
  void close_idle_connections();

private:
  class connection;
  struct tls_state;

  /// A new, not yet connected connection; nullptr with `error` set when the
  /// TLS context cannot be built (e.g. unreadable `ca_file`).
  std::unique_ptr<connection> make_connection(bool secure, const std::string& host,
                                              unsigned short port, outbound_error& error);

  http_client_options options_;
  /// Built on first https use and shared by its connections.
  std::unique_ptr<tls_state> tls_;
  /// Idle kept-alive connections, keyed by "scheme://host:port"; at most one
  /// per origin.
  std::map<std::string, std::unique_ptr<connection>> connections_;
};

} // namespace paycoord::net
