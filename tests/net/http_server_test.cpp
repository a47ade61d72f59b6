#include "net/http_server.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using paycoord::duration;
using paycoord::net::http_request;
using paycoord::net::http_response;
using paycoord::net::http_server;
using paycoord::net::http_server_options;
using paycoord::net::request_context;
using paycoord::net::responder;
using paycoord::net::route_options;
using paycoord::net::route_status;
using paycoord::net::router;
using paycoord::net::router_limits;

std::string get(std::string_view target, std::string_view extra_headers = "") {
  return "GET " + std::string{target} + " HTTP/1.1\r\nHost: test\r\n" + std::string{extra_headers}
         + "\r\n";
}

std::string post(std::string_view target, std::string_view body) {
  return "POST " + std::string{target} + " HTTP/1.1\r\nHost: test\r\nContent-Length: "
         + std::to_string(body.size()) + "\r\n\r\n" + std::string{body};
}

nlohmann::json body_json(const http_response& response) {
  return nlohmann::json::parse(response.body(), nullptr, false);
}

/// The JSON error form: `{"code": code, "message": ...}` with `status`.
void expect_error(const http_response& response, unsigned status, std::string_view code) {
  EXPECT_EQ(response.result_int(), status);
  EXPECT_EQ(response[http::field::content_type], "application/json");
  auto json = body_json(response);
  EXPECT_EQ(json["code"], code) << response.body();
  EXPECT_TRUE(json["message"].is_string()) << response.body();
}

/// A blocking HTTP client over a real socket whose every operation gives up
/// after a few seconds, so that a server bug fails a test instead of hanging it.
class test_client {
public:
  /// Connects to 127.0.0.1:`port` from `from` (any loopback address: the
  /// whole of 127.0.0.0/8 is this machine's).
  explicit test_client(std::uint16_t port, const char* from = nullptr) : stream_(io_) {
    if (from != nullptr) {
      stream_.socket().open(tcp::v4());
      stream_.socket().bind(tcp::endpoint{asio::ip::make_address(from), 0});
    }
    connect_error = run([&](auto done) {
      stream_.async_connect(tcp::endpoint{asio::ip::make_address("127.0.0.1"), port}, done);
    });
  }

  beast::error_code send(std::string_view bytes) {
    return run([&](auto done) {
      asio::async_write(stream_, asio::buffer(bytes.data(), bytes.size()),
                        [done](beast::error_code ec, std::size_t) { done(ec); });
    });
  }

  /// Reads one response; `error` says why there is none.
  http_response read(beast::error_code* error = nullptr, bool head = false) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    parser.skip(head);
    auto ec = run([&](auto done) {
      http::async_read(stream_, buffer_, parser,
                       [done](beast::error_code ec, std::size_t) { done(ec); });
    });
    if (error)
      *error = ec;
    else
      EXPECT_FALSE(ec) << ec.message();
    return ec ? http_response{} : parser.release();
  }

  http_response exchange(std::string_view request) {
    EXPECT_FALSE(send(request));
    return read();
  }

  /// Reads until the server closes, then closes too (as a real client does,
  /// which ends the server's lingering); returns how the read ended: eof (or
  /// a reset) when the server closed, timeout when it did not.
  beast::error_code wait_closed() {
    std::vector<char> scratch(64 * 1024);
    beast::error_code ec;
    while (!ec)
      ec = run([&](auto done) {
        stream_.async_read_some(asio::buffer(scratch),
                                [done](beast::error_code ec, std::size_t) { done(ec); });
      });
    close();
    return ec;
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().close(ignored);
  }

  beast::error_code connect_error;

private:
  template <class Start>
  beast::error_code run(Start start) {
    beast::error_code result = beast::error::timeout;
    stream_.expires_after(3s);
    start([&result](beast::error_code ec) { result = ec; });
    io_.restart();
    io_.run();
    return result;
  }

  asio::io_context io_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

bool closed(beast::error_code ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset
         || ec == http::error::end_of_stream;
}

// -- fixture --------------------------------------------------------------------------

class http_server_test : public ::testing::Test {
protected:
  void TearDown() override {
    {
      std::lock_guard<std::mutex> guard{mutex_};
      held_.clear();
    }
    for (auto& t : helpers_)
      t.join();
    if (server_) {
      server_->stop();
      EXPECT_TRUE(server_->wait_idle(duration{3000}));
      server_.reset();
    }
    work_.reset();
    io_.stop();
    if (io_thread_.joinable())
      io_thread_.join();
  }

  void start(http_server_options options = {}) {
    auto result = http_server::start(io_, std::move(options), routes());
    ASSERT_TRUE(result.has_value()) << result.error();
    server_ = std::move(*result);
    io_thread_ = std::thread{[this] { io_.run(); }};
  }

  /// Runs `action` on a helper thread after `delay`, as an actor would answer.
  void later(std::chrono::milliseconds delay, std::function<void()> action) {
    std::lock_guard<std::mutex> guard{mutex_};
    helpers_.emplace_back([delay, action = std::move(action)] {
      std::this_thread::sleep_for(delay);
      action();
    });
  }

  router routes() {
    router r;
    r.add(http::verb::get, "/v1/orders/{out_trade_no}", [](request_context ctx) {
      nlohmann::json query = nlohmann::json::object();
      for (auto& [name, value] : ctx.query)
        query[name] = value;
      ctx.respond.send_json(200, {{"out_trade_no", ctx.path_param("out_trade_no")},
                                  {"query", query},
                                  {"loopback", ctx.remote.address().is_loopback()}});
    });
    r.add(http::verb::post, "/admin/api/orders/{id}/verify", [](request_context ctx) {
      ctx.respond.send_json(202, {{"id", ctx.path_param("id")}, {"body", ctx.request.body()}});
    });
    r.add_prefix(http::verb::get, "/admin/", [](request_context ctx) {
      ctx.respond.send_json(200, {{"asset", ctx.path_param(router::rest_param)}});
    });
    r.add(http::verb::post, "/v1/echo", [](request_context ctx) {
      ctx.respond.send_json(200, {{"bytes", ctx.request.body().size()}});
    });
    r.add(http::verb::get, "/slow/{ms}", [this](request_context ctx) {
      handler_started_ = true;
      auto delay = std::chrono::milliseconds(std::stoi(std::string{ctx.path_param("ms")}));
      later(delay, [respond = ctx.respond, delay] {
        respond.send_json(200, {{"slept", delay.count()}});
      });
    });
    r.add(http::verb::get, "/drop", [](request_context) {});
    r.add(http::verb::get, "/twice", [this](request_context ctx) {
      first_send_ = ctx.respond.send_json(200, {{"answer", 1}});
      second_send_ = ctx.respond.send_json(200, {{"answer", 2}});
    });
    r.add(http::verb::get, "/throw", [](request_context) -> void {
      throw std::runtime_error("handler bug");
    });
    r.add(http::verb::get, "/never", [this](request_context ctx) {
      std::lock_guard<std::mutex> guard{mutex_};
      held_.push_back(ctx.respond);
    });
    return r;
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::thread io_thread_;
  std::unique_ptr<http_server> server_;

  std::mutex mutex_;
  std::vector<std::thread> helpers_;
  std::vector<responder> held_;
  std::atomic<bool> handler_started_{false};
  std::atomic<bool> first_send_{false};
  std::atomic<bool> second_send_{true};
};

// -- routing ------------------------------------------------------------------------------

TEST_F(http_server_test, routes_by_pattern_with_decoded_params_and_query) {
  start();
  test_client client{server_->port()};
  auto response = client.exchange(get("/v1/orders/A%2D1?mchid=19&note=a+b%21&mchid=20"));
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_EQ(response[http::field::content_type], "application/json");
  EXPECT_EQ(response[http::field::server], "paycoord");
  EXPECT_EQ(response[http::field::content_length], std::to_string(response.body().size()));
  auto json = body_json(response);
  EXPECT_EQ(json["out_trade_no"], "A-1");
  EXPECT_EQ(json["query"], (nlohmann::json{{"mchid", "19"}, {"note", "a b!"}}));
  EXPECT_EQ(json["loopback"], true);

  response = client.exchange(post("/admin/api/orders/o-7/verify", "{}"));
  EXPECT_EQ(response.result_int(), 202u);
  EXPECT_EQ(body_json(response), (nlohmann::json{{"id", "o-7"}, {"body", "{}"}}));

  response = client.exchange(get("/admin/css/site.css"));
  EXPECT_EQ(body_json(response)["asset"], "css/site.css");
}

TEST_F(http_server_test, unknown_path_is_404_and_wrong_method_is_405_with_allow) {
  start();
  test_client client{server_->port()};
  auto response = client.exchange(get("/v2/nothing"));
  expect_error(response, 404, "NOT_FOUND");

  response = client.exchange("DELETE /v1/orders/A1 HTTP/1.1\r\nHost: test\r\n\r\n");
  expect_error(response, 405, "METHOD_NOT_ALLOWED");
  EXPECT_EQ(response[http::field::allow], "GET, HEAD");

  response = client.exchange(get("/v1/orders/A1?bad=%zz"));
  expect_error(response, 400, "INVALID_REQUEST");
}

TEST_F(http_server_test, head_is_served_by_the_get_route_without_a_body) {
  start();
  test_client client{server_->port()};
  ASSERT_FALSE(client.send("HEAD /v1/orders/A1 HTTP/1.1\r\nHost: test\r\n\r\n"));
  auto response = client.read(nullptr, true);
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_NE(response[http::field::content_length], "0");
  EXPECT_TRUE(response.body().empty());
  // The connection is still in step: the next answer parses.
  EXPECT_EQ(client.exchange(get("/v1/orders/A2")).result_int(), 200u);
}

// -- connections ------------------------------------------------------------------------------

TEST_F(http_server_test, keep_alive_serves_several_requests_on_one_connection) {
  start();
  test_client client{server_->port()};
  for (int i = 0; i < 3; ++i) {
    auto response = client.exchange(get("/v1/orders/K" + std::to_string(i)));
    EXPECT_EQ(response.result_int(), 200u);
    EXPECT_TRUE(response.keep_alive());
  }
  EXPECT_EQ(server_->counters().connections_total.load(), 1u);
  EXPECT_EQ(server_->counters().requests_total.load(), 3u);
}

TEST_F(http_server_test, http_1_0_without_keep_alive_is_answered_and_closed) {
  start();
  test_client client{server_->port()};
  auto response = client.exchange("GET /v1/orders/A1 HTTP/1.0\r\n\r\n");
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_EQ(response.version(), 10u);
  EXPECT_TRUE(closed(client.wait_closed()));
}

TEST_F(http_server_test, pipelined_requests_are_answered_in_order) {
  start();
  test_client client{server_->port()};
  // The first answer comes last from its thread; the order must not change.
  ASSERT_FALSE(client.send(get("/slow/150") + get("/v1/orders/P2") + get("/slow/30")));
  EXPECT_EQ(body_json(client.read())["slept"], 150);
  EXPECT_EQ(body_json(client.read())["out_trade_no"], "P2");
  EXPECT_EQ(body_json(client.read())["slept"], 30);
}

TEST_F(http_server_test, connection_cap_answers_503_and_closes) {
  http_server_options options;
  options.max_connections = 1;
  start(options);
  std::optional<test_client> first{std::in_place, server_->port()};
  EXPECT_EQ(first->exchange(get("/v1/orders/A1")).result_int(), 200u);

  test_client second{server_->port()};
  auto response = second.read();
  expect_error(response, 503, "TOO_MANY_CONNECTIONS");
  EXPECT_TRUE(closed(second.wait_closed()));
  EXPECT_EQ(server_->counters().connections_rejected.load(), 1u);

  first.reset();
  for (int i = 0; i < 400 && server_->counters().connections_open.load() > 0; ++i)
    std::this_thread::sleep_for(5ms);
  test_client third{server_->port()};
  EXPECT_EQ(third.exchange(get("/v1/orders/A3")).result_int(), 200u);
}

// CONTRACTS.md §8: one client holding connections cannot lock the others out.
TEST_F(http_server_test, per_address_cap_answers_503_to_that_address_only) {
  http_server_options options;
  options.max_connections_per_address = 2;
  start(options);
  test_client a1{server_->port(), "127.0.0.2"};
  test_client a2{server_->port(), "127.0.0.2"};
  EXPECT_EQ(a1.exchange(get("/v1/orders/A1")).result_int(), 200u);
  EXPECT_EQ(a2.exchange(get("/v1/orders/A2")).result_int(), 200u);
  test_client a3{server_->port(), "127.0.0.2"};
  expect_error(a3.read(), 503, "TOO_MANY_CONNECTIONS");
  EXPECT_TRUE(closed(a3.wait_closed()));
  EXPECT_EQ(server_->counters().connections_rejected_per_address.load(), 1u);
  // Another address (WeChat's) is still served.
  test_client other{server_->port(), "127.0.0.3"};
  EXPECT_EQ(other.exchange(get("/v1/orders/B1")).result_int(), 200u);
}

// -- timeouts ------------------------------------------------------------------------------

TEST_F(http_server_test, slow_client_is_disconnected_after_the_read_timeout) {
  http_server_options options;
  options.read_timeout = duration{200};
  start(options);
  test_client client{server_->port()};
  ASSERT_FALSE(client.send("GET /v1/orders/A1 HTTP/1.1\r\nHost: te"));
  auto began = std::chrono::steady_clock::now();
  EXPECT_TRUE(closed(client.wait_closed()));
  EXPECT_LT(std::chrono::steady_clock::now() - began, 2s);
}

TEST_F(http_server_test, idle_connection_is_closed_after_the_idle_timeout) {
  http_server_options options;
  options.idle_timeout = duration{200};
  start(options);
  test_client client{server_->port()};
  EXPECT_EQ(client.exchange(get("/v1/orders/A1")).result_int(), 200u);
  EXPECT_TRUE(closed(client.wait_closed()));
}

TEST_F(http_server_test, idle_timeout_does_not_cut_a_request_being_handled) {
  http_server_options options;
  options.idle_timeout = duration{100};
  options.read_timeout = duration{100};
  start(options);
  test_client client{server_->port()};
  // The handler takes longer than both timeouts; the client only waits.
  auto response = client.exchange(get("/slow/300"));
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_TRUE(response.keep_alive());
  // Once answered, the connection is idle again and times out.
  EXPECT_TRUE(closed(client.wait_closed()));
}

TEST_F(http_server_test, handler_that_never_answers_gets_504) {
  http_server_options options;
  options.handler_timeout = duration{100};
  start(options);
  test_client client{server_->port()};
  auto response = client.exchange(get("/never"));
  expect_error(response, 504, "TIMEOUT");
  // A late answer is dropped and the connection stays in step.
  {
    std::lock_guard<std::mutex> guard{mutex_};
    ASSERT_EQ(held_.size(), 1u);
    held_.front().send_json(200, {{"late", true}});
  }
  EXPECT_EQ(body_json(client.exchange(get("/v1/orders/A1")))["out_trade_no"], "A1");
}

// -- the responder -------------------------------------------------------------------------

TEST_F(http_server_test, responder_answers_from_another_thread_after_a_delay) {
  start();
  test_client client{server_->port()};
  auto response = client.exchange(get("/slow/50"));
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_EQ(body_json(response)["slept"], 50);
}

TEST_F(http_server_test, dropped_responder_gives_500) {
  start();
  test_client client{server_->port()};
  auto response = client.exchange(get("/drop"));
  expect_error(response, 500, "INTERNAL");
  EXPECT_EQ(server_->counters().handler_failures.load(), 1u);
}

TEST_F(http_server_test, responder_called_twice_answers_once) {
  start();
  test_client client{server_->port()};
  EXPECT_EQ(body_json(client.exchange(get("/twice")))["answer"], 1);
  EXPECT_TRUE(first_send_);
  EXPECT_FALSE(second_send_);
  // No stray second answer: the next response is the next request's.
  EXPECT_EQ(body_json(client.exchange(get("/v1/orders/N1")))["out_trade_no"], "N1");
}

TEST_F(http_server_test, handler_exception_gives_500_and_the_server_goes_on) {
  start();
  test_client client{server_->port()};
  auto response = client.exchange(get("/throw"));
  expect_error(response, 500, "INTERNAL");
  EXPECT_EQ(client.exchange(get("/v1/orders/A1")).result_int(), 200u);
}

TEST_F(http_server_test, responder_is_inert_when_default_constructed) {
  responder nobody;
  EXPECT_FALSE(nobody.send_error(500, "INTERNAL", "x"));
  EXPECT_FALSE(nobody.answered());
}

// -- limits and malformed input ----------------------------------------------------------------

TEST_F(http_server_test, body_over_the_limit_gets_a_readable_413_and_keeps_the_connection) {
  start();
  test_client client{server_->port()};
  auto response = client.exchange(post("/v1/echo", std::string(70 * 1024, 'x')));
  expect_error(response, 413, "PAYLOAD_TOO_LARGE");
  EXPECT_EQ(body_json(client.exchange(post("/v1/echo", "small")))["bytes"], 5);
}

TEST_F(http_server_test, route_body_limit_overrides_the_default) {
  router r;
  r.add(
      http::verb::post, "/tiny",
      [](request_context ctx) { ctx.respond.send_json(200, {{"ok", true}}); },
      route_options{16});
  auto result = http_server::start(io_, {}, std::move(r));
  ASSERT_TRUE(result.has_value());
  server_ = std::move(*result);
  io_thread_ = std::thread{[this] { io_.run(); }};
  test_client client{server_->port()};
  EXPECT_EQ(client.exchange(post("/tiny", std::string(16, 'x'))).result_int(), 200u);
  EXPECT_EQ(client.exchange(post("/tiny", std::string(17, 'x'))).result_int(), 413u);
}

TEST_F(http_server_test, body_over_the_discard_limit_closes_the_connection) {
  start();
  test_client client{server_->port()};
  // The server stops reading after 1 MiB, so this write may fail midway.
  client.send(post("/v1/echo", std::string(2 * 1024 * 1024, 'x')));
  beast::error_code ec;
  auto response = client.read(&ec);
  if (!ec) {
    EXPECT_EQ(response.result_int(), 413u);
  }
  EXPECT_TRUE(closed(ec) || closed(client.wait_closed())) << ec.message();
}

TEST_F(http_server_test, chunked_body_over_the_limit_gets_413_and_close) {
  start();
  test_client client{server_->port()};
  std::string chunk(32 * 1024, 'x');
  std::string request = "POST /v1/echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i)
    request += "8000\r\n" + chunk + "\r\n";
  request += "0\r\n\r\n";
  auto response = client.exchange(request);
  EXPECT_EQ(response.result_int(), 413u);
  EXPECT_FALSE(response.keep_alive());
  EXPECT_TRUE(closed(client.wait_closed()));
}

TEST_F(http_server_test, expect_100_continue_is_granted_or_refused_by_the_limit) {
  start();
  test_client client{server_->port()};
  std::string head = "POST /v1/echo HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\n"
                     "Content-Length: 5\r\n\r\n";
  ASSERT_FALSE(client.send(head));
  EXPECT_EQ(client.read().result_int(), 100u);
  ASSERT_FALSE(client.send("hello"));
  EXPECT_EQ(body_json(client.read())["bytes"], 5);

  // Over the limit: refused at once; the body is never sent, so the server closes.
  auto response = client.exchange("POST /v1/echo HTTP/1.1\r\nHost: test\r\n"
                                  "Expect: 100-continue\r\nContent-Length: 70000\r\n\r\n");
  EXPECT_EQ(response.result_int(), 413u);
  EXPECT_FALSE(response.keep_alive());
  EXPECT_TRUE(closed(client.wait_closed()));
}

TEST_F(http_server_test, header_over_the_limit_gets_431) {
  start();
  test_client client{server_->port()};
  auto response =
      client.exchange(get("/v1/orders/A1", "X-Padding: " + std::string(9000, 'p') + "\r\n"));
  expect_error(response, 431, "HEADER_TOO_LARGE");
  EXPECT_TRUE(closed(client.wait_closed()));
}

TEST_F(http_server_test, malformed_request_gets_400_and_close) {
  start();
  test_client client{server_->port()};
  auto response = client.exchange("GET /v1/orders/A1 HTTP/9.x\r\n\r\n");
  expect_error(response, 400, "BAD_REQUEST");
  EXPECT_TRUE(closed(client.wait_closed()));
}

// -- stopping ------------------------------------------------------------------------------------

TEST_F(http_server_test, stop_lets_an_in_flight_request_finish_and_closes_idle_ones) {
  start();
  test_client idle{server_->port()};
  EXPECT_EQ(idle.exchange(get("/v1/orders/A1")).result_int(), 200u);
  test_client busy{server_->port()};
  ASSERT_FALSE(busy.send(get("/slow/150")));
  for (int i = 0; i < 400 && !handler_started_; ++i)
    std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(handler_started_);

  server_->stop();
  EXPECT_TRUE(closed(idle.wait_closed()));
  auto response = busy.read();
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_FALSE(response.keep_alive());
  EXPECT_TRUE(closed(busy.wait_closed()));
  EXPECT_TRUE(server_->wait_idle(duration{2000}));

  test_client late{server_->port()};
  EXPECT_TRUE(late.connect_error || closed(late.wait_closed()));
}

TEST_F(http_server_test, start_reports_an_unusable_address) {
  http_server_options options;
  options.address = "not-an-address";
  auto result = http_server::start(io_, options, router{});
  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().find("not-an-address"), std::string::npos);

  start();
  options.address = "127.0.0.1";
  options.port = server_->port();
  auto taken = http_server::start(io_, options, router{});
  ASSERT_FALSE(taken.has_value());
  EXPECT_NE(taken.error().find("bind"), std::string::npos) << taken.error();
}

// -- router and target parsing (no sockets) ---------------------------------------------------------

void ignore(request_context) {
}

TEST(router_test, pattern_routes_beat_prefixes_and_longer_prefixes_win) {
  router r;
  r.add_prefix(http::verb::get, "/admin/", ignore);
  r.add_prefix(http::verb::get, "/admin/api/", ignore);
  r.add(http::verb::get, "/admin/api/orders/{id}", ignore);
  auto match = r.find(http::verb::get, "/admin/api/orders/o%201");
  ASSERT_EQ(match.status, route_status::found);
  EXPECT_EQ(match.params.at("id"), "o 1");
  match = r.find(http::verb::get, "/admin/api/summary");
  EXPECT_EQ(match.params.at(std::string{router::rest_param}), "summary");
  match = r.find(http::verb::get, "/admin/index.html");
  EXPECT_EQ(match.params.at(std::string{router::rest_param}), "index.html");
}

TEST(router_test, params_must_be_nonempty_decodable_and_bounded) {
  router r{router_limits{8, 4}};
  r.add(http::verb::get, "/v1/orders/{out_trade_no}", ignore);
  EXPECT_EQ(r.find(http::verb::get, "/v1/orders/").status, route_status::not_found);
  EXPECT_EQ(r.find(http::verb::get, "/v1/orders/a/b").status, route_status::not_found);
  EXPECT_EQ(r.find(http::verb::get, "/v1/orders/%G1").status, route_status::bad_param);
  EXPECT_EQ(r.find(http::verb::get, "/v1/orders/123456789").status, route_status::bad_param);
  EXPECT_EQ(r.find(http::verb::get, "/v1/orders/12345678").status, route_status::found);
  auto match = r.find(http::verb::post, "/v1/orders/1");
  EXPECT_EQ(match.status, route_status::method_not_allowed);
  EXPECT_EQ(match.allow, "GET, HEAD");
}

TEST(router_test, malformed_patterns_are_rejected_at_wiring_time) {
  router r;
  EXPECT_THROW(r.add(http::verb::get, "v1/orders", ignore), std::invalid_argument);
  EXPECT_THROW(r.add(http::verb::get, "/v1/x{id}", ignore), std::invalid_argument);
  EXPECT_THROW(r.add(http::verb::get, "/v1/{}", ignore), std::invalid_argument);
  EXPECT_THROW(r.add(http::verb::get, "/{a}/{a}", ignore), std::invalid_argument);
  EXPECT_THROW(r.add_prefix(http::verb::get, "admin/", ignore), std::invalid_argument);
}

TEST(router_test, percent_decoding) {
  using paycoord::net::percent_decode;
  EXPECT_EQ(percent_decode("a%2Fb+c", false, 64), "a/b+c");
  EXPECT_EQ(percent_decode("a%2fb+c", true, 64), "a/b c");
  EXPECT_EQ(percent_decode("%", false, 64), std::nullopt);
  EXPECT_EQ(percent_decode("%4", false, 64), std::nullopt);
  EXPECT_EQ(percent_decode("%zz", false, 64), std::nullopt);
  EXPECT_EQ(percent_decode("%00", false, 64), std::nullopt);
  EXPECT_EQ(percent_decode("abcd", false, 3), std::nullopt);
}

TEST(router_test, query_parsing) {
  using paycoord::net::parse_query;
  router_limits limits{16, 4};
  auto query = parse_query("a=1&&flag&b=x%20y&a=2", limits);
  ASSERT_TRUE(query);
  EXPECT_EQ(*query, (paycoord::net::param_map{{"a", "1"}, {"b", "x y"}, {"flag", ""}}));
  EXPECT_FALSE(parse_query("a=1&b=2&c=3&d=4&e=5", limits));
  EXPECT_FALSE(parse_query("a=%zz", limits));
  EXPECT_FALSE(parse_query("a=" + std::string(17, 'v'), limits));
}

TEST(json_response_test, error_form_and_headers) {
  auto response = paycoord::net::json_error(409, "ORDER_CONFLICT", "bad \xff byte", 10, false);
  EXPECT_EQ(response.result_int(), 409u);
  EXPECT_EQ(response.version(), 10u);
  EXPECT_FALSE(response.keep_alive());
  EXPECT_EQ(response[http::field::content_type], "application/json");
  EXPECT_EQ(response[http::field::content_length], std::to_string(response.body().size()));
  auto json = nlohmann::json::parse(response.body());
  EXPECT_EQ(json["code"], "ORDER_CONFLICT");
  EXPECT_TRUE(json["message"].is_string());
}

} // namespace
