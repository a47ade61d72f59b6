#include "net/http_client.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <istream>
#include <mutex>
#include <new>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPChunkedStream.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPFixedLengthStream.h>
#include <Poco/Net/HTTPMessage.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/HTTPSession.h>
#include <Poco/Net/HTTPStream.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/Socket.h>
#include <Poco/Timespan.h>
#include <Poco/URI.h>
#include <spdlog/spdlog.h>

namespace paycoord::net {

namespace {

using steady = std::chrono::steady_clock;

// Largest response header block we read (status line plus all fields).
constexpr std::size_t max_head_bytes = 64 * 1024;

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return ascii_lower(x) == ascii_lower(y);
         });
}

// RFC 9110 token: method names and header field names.
bool is_token(std::string_view text) {
  if (text.empty())
    return false;
  static constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
  return std::all_of(text.begin(), text.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) != 0 || extra.find(c) != std::string_view::npos;
  });
}

bool has_line_break_or_nul(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

// Bytes that would break the request line: controls and space.
bool breaks_request_line(std::string_view target) {
  return std::any_of(target.begin(), target.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

Poco::Timespan to_timespan(steady::duration d) {
  return Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(
      std::chrono::duration_cast<std::chrono::microseconds>(d).count()));
}

struct parsed_url {
  bool secure = false;
  std::string host;
  unsigned short port = 0;
  std::string origin;
  std::string target;
};

// Splits an absolute http(s) URL. Poco::URI sees only scheme and authority:
// it decodes and re-encodes paths, and the target must stay byte-exact.
expected<parsed_url, std::string> parse_url(const std::string& url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos)
    return make_unexpected(std::string("not an absolute URL"));
  std::string scheme;
  for (char c : url.substr(0, scheme_end))
    scheme.push_back(ascii_lower(c));
  if (scheme != "http" && scheme != "https")
    return make_unexpected("unsupported scheme '" + scheme + "'");

  auto authority_begin = scheme_end + 3;
  auto authority_end = url.find_first_of("/?#", authority_begin);
  if (authority_end == std::string::npos)
    authority_end = url.size();
  auto authority = std::string_view(url).substr(authority_begin, authority_end - authority_begin);
  if (authority.empty())
    return make_unexpected(std::string("missing host"));
  if (authority.find('@') != std::string_view::npos)
    return make_unexpected(std::string("credentials in URLs are not supported"));

  parsed_url result;
  result.secure = scheme == "https";
  try {
    Poco::URI uri(scheme + "://" + std::string(authority));
    result.host = uri.getHost();
    result.port = uri.getPort();
  } catch (const Poco::Exception& e) {
    return make_unexpected("bad authority: " + e.message());
  }
  if (result.host.empty() || result.port == 0 || breaks_request_line(result.host))
    return make_unexpected(std::string("bad host or port"));

  auto target_end = url.find('#', authority_end);
  result.target =
      url.substr(authority_end,
                 target_end == std::string::npos ? std::string::npos : target_end - authority_end);
  if (result.target.empty() || result.target.front() == '?')
    result.target.insert(0, "/");
  if (breaks_request_line(result.target))
    return make_unexpected(std::string("path or query contains a space or control character"));

  result.origin = scheme + "://" + result.host + ":" + std::to_string(result.port);
  return result;
}

void initialize_ssl_once() {
  static std::once_flag once;
  std::call_once(once, [] { Poco::Net::initializeSSL(); });
}

// -- Poco sessions with a deadline -------------------------------------------

// What the exchange needs from a Poco session beyond its public interface.
class session_control {
public:
  virtual ~session_control() = default;
  virtual Poco::Net::HTTPClientSession& poco() = 0;
  /// Every socket operation from now on fails with TimeoutException once
  /// `deadline` has passed.
  virtual void set_deadline(steady::time_point deadline) = 0;
  /// Connects (and for https completes the TLS handshake) within
  /// `connect_timeout`; throws on failure.
  virtual void open(steady::duration connect_timeout) = 0;
  /// Appends one response header block (through the empty line) to `head`;
  /// throws on a socket error or timeout, NoMessageException when the peer
  /// closes before the first byte. `head` holds what arrived even then.
  virtual void read_head(std::string& head) = 0;
  /// Whether response bytes sit unread in the session's buffer.
  virtual bool has_buffered_input() = 0;
};

// A Poco client session whose every socket wait is bounded by the remaining
// time to one deadline: Poco's own timeouts restart on each socket call, so a
// trickling server could otherwise stretch an exchange without limit.
//
// Two Poco 1.11 NetSSL behaviours shape the TLS side. A blocking TLS read that
// hits SO_RCVTIMEO polls for as long again before throwing, so TLS sockets get
// half the remaining time. And a handshake that times out inside connect() is
// silently left unfinished (it then completes inside the first write, without
// the host-name check), so the handshake is lazy and driven here, followed by
// an explicit verifyPeerCertificate().
template <class Session>
class timed_session final : public Session, public session_control {
  static constexpr bool secure = std::is_base_of_v<Poco::Net::HTTPSClientSession, Session>;

public:
  template <class... Args>
  explicit timed_session(Args&&... args) : Session(std::forward<Args>(args)...) {
    this->setKeepAlive(true);
    // We decide about reuse ourselves (max_idle, Connection: close); keep
    // Poco's idle check from closing a connection under us.
    this->setKeepAliveTimeout(Poco::Timespan(24 * 3600, 0));
  }

  Poco::Net::HTTPClientSession& poco() override {
    return *this;
  }

  void set_deadline(steady::time_point deadline) override {
    deadline_ = deadline;
  }

  void open(steady::duration connect_timeout) override {
    auto remaining = remaining_or_throw();
    auto budget = std::min(connect_timeout, remaining);
    auto connect_deadline = steady::now() + budget;
    this->setTimeout(to_timespan(budget), to_timespan(remaining), to_timespan(remaining));
    if constexpr (secure) {
      Poco::Net::SecureStreamSocket tls(this->socket()); // shares the session's socket
      tls.setLazyHandshake(true);
      this->reconnect(); // TCP only
      handshake(tls, connect_deadline);
    } else {
      this->reconnect();
    }
  }

  bool has_buffered_input() override {
    return this->buffered() > 0;
  }

  void read_head(std::string& head) override {
    auto start = head.size();
    for (;;) {
      if (this->buffered() == 0)
        arm_receive();
      int ch = this->get();
      if (ch == std::char_traits<char>::eof()) {
        remaining_or_throw();
        if (head.empty())
          throw Poco::Net::NoMessageException("connection closed before any response byte");
        throw Poco::Net::MessageException("connection closed inside the response header");
      }
      head.push_back(static_cast<char>(ch));
      std::string_view block = std::string_view(head).substr(start);
      if (block.ends_with("\n\n") || block.ends_with("\r\n\r\n"))
        return;
      if (head.size() > max_head_bytes)
        throw Poco::Net::MessageException("response header larger than 64 KiB");
    }
  }

protected:
  // Request bytes: bounded by the deadline, and without
  // HTTPClientSession::write's silent reconnect-and-resend, so that resending
  // stays the one explicit decision in http_client::send.
  int write(const char* buffer, std::streamsize length) override {
    try {
      this->socket().setSendTimeout(socket_timeout(remaining_or_throw()));
    } catch (const Poco::Exception& e) {
      this->setException(e);
      throw;
    }
    return Poco::Net::HTTPSession::write(buffer, length);
  }

  // Body bytes (header bytes go through read_head). Chunk-size lines are read
  // through HTTPSession::get, which waits at most the time remaining at the
  // previous arm_receive.
  int read(char* buffer, std::streamsize length) override {
    if (this->buffered() == 0) {
      try {
        arm_receive();
      } catch (const Poco::Exception& e) {
        this->setException(e);
        throw;
      }
    }
    return Session::read(buffer, length);
  }

private:
  steady::duration remaining_or_throw() const {
    auto remaining = deadline_ - steady::now();
    if (remaining <= steady::duration::zero())
      throw Poco::TimeoutException("request deadline passed");
    return remaining;
  }

  // The socket option for a wait that must end within `remaining`.
  static Poco::Timespan socket_timeout(steady::duration remaining) {
    if constexpr (secure)
      remaining /= 2;
    // zero would mean "no timeout" to the kernel
    return to_timespan(std::max<steady::duration>(remaining, std::chrono::milliseconds{1}));
  }

  // Waits until the socket has something to read or the deadline passes.
  // Bytes OpenSSL already decrypted do not show on the descriptor, hence
  // available() first.
  void arm_receive() {
    auto& socket = this->socket();
    if (socket.available() > 0)
      return;
    if (!socket.poll(to_timespan(remaining_or_throw()),
                     Poco::Net::Socket::SELECT_READ | Poco::Net::Socket::SELECT_ERROR))
      throw Poco::TimeoutException("no response within the request timeout");
    // Readable may be a TLS record without data (a session ticket): the read
    // that follows can still block.
    socket.setReceiveTimeout(socket_timeout(remaining_or_throw()));
  }

  void handshake(Poco::Net::SecureStreamSocket& tls, steady::time_point connect_deadline) {
    for (;;) {
      auto left = connect_deadline - steady::now();
      if (left <= steady::duration::zero())
        throw Poco::TimeoutException("TLS handshake timed out");
      tls.setReceiveTimeout(socket_timeout(left));
      tls.setSendTimeout(socket_timeout(left));
      int rc = tls.completeHandshake();
      if (rc == 1)
        break;
      if (rc == 0)
        throw Poco::Net::SSLConnectionUnexpectedlyClosedException(
            "TLS handshake: connection closed");
      int mode = rc == Poco::Net::SecureStreamSocket::ERR_SSL_WANT_WRITE
                     ? Poco::Net::Socket::SELECT_WRITE
                     : Poco::Net::Socket::SELECT_READ;
      tls.poll(to_timespan(left), mode); // then retry, or time out at the top
    }
    // Chain and host name: Poco checks the name only here (never for
    // VERIFY_NONE).
    tls.verifyPeerCertificate();
  }

  steady::time_point deadline_ = steady::time_point::max();
};

// -- one exchange ---------------------------------------------------------------

// Where an exchange failed; decides the error code and whether resending is safe.
enum class exchange_phase { connect, send, await_response, read_response };

struct exchange_failure {
  outbound_error error;
  /// Failed before any response byte on a connection that could have been
  /// closed by the server while idle: resending on a fresh one is safe.
  bool before_response = false;
};

outbound_error classify(const Poco::Exception& e, exchange_phase phase, bool deadline_passed) {
  std::string text = e.displayText();
  if (deadline_passed || dynamic_cast<const Poco::TimeoutException*>(&e) != nullptr)
    return {outbound_error_code::timeout, text};
  switch (phase) {
  case exchange_phase::connect:
    if (dynamic_cast<const Poco::Net::SSLException*>(&e) != nullptr)
      return {outbound_error_code::tls_failed, text};
    return {outbound_error_code::connect_failed, text};
  case exchange_phase::send:
    return {outbound_error_code::protocol_error, "sending the request failed: " + text};
  case exchange_phase::await_response:
    return {outbound_error_code::protocol_error, "no response: " + text};
  case exchange_phase::read_response:
    return {outbound_error_code::protocol_error, "reading the response failed: " + text};
  }
  return {outbound_error_code::protocol_error, text};
}

bool method_has_body(const std::string& method) {
  return method == "POST" || method == "PUT" || method == "PATCH";
}

} // namespace

// -- connection -------------------------------------------------------------------

struct http_client::tls_state {
  Poco::Net::Context::Ptr context;
};

/// One connection to one origin and the Poco session that owns its socket.
class http_client::connection {
public:
  explicit connection(std::unique_ptr<session_control> session) : session_(std::move(session)) {
  }

  bool connected() {
    return session_->poco().connected();
  }

  /// Whether an idle connection may carry another request: still open, not
  /// idle too long, and nothing arrived while idle (a FIN or stray bytes both
  /// mean the server is done with it).
  bool reusable(steady::time_point now, duration max_idle) {
    if (!connected() || now - last_used_ > max_idle)
      return false;
    try {
      auto& socket = session_->poco().socket();
      return !session_->has_buffered_input() && socket.available() == 0
             && !socket.poll(Poco::Timespan(0),
                             Poco::Net::Socket::SELECT_READ | Poco::Net::Socket::SELECT_ERROR);
    } catch (const Poco::Exception&) {
      return false;
    }
  }

  struct outcome {
    std::optional<outbound_response> response;
    exchange_failure failure;
    bool keep_alive = false;
  };

  /// Sends `request` and reads the response before `deadline`. Never throws.
  outcome exchange(const outbound_request& request, const std::string& target,
                   const http_client_options& options, steady::time_point deadline) {
    outcome result;
    auto phase = exchange_phase::connect;
    std::string head;
    try {
      session_->set_deadline(deadline);
      if (!connected())
        session_->open(options.connect_timeout);
      phase = exchange_phase::send;
      send_request(request, target);

      phase = exchange_phase::await_response;
      Poco::Net::HTTPResponse response;
      read_final_head(head, response);

      phase = exchange_phase::read_response;
      result.response = read_body(request, response, options.max_response_bytes, result);
      last_used_ = steady::now();
    } catch (const Poco::Exception& e) {
      bool deadline_passed = steady::now() >= deadline;
      result.response.reset();
      result.failure.error = classify(e, phase, deadline_passed);
      result.failure.before_response =
          !deadline_passed
          && (phase == exchange_phase::send
              || (phase == exchange_phase::await_response && head.empty()
                  && dynamic_cast<const Poco::TimeoutException*>(&e) == nullptr));
    } catch (const response_too_large&) {
      result.response.reset();
      result.failure.error = {outbound_error_code::response_too_large,
                              "response body exceeds " + std::to_string(options.max_response_bytes)
                                  + " bytes"};
    } catch (const std::bad_alloc&) {
      throw;
    } catch (const std::exception& e) {
      // Poco's stream classes may surface std::ios_base::failure and the like.
      result.response.reset();
      result.failure.error = {outbound_error_code::protocol_error, e.what()};
    }
    if (!result.response)
      result.keep_alive = false;
    return result;
  }

private:
  struct response_too_large {};

  void send_request(const outbound_request& request, const std::string& target) {
    Poco::Net::HTTPRequest poco_request(request.method, target, Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& [name, value] : request.headers)
      poco_request.add(name, value);
    // Framing is ours: a caller's Content-Length or Transfer-Encoding could
    // only contradict what we send.
    poco_request.erase(Poco::Net::HTTPMessage::CONTENT_LENGTH);
    poco_request.erase(Poco::Net::HTTPMessage::TRANSFER_ENCODING);
    if (!request.body.empty() || method_has_body(request.method))
      poco_request.setContentLength64(static_cast<Poco::Int64>(request.body.size()));
    if (!poco_request.has(Poco::Net::HTTPMessage::CONNECTION))
      poco_request.setKeepAlive(true);

    auto& session = session_->poco();
    std::ostream& out = session.sendRequest(poco_request);
    out.write(request.body.data(), static_cast<std::streamsize>(request.body.size()));
    out.flush();
    if (const Poco::Exception* e = session.networkException())
      e->rethrow();
    if (!out)
      throw Poco::Net::NetException("writing the request failed");
  }

  // Reads response heads until a final (non-1xx) one. `received` keeps every
  // byte read, interim responses included: the caller resends only when it is
  // empty.
  void read_final_head(std::string& received, Poco::Net::HTTPResponse& response) {
    for (;;) {
      auto start = received.size();
      session_->read_head(received);
      std::istringstream in(received.substr(start));
      response.clear();
      response.read(in);
      int status = static_cast<int>(response.getStatus());
      if (status == 101)
        throw Poco::Net::MessageException("unexpected 101 Switching Protocols");
      if (status >= 200)
        return;
      if (status < 100)
        throw Poco::Net::MessageException("bad status code " + std::to_string(status));
    }
  }

  outbound_response read_body(const outbound_request& request,
                              const Poco::Net::HTTPResponse& response, std::size_t max_bytes,
                              outcome& result) {
    outbound_response out;
    out.status = static_cast<int>(response.getStatus());
    for (const auto& [name, value] : response)
      out.headers.emplace_back(name, value);

    auto& session = session_->poco();
    bool keep_alive = response.getKeepAlive();
    bool no_body = request.method == "HEAD" || out.status == 204 || out.status == 304;
    std::optional<Poco::Int64> expected_length;
    std::unique_ptr<std::istream> body;
    if (no_body) {
      // nothing to read
    } else if (response.getChunkedTransferEncoding()) {
      body = std::make_unique<Poco::Net::HTTPChunkedInputStream>(session);
    } else if (response.hasContentLength()) {
      expected_length = response.getContentLength64();
      if (*expected_length < 0)
        throw Poco::Net::MessageException("negative Content-Length");
      if (static_cast<std::uint64_t>(*expected_length) > max_bytes)
        throw response_too_large{};
      body = std::make_unique<Poco::Net::HTTPFixedLengthInputStream>(session, *expected_length);
    } else {
      // Delimited by the server closing the connection.
      keep_alive = false;
      body = std::make_unique<Poco::Net::HTTPInputStream>(session);
    }

    if (body) {
      std::array<char, 8192> chunk{};
      for (;;) {
        body->read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
        out.body.append(chunk.data(), static_cast<std::size_t>(body->gcount()));
        if (out.body.size() > max_bytes)
          throw response_too_large{};
        if (!*body) {
          if (const Poco::Exception* e = session.networkException())
            e->rethrow();
          if (body->bad())
            throw Poco::Net::MessageException("malformed response body");
          break;
        }
      }
      if (expected_length && out.body.size() != static_cast<std::size_t>(*expected_length))
        throw Poco::Net::MessageException("response body shorter than its Content-Length");
    }
    result.keep_alive = keep_alive;
    return out;
  }

  std::unique_ptr<session_control> session_;
  steady::time_point last_used_ = steady::now();
};

// -- free functions ----------------------------------------------------------

const char* to_string(outbound_error_code code) {
  switch (code) {
  case outbound_error_code::bad_url:
    return "bad_url";
  case outbound_error_code::connect_failed:
    return "connect_failed";
  case outbound_error_code::timeout:
    return "timeout";
  case outbound_error_code::tls_failed:
    return "tls_failed";
  case outbound_error_code::protocol_error:
    return "protocol_error";
  case outbound_error_code::response_too_large:
    return "response_too_large";
  case outbound_error_code::invalid_request:
    return "invalid_request";
  }
  return "unknown";
}

const std::string* outbound_response::header(std::string_view name) const {
  for (const auto& [key, value] : headers)
    if (iequals(key, name))
      return &value;
  return nullptr;
}

std::string path_and_query(const std::string& url) {
  auto parsed = parse_url(url);
  return parsed ? std::move(parsed->target) : std::string();
}

// -- http_client ------------------------------------------------------------------

http_client::http_client(http_client_options options) : options_(std::move(options)) {
}

http_client::~http_client() = default;
http_client::http_client(http_client&&) noexcept = default;
http_client& http_client::operator=(http_client&&) noexcept = default;

void http_client::set_timeout(duration timeout) {
  options_.timeout = timeout;
}

void http_client::close_idle_connections() {
  connections_.clear();
}

std::unique_ptr<http_client::connection> http_client::make_connection(bool secure,
                                                                      const std::string& host,
                                                                      unsigned short port,
                                                                      outbound_error& error) {
  // A global proxy set elsewhere in the process must not apply here.
  Poco::Net::HTTPClientSession::ProxyConfig no_proxy;
  try {
    if (!secure) {
      auto session =
          std::make_unique<timed_session<Poco::Net::HTTPClientSession>>(host, port, no_proxy);
      return std::make_unique<connection>(std::move(session));
    }
    if (!tls_) {
      initialize_ssl_once();
      Poco::Net::Context::Params params;
      params.caLocation = options_.ca_file;
      params.loadDefaultCAs = options_.ca_file.empty();
      // STRICT also checks the host name of loopback servers, which RELAXED
      // skips. With no InvalidCertificateHandler installed, Poco rejects any
      // certificate that fails verification.
      params.verificationMode =
          options_.verify_tls ? Poco::Net::Context::VERIFY_STRICT : Poco::Net::Context::VERIFY_NONE;
      Poco::Net::Context::Ptr context =
          new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
      context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
      context->enableExtendedCertificateVerification(options_.verify_tls);
      tls_ = std::make_unique<tls_state>(tls_state{context});
    }
    auto session =
        std::make_unique<timed_session<Poco::Net::HTTPSClientSession>>(host, port, tls_->context);
    session->setProxyConfig(no_proxy);
    return std::make_unique<connection>(std::move(session));
  } catch (const Poco::Exception& e) {
    error = {secure ? outbound_error_code::tls_failed : outbound_error_code::connect_failed,
             "cannot set up the connection: " + e.displayText()};
    return nullptr;
  }
}

expected<outbound_response, outbound_error> http_client::send(const outbound_request& request) {
  auto url = parse_url(request.url);
  if (!url)
    return make_unexpected(outbound_error{outbound_error_code::bad_url, url.error()});
  if (!is_token(request.method))
    return make_unexpected(outbound_error{outbound_error_code::invalid_request, "bad method"});
  for (const auto& [name, value] : request.headers) {
    if (!is_token(name) || has_line_break_or_nul(value))
      return make_unexpected(
          outbound_error{outbound_error_code::invalid_request, "bad header '" + name + "'"});
  }

  auto start = steady::now();
  auto deadline = start + options_.timeout;
  if (options_.timeout <= duration::zero())
    return make_unexpected(outbound_error{outbound_error_code::timeout, "timeout is not positive"});

  std::unique_ptr<connection> conn;
  if (auto it = connections_.find(url->origin); it != connections_.end()) {
    conn = std::move(it->second);
    connections_.erase(it);
    if (!conn->reusable(start, options_.max_idle))
      conn.reset();
  }
  bool reused = conn != nullptr;

  for (;;) {
    if (!conn) {
      outbound_error error;
      conn = make_connection(url->secure, url->host, url->port, error);
      if (!conn)
        return make_unexpected(std::move(error));
    }
    auto result = conn->exchange(request, url->target, options_, deadline);
    if (result.response) {
      if (result.keep_alive)
        connections_[url->origin] = std::move(conn);
      return std::move(*result.response);
    }
    conn.reset();
    if (reused && result.failure.before_response) {
      // The server closed the idle connection as we sent on it: nothing of
      // this request was processed, so send it once more on a fresh one.
      spdlog::debug("http_client event=retry_on_fresh_connection origin={} reason=\"{}\"",
                    url->origin, result.failure.error.message);
      reused = false;
      continue;
    }
    return make_unexpected(std::move(result.failure.error));
  }
}

} // namespace paycoord::net
