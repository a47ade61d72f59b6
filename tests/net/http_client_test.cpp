#include "net/http_client.hpp"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/Socket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Timespan.h>
#include <gtest/gtest.h>

namespace paycoord::net {
namespace {

using namespace std::chrono_literals;

// -- a scripted HTTP/1.1 server on 127.0.0.1:0 -----------------------------------

struct received_request {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int connection = 0; // 1-based, in accept order
  int index = 0;      // 1-based, per connection
};

/// What the server does with one request.
struct reply {
  std::string bytes;        // written verbatim
  bool close_after = false; // then close the connection
  bool hang = false;        // write nothing; hold the connection until the client or the test ends
};

std::string http_response(int status, const std::string& body,
                          const std::string& extra_headers = {}) {
  return "HTTP/1.1 " + std::to_string(status) + " Whatever\r\nContent-Length: "
         + std::to_string(body.size()) + "\r\n" + extra_headers + "\r\n" + body;
}

reply ok(const std::string& body = "ok") {
  return {http_response(200, body), false, false};
}

class scripted_server {
public:
  using handler = std::function<reply(const received_request&)>;

  explicit scripted_server(handler on_request, Poco::Net::Context::Ptr tls = nullptr)
      : on_request_(std::move(on_request)), secure_(!tls.isNull()) {
    Poco::Net::SocketAddress address("127.0.0.1", 0);
    if (secure_)
      listener_ = Poco::Net::SecureServerSocket(address, 16, tls);
    else
      listener_ = Poco::Net::ServerSocket(address, 16);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~scripted_server() {
    stop_ = true;
    acceptor_.join();
    std::vector<std::thread> workers;
    {
      std::lock_guard lock(mutex_);
      workers.swap(workers_);
    }
    for (auto& worker : workers)
      worker.join();
  }

  std::string url(const std::string& target) const {
    return std::string(secure_ ? "https" : "http")
           + "://127.0.0.1:" + std::to_string(listener_.address().port()) + target;
  }

  unsigned short port() const {
    return listener_.address().port();
  }

  int connections() const {
    return accepted_.load();
  }

  std::vector<received_request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

private:
  inline static const Poco::Timespan poll_step{0, 20000};

  void accept_loop() {
    while (!stop_) {
      try {
        if (!listener_.poll(poll_step, Poco::Net::Socket::SELECT_READ))
          continue;
        Poco::Net::StreamSocket socket = listener_.acceptConnection();
        int index = ++accepted_;
        std::lock_guard lock(mutex_);
        workers_.emplace_back([this, socket, index]() mutable { serve(socket, index); });
      } catch (const Poco::Exception&) {
        // a failed accept (e.g. a client that gave up) is not the test's business
      }
    }
  }

  // Waits for input; false once the test is over.
  bool wait_readable(Poco::Net::StreamSocket& socket) {
    while (!stop_) {
      if (socket.available() > 0 || socket.poll(poll_step, Poco::Net::Socket::SELECT_READ))
        return true;
    }
    return false;
  }

  // Appends what arrives to `pending`; false on end of stream or stop.
  bool receive_more(Poco::Net::StreamSocket& socket, std::string& pending) {
    char chunk[4096];
    if (!wait_readable(socket))
      return false;
    int n = socket.receiveBytes(chunk, sizeof chunk);
    if (n <= 0)
      return false;
    pending.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  // Reads one request into `out`; false on end of stream, error or stop.
  bool read_request(Poco::Net::StreamSocket& socket, std::string& pending, received_request& out) {
    std::size_t head_end;
    while ((head_end = pending.find("\r\n\r\n")) == std::string::npos) {
      if (!receive_more(socket, pending))
        return false;
    }
    std::string head = pending.substr(0, head_end);
    pending.erase(0, head_end + 4);

    auto line_end = head.find("\r\n");
    std::string request_line = head.substr(0, line_end);
    auto first_space = request_line.find(' ');
    auto last_space = request_line.rfind(' ');
    out.method = request_line.substr(0, first_space);
    out.target = request_line.substr(first_space + 1, last_space - first_space - 1);
    std::size_t content_length = 0;
    for (auto pos = line_end; pos != std::string::npos && pos < head.size();) {
      auto begin = pos + 2;
      auto end = head.find("\r\n", begin);
      std::string field =
          head.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
      auto colon = field.find(':');
      std::string name = field.substr(0, colon);
      std::string value = field.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      out.headers.emplace_back(name, value);
      if (name == "Content-Length")
        content_length = std::stoul(value);
      pos = end;
    }
    while (pending.size() < content_length) {
      if (!receive_more(socket, pending))
        return false;
    }
    out.body = pending.substr(0, content_length);
    pending.erase(0, content_length);
    return true;
  }

  void serve(Poco::Net::StreamSocket socket, int connection) {
    try {
      socket.setReceiveTimeout(Poco::Timespan(2, 0));
      std::string pending;
      for (int index = 1;; ++index) {
        received_request request;
        if (!read_request(socket, pending, request))
          break;
        request.connection = connection;
        request.index = index;
        {
          std::lock_guard lock(mutex_);
          requests_.push_back(request);
        }
        reply answer = on_request_(request);
        if (answer.hang) {
          std::string ignored;
          received_request more;
          read_request(socket, ignored, more); // until the client goes away or the test ends
          break;
        }
        for (std::size_t sent = 0; sent < answer.bytes.size();)
          sent += static_cast<std::size_t>(socket.sendBytes(
              answer.bytes.data() + sent, static_cast<int>(answer.bytes.size() - sent)));
        if (answer.close_after)
          break;
      }
      socket.close();
    } catch (const Poco::Exception&) {
      // the client hung up or TLS failed: that is what some tests provoke
    }
  }

  handler on_request_;
  bool secure_;
  Poco::Net::ServerSocket listener_;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  mutable std::mutex mutex_;
  // -- guarded by mutex_
  std::vector<std::thread> workers_;
  std::vector<received_request> requests_;
};

// -- helpers -----------------------------------------------------------------------

std::filesystem::path tls_dir() {
  if (const char* source = std::getenv("PAYCOORD_SOURCE_DIR"))
    return std::filesystem::path(source) / "tests/data/tls";
  return std::filesystem::path(__FILE__).parent_path().parent_path() / "data/tls";
}

Poco::Net::Context::Ptr server_tls(const std::string& name) {
  Poco::Net::initializeSSL();
  auto dir = tls_dir();
  return new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE,
                                (dir / (name + ".key")).string(), (dir / (name + ".crt")).string(),
                                "", Poco::Net::Context::VERIFY_NONE);
}

outbound_request get(const std::string& url) {
  return {"GET", url, {}, {}};
}

http_client_options fast_options() {
  http_client_options options;
  options.connect_timeout = 1s;
  options.timeout = 2s;
  return options;
}

// Port that nothing listens on: bound, then released.
unsigned short closed_port() {
  Poco::Net::ServerSocket probe(Poco::Net::SocketAddress("127.0.0.1", 0));
  unsigned short port = probe.address().port();
  probe.close();
  return port;
}

// -- path_and_query ------------------------------------------------------------------

TEST(path_and_query, keeps_path_and_query_byte_for_byte) {
  EXPECT_EQ(
      path_and_query(
          "https://api.mch.weixin.qq.com/v3/pay/transactions/out-trade-no/A1?mchid=1900000001"),
      "/v3/pay/transactions/out-trade-no/A1?mchid=1900000001");
  EXPECT_EQ(path_and_query("http://h:8080/a%2Fb/c|d*e?q=a%20b&x=%E4%B8%AD&y=&z"),
            "/a%2Fb/c|d*e?q=a%20b&x=%E4%B8%AD&y=&z");
  EXPECT_EQ(path_and_query("http://h/a//b/./c/../d"), "/a//b/./c/../d");
}

TEST(path_and_query, supplies_root_and_drops_fragment) {
  EXPECT_EQ(path_and_query("http://example.com"), "/");
  EXPECT_EQ(path_and_query("http://example.com?x=1"), "/?x=1");
  EXPECT_EQ(path_and_query("HTTPS://example.com:8443/p?q#frag"), "/p?q");
  EXPECT_EQ(path_and_query("http://example.com#frag"), "/");
}

TEST(path_and_query, is_empty_for_urls_send_rejects) {
  EXPECT_EQ(path_and_query(""), "");
  EXPECT_EQ(path_and_query("/relative?x"), "");
  EXPECT_EQ(path_and_query("ftp://example.com/x"), "");
  EXPECT_EQ(path_and_query("http:///nohost"), "");
  EXPECT_EQ(path_and_query("http://user:pw@example.com/x"), "");
  EXPECT_EQ(path_and_query("http://example.com:99999/x"), "");
  EXPECT_EQ(path_and_query("http://example.com/a b"), "");
  EXPECT_EQ(path_and_query("http://example.com/a\r\nX-Injected: 1"), "");
}

// -- plain HTTP ----------------------------------------------------------------------

TEST(http_client, get_round_trip_with_headers_and_body) {
  scripted_server server([](const received_request&) {
    return reply{
        http_response(200, "{\"hello\":1}", "X-Reply: yes\r\nContent-Type: application/json\r\n")};
  });
  http_client client(fast_options());
  outbound_request request = get(server.url("/status"));
  request.headers = {{"Accept", "application/json"}, {"X-Trace", "abc 123"}};

  auto response = client.send(request);

  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "{\"hello\":1}");
  ASSERT_NE(response->header("x-reply"), nullptr);
  EXPECT_EQ(*response->header("X-REPLY"), "yes");
  EXPECT_EQ(response->header("X-Absent"), nullptr);
  auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].target, "/status");
  EXPECT_EQ(seen[0].body, "");
  bool trace_seen = false;
  bool host_seen = false;
  for (const auto& [name, value] : seen[0].headers) {
    trace_seen |= name == "X-Trace" && value == "abc 123";
    host_seen |= name == "Host" && value == "127.0.0.1:" + std::to_string(server.port());
    EXPECT_NE(name, "Content-Length") << "a GET without body carries no Content-Length";
  }
  EXPECT_TRUE(trace_seen);
  EXPECT_TRUE(host_seen);
}

TEST(http_client, post_sends_body_with_content_length) {
  scripted_server server([](const received_request& request) {
    return reply{http_response(201, "got " + request.body)};
  });
  http_client client(fast_options());
  std::string body = R"({"mchid":"1900000001"})";

  auto response = client.send({"POST",
                               server.url("/v3/pay/transactions/jsapi"),
                               {{"Content-Type", "application/json"}, {"Content-Length", "999"}},
                               body});

  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(response->body, "got " + body);
  auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].body, body);
  int content_lengths = 0;
  for (const auto& [name, value] : seen[0].headers) {
    if (name == "Content-Length") {
      ++content_lengths;
      EXPECT_EQ(value, std::to_string(body.size())) << "the caller's Content-Length is replaced";
    }
  }
  EXPECT_EQ(content_lengths, 1);
}

TEST(http_client, empty_post_sends_content_length_zero) {
  scripted_server server([](const received_request&) { return reply{http_response(204, "")}; });
  http_client client(fast_options());

  auto response = client.send({"POST", server.url("/close"), {}, ""});

  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 204);
  auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  bool zero_length = false;
  for (const auto& [name, value] : seen[0].headers)
    zero_length |= name == "Content-Length" && value == "0";
  EXPECT_TRUE(zero_length);
}

TEST(http_client, exact_path_and_query_reach_the_server) {
  scripted_server server([](const received_request&) { return ok(); });
  http_client client(fast_options());
  const std::vector<std::string> targets = {
      "/v3/pay/transactions/out-trade-no/A1?mchid=1900000001",
      "/v1/x/A%2fb|c*d?q=a%20b&z=%E4%B8%AD&empty=&flag",
      "/a//b/./c/../d?x=%2B+y",
  };

  for (const auto& target : targets) {
    auto response = client.send(get(server.url(target) + "#fragment-is-not-sent"));
    ASSERT_TRUE(response) << response.error().message;
  }

  auto seen = server.requests();
  ASSERT_EQ(seen.size(), targets.size());
  for (std::size_t i = 0; i < targets.size(); ++i) {
    EXPECT_EQ(seen[i].target, targets[i]);
    EXPECT_EQ(seen[i].target, path_and_query(server.url(targets[i])));
  }
}

TEST(http_client, error_statuses_are_responses) {
  scripted_server server([](const received_request& request) {
    if (request.target == "/missing")
      return reply{http_response(404, R"({"code":"ORDER_NOT_EXIST","message":"no"})")};
    return reply{http_response(500, R"({"code":"SYSTEM_ERROR","message":"oops"})")};
  });
  http_client client(fast_options());

  auto missing = client.send(get(server.url("/missing")));
  auto broken = client.send(get(server.url("/broken")));

  ASSERT_TRUE(missing) << missing.error().message;
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->body, R"({"code":"ORDER_NOT_EXIST","message":"no"})");
  ASSERT_TRUE(broken) << broken.error().message;
  EXPECT_EQ(broken->status, 500);
  EXPECT_EQ(server.connections(), 1) << "an error status does not cost the connection";
}

TEST(http_client, redirects_are_not_followed) {
  scripted_server server([](const received_request&) {
    return reply{http_response(302, "", "Location: /elsewhere\r\n")};
  });
  http_client client(fast_options());

  auto response = client.send(get(server.url("/start")));

  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 302);
  ASSERT_NE(response->header("location"), nullptr);
  EXPECT_EQ(*response->header("location"), "/elsewhere");
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(http_client, decodes_chunked_and_close_delimited_bodies) {
  scripted_server server([](const received_request& request) {
    if (request.target == "/chunked")
      return reply{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n "
                   "world\r\n0\r\n\r\n"};
    return reply{"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end", true};
  });
  http_client client(fast_options());

  auto chunked = client.send(get(server.url("/chunked")));
  auto delimited = client.send(get(server.url("/close-delimited")));

  ASSERT_TRUE(chunked) << chunked.error().message;
  EXPECT_EQ(chunked->body, "hello world");
  ASSERT_TRUE(delimited) << delimited.error().message;
  EXPECT_EQ(delimited->body, "until the end");
}

TEST(http_client, skips_interim_responses) {
  scripted_server server([](const received_request&) {
    return reply{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal"};
  });
  http_client client(fast_options());

  auto response = client.send({"POST", server.url("/x"), {}, "body"});

  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "final");
}

TEST(http_client, stray_bytes_after_a_response_retire_the_connection) {
  scripted_server server([](const received_request& request) {
    if (request.connection == 1)
      return reply{http_response(200, "ok") + "HTTP/1.1 200 OK\r\n"};
    return ok("clean");
  });
  http_client client(fast_options());

  auto first = client.send(get(server.url("/a")));
  auto second = client.send(get(server.url("/b")));

  ASSERT_TRUE(first) << first.error().message;
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->body, "clean") << "never read as the answer to the next request";
  EXPECT_EQ(server.connections(), 2);
}

TEST(http_client, reuses_the_kept_alive_connection) {
  scripted_server server([](const received_request& request) {
    if (request.method == "HEAD")
      return reply{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"};
    return ok();
  });
  http_client client(fast_options());

  auto first = client.send(get(server.url("/one")));
  auto second = client.send({"POST", server.url("/two"), {}, "body"});
  auto third = client.send({"HEAD", server.url("/three"), {}, {}});
  auto fourth = client.send(get(server.url("/four")));

  ASSERT_TRUE(first) << first.error().message;
  ASSERT_TRUE(second) << second.error().message;
  ASSERT_TRUE(third) << third.error().message;
  EXPECT_EQ(third->body, "") << "a HEAD response has no body even with a Content-Length";
  ASSERT_TRUE(fourth) << fourth.error().message;
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(server.requests().size(), 4u);
}

TEST(http_client, opens_a_new_connection_after_connection_close) {
  scripted_server server([](const received_request&) {
    return reply{http_response(200, "bye", "Connection: close\r\n"), true};
  });
  http_client client(fast_options());

  ASSERT_TRUE(client.send(get(server.url("/a"))));
  ASSERT_TRUE(client.send(get(server.url("/b"))));

  EXPECT_EQ(server.connections(), 2);
}

TEST(http_client, server_closing_an_idle_connection_is_transparent) {
  // The server answers keep-alive and then closes the connection anyway.
  scripted_server server([](const received_request&) {
    return reply{http_response(200, "ok"), true};
  });
  http_client client(fast_options());

  auto first = client.send(get(server.url("/a")));
  auto second = client.send(get(server.url("/b")));

  ASSERT_TRUE(first) << first.error().message;
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(http_client, retries_once_when_a_reused_connection_dies_before_the_response) {
  // Connection 1 answers its first request, then drops the second one
  // unanswered; connection 2 answers.
  scripted_server server([](const received_request& request) {
    if (request.connection == 1 && request.index == 2)
      return reply{"", true};
    return ok("answer " + request.target);
  });
  http_client client(fast_options());

  auto first = client.send(get(server.url("/first")));
  auto second = client.send({"POST", server.url("/second"), {}, "payload"});

  ASSERT_TRUE(first) << first.error().message;
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->body, "answer /second");
  auto seen = server.requests();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[1].connection, 1);
  EXPECT_EQ(seen[2].connection, 2);
  EXPECT_EQ(seen[2].target, "/second");
  EXPECT_EQ(seen[2].body, "payload");
}

TEST(http_client, does_not_resend_after_the_response_started) {
  scripted_server server([](const received_request& request) {
    if (request.index == 2)
      return reply{"HTTP/1.1 200 OK\r\nContent-Le", true};
    return ok();
  });
  http_client client(fast_options());

  ASSERT_TRUE(client.send(get(server.url("/first"))));
  auto second = client.send(get(server.url("/second")));

  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, outbound_error_code::protocol_error);
  EXPECT_EQ(server.requests().size(), 2u);
  EXPECT_EQ(server.connections(), 1);
}

TEST(http_client, does_not_resend_on_a_fresh_connection) {
  scripted_server server([](const received_request&) { return reply{"", true}; });
  http_client client(fast_options());

  auto response = client.send(get(server.url("/x")));

  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, outbound_error_code::protocol_error);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(http_client, malformed_answers_are_protocol_errors) {
  const std::vector<std::string> answers = {
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this", // body cut short
      "SSH-2.0-OpenSSH_9.2\r\n\r\n",                             // not HTTP
      "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",           // impossible length
      "HTTP/1.1 200 OK\r\nX-Cut: ",                              // header cut short
  };
  // Every failure costs the connection, so connection n gets answer n.
  scripted_server server([&answers](const received_request& request) {
    return reply{answers.at(static_cast<std::size_t>(request.connection - 1)), true};
  });
  http_client client(fast_options());

  for (const auto& answer : answers) {
    auto response = client.send(get(server.url("/x")));
    ASSERT_FALSE(response) << answer;
    EXPECT_EQ(response.error().code, outbound_error_code::protocol_error) << answer;
  }
}

TEST(http_client, refused_port_is_connect_failed) {
  http_client client(fast_options());

  auto response = client.send(get("http://127.0.0.1:" + std::to_string(closed_port()) + "/x"));

  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, outbound_error_code::connect_failed) << response.error().message;
  EXPECT_STREQ(to_string(response.error().code), "connect_failed");
}

TEST(http_client, silent_server_times_out_within_the_timeout) {
  scripted_server server([](const received_request&) { return reply{"", false, true}; });
  auto options = fast_options();
  options.timeout = 300ms;
  http_client client(options);

  auto started = std::chrono::steady_clock::now();
  auto response = client.send(get(server.url("/x")));
  auto elapsed = std::chrono::steady_clock::now() - started;

  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, outbound_error_code::timeout) << response.error().message;
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 2s) << "bounded by the 300 ms timeout, not by Poco's 60 s default";
}

TEST(http_client, set_timeout_applies_and_timeouts_are_not_resent) {
  scripted_server server([](const received_request& request) {
    if (request.index == 2)
      return reply{"", false, true};
    return ok();
  });
  http_client client(fast_options());
  ASSERT_TRUE(client.send(get(server.url("/first"))));

  client.set_timeout(200ms);
  auto response = client.send(get(server.url("/second")));

  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, outbound_error_code::timeout);
  EXPECT_EQ(server.requests().size(), 2u)
      << "a request that may be in progress is never sent twice";
}

TEST(http_client, trickling_body_is_bounded_by_the_whole_request_timeout) {
  scripted_server server([](const received_request&) {
    return reply{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", false, true};
  });
  auto options = fast_options();
  options.timeout = 300ms;
  http_client client(options);

  auto response = client.send(get(server.url("/x")));

  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, outbound_error_code::timeout);
}

TEST(http_client, response_over_the_limit_is_rejected) {
  std::string big(4096, 'x');
  scripted_server server([&big](const received_request& request) {
    if (request.target == "/declared")
      return reply{http_response(200, big)};
    if (request.target == "/chunked")
      return reply{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n" + big
                   + "\r\n0\r\n\r\n"};
    if (request.target == "/exact")
      return reply{http_response(200, big.substr(0, 1024))};
    return reply{"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + big, true};
  });
  auto options = fast_options();
  options.max_response_bytes = 1024;
  http_client client(options);

  for (const char* target : {"/declared", "/chunked", "/undelimited"}) {
    auto response = client.send(get(server.url(target)));
    ASSERT_FALSE(response) << target;
    EXPECT_EQ(response.error().code, outbound_error_code::response_too_large) << target;
  }
  auto exact = client.send(get(server.url("/exact")));
  ASSERT_TRUE(exact) << exact.error().message;
  EXPECT_EQ(exact->body.size(), 1024u);
}

TEST(http_client, rejects_bad_urls_and_header_injection_without_sending) {
  scripted_server server([](const received_request&) { return ok(); });
  http_client client(fast_options());

  auto no_scheme = client.send(get("127.0.0.1/x"));
  auto bad_space = client.send(get(server.url("/a b")));
  auto bad_value = client.send({"GET", server.url("/x"), {{"X-A", "1\r\nX-Injected: 2"}}, {}});
  auto bad_name = client.send({"GET", server.url("/x"), {{"Bad Name", "1"}}, {}});
  auto bad_method = client.send({"GET /x HTTP/1.1\r\n", server.url("/x"), {}, {}});

  ASSERT_FALSE(no_scheme);
  EXPECT_EQ(no_scheme.error().code, outbound_error_code::bad_url);
  ASSERT_FALSE(bad_space);
  EXPECT_EQ(bad_space.error().code, outbound_error_code::bad_url);
  ASSERT_FALSE(bad_value);
  EXPECT_EQ(bad_value.error().code, outbound_error_code::invalid_request);
  ASSERT_FALSE(bad_name);
  EXPECT_EQ(bad_name.error().code, outbound_error_code::invalid_request);
  ASSERT_FALSE(bad_method);
  EXPECT_EQ(bad_method.error().code, outbound_error_code::invalid_request);
  EXPECT_EQ(server.connections(), 0);
}

// -- HTTPS ---------------------------------------------------------------------------

TEST(http_client_tls, works_without_verification) {
  scripted_server server(
      [](const received_request& request) { return ok("secure " + request.target); },
      server_tls("server"));
  auto options = fast_options();
  options.verify_tls = false;
  http_client client(options);

  auto first = client.send(get(server.url("/v3/certificates?x=1")));
  auto second = client.send({"POST", server.url("/p"), {}, "{}"});

  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->body, "secure /v3/certificates?x=1");
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(server.connections(), 1) << "HTTPS connections are kept alive too";
}

TEST(http_client_tls, verification_rejects_a_self_signed_certificate) {
  scripted_server server([](const received_request&) { return ok(); }, server_tls("server"));
  http_client client(fast_options()); // verify_tls defaults to true, system CA store

  auto response = client.send(get(server.url("/x")));

  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, outbound_error_code::tls_failed) << response.error().message;
  EXPECT_TRUE(server.requests().empty());
}

TEST(http_client_tls, trusts_a_ca_file) {
  scripted_server server([](const received_request&) { return ok("trusted"); },
                         server_tls("server"));
  auto options = fast_options();
  options.ca_file = (tls_dir() / "server.crt").string();
  http_client client(options);

  auto by_ip = client.send(get(server.url("/x")));
  auto by_name = client.send(get("https://localhost:" + std::to_string(server.port()) + "/y"));

  ASSERT_TRUE(by_ip) << by_ip.error().message;
  EXPECT_EQ(by_ip->body, "trusted");
  ASSERT_TRUE(by_name) << by_name.error().message;
}

TEST(http_client_tls, verification_checks_the_host_name) {
  // Trusted certificate, but issued for another name.
  scripted_server server([](const received_request&) { return ok(); }, server_tls("wrong_host"));
  auto options = fast_options();
  options.ca_file = (tls_dir() / "wrong_host.crt").string();
  http_client client(options);

  auto response = client.send(get(server.url("/x")));

  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, outbound_error_code::tls_failed) << response.error().message;
  EXPECT_TRUE(server.requests().empty());
}

TEST(http_client_tls, unreadable_ca_file_is_tls_failed) {
  auto options = fast_options();
  options.ca_file = (tls_dir() / "does-not-exist.pem").string();
  http_client client(options);

  auto response = client.send(get("https://127.0.0.1:" + std::to_string(closed_port()) + "/x"));

  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, outbound_error_code::tls_failed) << response.error().message;
}

TEST(http_client_tls, silent_server_times_out) {
  scripted_server server(
      [](const received_request&) {
        return reply{"", false, true};
      },
      server_tls("server"));
  auto options = fast_options();
  options.verify_tls = false;
  options.timeout = 300ms;
  http_client client(options);

  auto response = client.send(get(server.url("/x")));

  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, outbound_error_code::timeout) << response.error().message;
}

TEST(http_client_tls, server_that_never_handshakes_times_out) {
  // Plain TCP server: accepts, reads the ClientHello, never answers.
  scripted_server server([](const received_request&) { return ok(); });
  auto options = fast_options();
  options.connect_timeout = 300ms;
  http_client client(options);

  auto started = std::chrono::steady_clock::now();
  auto response = client.send(get("https://127.0.0.1:" + std::to_string(server.port()) + "/x"));
  auto elapsed = std::chrono::steady_clock::now() - started;

  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, outbound_error_code::timeout) << response.error().message;
  EXPECT_LT(elapsed, 1500ms) << "bounded by connect_timeout";
}

} // namespace
} // namespace paycoord::net
