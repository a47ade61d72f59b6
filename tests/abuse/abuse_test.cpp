// Abusive clients against a real paycoord (issue 11, item 4): paycoord and
// paysim run as processes on loopback, the notify route on a listener of its
// own (CONTRACTS.md §8) as it faces the internet. While each abuse runs,
// valid, signed payment notifications for real paid orders keep flowing from
// another address (127.0.0.1; the abuser is 127.0.0.2), each on a fresh
// connection. Every test asserts that they all get their 204 within 1 s, that
// paycoord's RSS stays bounded, and that the abuse itself gets its proper 4xx
// or a closed connection; it prints
//   abuse: <name>: worst valid-notification latency <N> ms (<count> valid notifications)
//
// The server's timeouts are not configurable (net/http_server.hpp defaults:
// read_timeout 10 s from a request's first byte to its last), so the two
// trickling tests take about 10 s each; everything else takes a few seconds.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include "net/http_server.hpp"
#include "tests/abuse/notification_maker.hpp"
#include "tests/abuse/notification_probe.hpp"
#include "tests/abuse/raw_connection.hpp"
#include "tests/integration/e2e_fixture.hpp"
#include "tests/prometheus_text.hpp"

using namespace paycoord;
using namespace paycoord::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;
using read_end = raw_connection::read_end;

namespace {

/// Where the abusers connect from; the valid notifications come from
/// 127.0.0.1, so the per-address limit must tell the two apart.
constexpr const char* abuser = "127.0.0.2";

/// The server's bound on reading one request (http_server_options::read_timeout,
/// which paycoord does not override), and what a loaded 2-core machine may add.
const auto read_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
  net::http_server_options{}.read_timeout);
constexpr auto timeout_slack = 2500ms;

/// RSS growth allowed during one abuse. paycoord's own bounds keep an abuse's
/// cost to a few MiB: 256 idle sessions at most per address (a 4 KiB read
/// buffer and a parser each, ~3 MiB), 8 KiB of header and 64 KiB of body per
/// request being read, 8 pipelined requests per connection, 1 MiB drained
/// per rejected body. 64 MiB is far above that and far below what unbounded
/// buffering of these abuses costs (5,000 sessions, 1 MiB headers kept,
/// thousands of queued pipelined requests), so it tells the two apart
/// without flaking on allocator noise.
constexpr long rss_growth_limit_kib = 64 * 1024;

long rss_kib(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stol(line.substr(6));
  return -1;
}

/// The test holds thousands of sockets; the default soft limit is 1024.
void raise_open_file_limit() {
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  limit.rlim_cur = limit.rlim_max;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &limit), 0);
  ASSERT_GE(limit.rlim_cur, 6000u) << "the hard limit of open files is too low for this test";
}

/// `{"code": ..., "message": ...}` with valid UTF-8 (nlohmann rejects
/// anything else), or why not.
::testing::AssertionResult is_error_body(const http_answer& answer, const std::string& code) {
  auto body = json::parse(answer.body(), nullptr, false);
  if (body.is_discarded() || !body.is_object())
    return ::testing::AssertionFailure() << "not a JSON object (or not UTF-8): " << answer.body();
  if (body.value("code", "") != code)
    return ::testing::AssertionFailure() << "code is not " << code << ": " << answer.body();
  if (!body.contains("message") || !body["message"].is_string())
    return ::testing::AssertionFailure() << "no message: " << answer.body();
  return ::testing::AssertionSuccess();
}

std::string deep_array(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

std::string deep_object(std::size_t depth) {
  std::string s;
  for (std::size_t i = 0; i < depth; ++i)
    s += "{\"a\":";
  s += "0";
  s += std::string(depth, '}');
  return s;
}

/// A create-order body with `total` written as is (any JSON number text).
std::string order_body(const std::string& id, const std::string& total,
                       const std::string& extra = "") {
  return R"({"out_trade_no":")" + id + R"(","description":"Monthly plan","amount":{"total":)"
         + total + R"(,"currency":"CNY"},"payer":{"openid":"o-abuse"})" + extra + "}";
}

class abuse_test : public e2e_fixture {
protected:
  static constexpr std::size_t paid_order_count = 8;

  void SetUp() override {
    notify_listener = true;
    ASSERT_NO_FATAL_FAILURE(start());
    for (std::size_t i = 0; i < paid_order_count; ++i) {
      auto id = "ABUSE-PAID-" + std::to_string(i);
      ASSERT_EQ(create_order(id, static_cast<int64_t>(100 + i)), 201) << id;
      // paysim keeps its own notification: the probe sends them.
      auto r = send("POST", control("/control/orders/" + id + "/pay"),
                    R"({"drop_notification":true})");
      ASSERT_EQ(r.status, 200) << r.body;
      auto row = json::parse(r.body);
      paid_.push_back({id, row.at("transaction_id").get<std::string>(),
                       row.at("paid_amount").get<int64_t>(), row.at("paid_at").get<std::string>(),
                       "o-e2e-payer"});
    }
    probe_ = std::make_unique<notification_probe>(maker_, port_of("notify"), paid_);
    // Warm up: every order's first notification (a synced write) is in.
    ASSERT_TRUE(probe_->await_samples(2 * paid_order_count, 20s));
    auto warm = probe_->between(clock_type::time_point{}, clock_type::now());
    ASSERT_EQ(warm.failed, 0u) << "before any abuse: " << warm.first_failure;
    rss_before_kib_ = rss_kib(paycoord_pid());
    ASSERT_GT(rss_before_kib_, 0);
  }

  void TearDown() override {
    probe_.reset();
    e2e_fixture::TearDown();
  }

  /// Runs `abuse` while the probe's notifications flow (again and again
  /// until `at_least` has passed, so that a quick abuse is a sustained one
  /// and meets enough valid notifications), then prints the worst latency
  /// among those sent meanwhile and checks that every one got its 204 within
  /// 1 s and that paycoord's RSS stayed bounded.
  void under_abuse(const std::string& name, const std::function<void()>& abuse,
                   std::chrono::milliseconds at_least = 0ms) {
    auto from = clock_type::now();
    do
      abuse();
    while (clock_type::now() - from < at_least && !HasFailure());
    auto to = clock_type::now();
    auto s = probe_->between(from, to);
    auto rss_after_kib = rss_kib(paycoord_pid());
    std::printf("abuse: %s: worst valid-notification latency %lld ms (%zu valid notifications)"
                "; abuse took %lld ms, paycoord RSS %ld -> %ld KiB\n",
                name.c_str(), static_cast<long long>(s.worst.count()), s.count,
                static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count()),
                rss_before_kib_, rss_after_kib);
    std::fflush(stdout);
    EXPECT_LT(s.worst, 1000ms) << name;
    EXPECT_EQ(s.failed, 0u) << name << ": " << s.first_failure;
    EXPECT_GE(s.count, 5u) << name << ": too few valid notifications to say anything";
    EXPECT_GT(rss_after_kib, 0) << name << ": paycoord is gone";
    EXPECT_LT(rss_after_kib - rss_before_kib_, rss_growth_limit_kib) << name;
  }

  /// One request on a fresh connection from the abuser; its answer, or an
  /// empty answer (status 0) when the connection closed without one.
  http_answer exchange(std::uint16_t port, const std::string& request) {
    raw_connection c{port, abuser};
    http_answer answer;
    EXPECT_TRUE(c.await_connected());
    EXPECT_TRUE(c.send(request));
    auto end = c.read(answer, 5s);
    EXPECT_NE(end, read_end::timeout) << "no answer and no close";
    if (end != read_end::answer)
      answer = http_answer{};
    return answer;
  }

  http_answer post_order(const std::string& body) {
    return exchange(port_of("public"), notification_maker::post("/v1/orders", body));
  }

  http_answer post_notify(const std::string& request) {
    return exchange(port_of("notify"), request);
  }

  /// Expects 400 INVALID_REQUEST from the order API for `body`, and that no
  /// order `id` exists afterwards.
  void expect_order_refused(const std::string& what, const std::string& body,
                            const std::string& id = "") {
    auto a = post_order(body);
    EXPECT_EQ(a.result_int(), 400u) << what << ": " << a.body();
    EXPECT_TRUE(is_error_body(a, "INVALID_REQUEST")) << what;
    if (!id.empty()) {
      EXPECT_EQ(state_of(id), "HTTP 404") << what;
    }
  }

  /// Expects the notify route's `status` ("FAIL" body) for `request`.
  void expect_notify_refused(const std::string& what, const std::string& request,
                             unsigned status) {
    auto a = post_notify(request);
    EXPECT_EQ(a.result_int(), status) << what << ": " << a.body();
    EXPECT_TRUE(is_error_body(a, "FAIL")) << what;
  }

  /// Trickles `slow` a byte a second after sending `head` at once, on
  /// `count` connections to the notify listener, until the server ends each
  /// one (or `give_up` passes). Returns per connection how it ended.
  struct trickle_end {
    read_end how = read_end::timeout;
    unsigned status = 0; ///< of an answer, if one came
    std::chrono::milliseconds after{0};
    std::size_t trickled = 0; ///< bytes of `slow` sent
  };
  std::vector<trickle_end> trickle(std::size_t count, const std::string& head,
                                   const std::string& slow, std::chrono::milliseconds give_up) {
    std::vector<raw_connection> cs;
    std::vector<trickle_end> ends(count);
    std::vector<bool> done(count, false);
    for (std::size_t i = 0; i < count; ++i) {
      cs.emplace_back(port_of("notify"), abuser);
      EXPECT_TRUE(cs.back().await_connected());
    }
    auto began = clock_type::now();
    for (auto& c : cs)
      EXPECT_TRUE(c.send(head + slow.substr(0, 1)));
    for (auto& e : ends)
      e.trickled = 1;
    auto tick = began;
    std::size_t left = count;
    while (left > 0 && clock_type::now() - began < give_up) {
      tick += 1s;
      // Poll often so that the moment of each close is measured closely.
      while (clock_type::now() < tick && left > 0) {
        for (std::size_t i = 0; i < count; ++i) {
          if (done[i] || !cs[i].readable())
            continue;
          http_answer answer;
          ends[i].how = cs[i].read(answer, 500ms);
          if (ends[i].how == read_end::answer) {
            ends[i].status = answer.result_int();
            cs[i].await_closed(1s);
          }
          ends[i].after = std::chrono::duration_cast<std::chrono::milliseconds>(
            clock_type::now() - began);
          done[i] = true;
          --left;
        }
        std::this_thread::sleep_for(20ms);
      }
      for (std::size_t i = 0; i < count; ++i) {
        if (done[i] || ends[i].trickled >= slow.size())
          continue;
        if (cs[i].send_some(slow.substr(ends[i].trickled, 1)) == 1)
          ++ends[i].trickled;
      }
    }
    return ends;
  }

  /// What every trickling connection must get: closed (or 408) by the server
  /// within its read timeout, long before the trickle would have finished.
  void expect_timed_out(const std::vector<trickle_end>& ends, std::size_t slow_size) {
    for (std::size_t i = 0; i < ends.size(); ++i) {
      const auto& e = ends[i];
      SCOPED_TRACE("connection " + std::to_string(i));
      EXPECT_NE(e.how, read_end::timeout) << "still open after " << e.after.count() << " ms";
      if (e.how == read_end::answer) {
        EXPECT_EQ(e.status, 408u);
      }
      EXPECT_LE(e.after, read_timeout + timeout_slack);
      EXPECT_LT(e.trickled, slow_size);
    }
  }

  notification_maker maker_;
  std::vector<paid_order> paid_;
  std::unique_ptr<notification_probe> probe_;
  long rss_before_kib_ = -1;
};

// -- trickling (slowloris) ---------------------------------------------------------------

TEST_F(abuse_test, headers_trickled_a_byte_a_second_are_cut_off) {
  // A plausible notification header that would take minutes at this pace.
  std::string header = "POST /v1/wechatpay/notify HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       "Content-Type: application/json\r\nUser-Agent: Mozilla/4.0\r\n"
                       "Wechatpay-Serial: PUB_KEY_ID_0119000000012026112600000000000001\r\n"
                       "Content-Length: 2\r\n\r\n{}";
  std::vector<trickle_end> ends;
  under_abuse("headers trickled a byte a second (64 connections)",
              [&] { ends = trickle(64, "", header, read_timeout + 5s); });
  expect_timed_out(ends, header.size());
}

TEST_F(abuse_test, bodies_trickled_a_byte_a_second_are_cut_off) {
  std::string body(4096, ' ');
  body.front() = '{';
  body.back() = '}';
  auto head = notification_maker::post("/v1/wechatpay/notify", body);
  head.resize(head.size() - body.size());
  std::vector<trickle_end> ends;
  under_abuse("body trickled a byte a second (64 connections)",
              [&] { ends = trickle(64, head, body, read_timeout + 5s); });
  expect_timed_out(ends, body.size());
}

// -- idle connections --------------------------------------------------------------------

TEST_F(abuse_test, five_thousand_idle_connections_from_one_address) {
  ASSERT_NO_FATAL_FAILURE(raise_open_file_limit());
  constexpr std::size_t total = 5000;
  const auto cap = net::http_server_options{}.max_connections_per_address;
  std::size_t held = 0, answered_503 = 0, closed_silently = 0, connect_failed = 0;
  std::string odd;
  under_abuse("5,000 idle connections from one address", [&] {
    std::vector<raw_connection> cs;
    cs.reserve(total);
    // In batches, so that the listen backlog does not overflow into SYN
    // retransmits (1 s each) that would only slow the test down.
    for (std::size_t i = 0; i < total; i += 250) {
      for (std::size_t j = i; j < std::min(total, i + 250); ++j)
        cs.emplace_back(port_of("notify"), abuser);
      for (std::size_t j = i; j < cs.size(); ++j)
        if (!cs[j].ok() || !cs[j].await_connected(5s)) {
          ++connect_failed;
          cs[j].close();
        }
    }
    // Every connection beyond the cap is answered 503 and closed at once;
    // wait for that to settle.
    auto settled = [&] {
      std::size_t open = 0;
      for (auto& c : cs)
        if (c.ok() && !c.readable())
          ++open;
      return open <= cap;
    };
    await(settled, 10s);
    for (auto& c : cs) {
      if (!c.ok())
        continue;
      if (!c.readable()) {
        ++held;
        continue;
      }
      http_answer answer;
      auto end = c.read(answer, 2s);
      if (end == read_end::answer && answer.result_int() == 503
          && is_error_body(answer, "TOO_MANY_CONNECTIONS"))
        ++answered_503;
      else if (end == read_end::closed)
        ++closed_silently;
      else if (odd.empty())
        odd = "status " + std::to_string(answer.result_int()) + ": " + answer.body();
    }
    // The held ones are live sessions: each still gets its answer.
    for (std::size_t i = 0, checked = 0; i < cs.size() && checked < 4; ++i) {
      if (!cs[i].ok() || cs[i].readable())
        continue;
      ++checked;
      http_answer answer;
      EXPECT_TRUE(cs[i].send(notification_maker::get("/nothing-here")));
      EXPECT_EQ(cs[i].read(answer, 5s), read_end::answer);
      EXPECT_EQ(answer.result_int(), 404u);
    }
  });
  std::printf("idle connections: %zu held, %zu answered 503, %zu closed without answer, "
              "%zu connects failed\n",
              held, answered_503, closed_silently, connect_failed);
  EXPECT_EQ(held, cap) << "the per-address cap holds exactly this many";
  EXPECT_EQ(answered_503 + closed_silently + connect_failed, total - cap) << odd;
  EXPECT_TRUE(odd.empty()) << odd;
}

// -- oversized headers -------------------------------------------------------------------

TEST_F(abuse_test, oversized_headers_get_431_and_a_close) {
  struct abuse_case {
    std::string name;
    std::string request;
    bool may_close_instead = false; // the server may close before it is all sent
  };
  std::string many_fields;
  for (int i = 0; i < 2000; ++i)
    many_fields += "X-F" + std::to_string(i) + ": v\r\n";
  std::vector<abuse_case> cases{
    {"one 16 KiB header field",
     notification_maker::post("/v1/wechatpay/notify", "{}",
                              "X-Padding: " + std::string(16 * 1024, 'a') + "\r\n")},
    {"2,000 header fields", notification_maker::post("/v1/wechatpay/notify", "{}", many_fields)},
    {"a 16 KiB request target",
     notification_maker::get("/v1/wechatpay/notify?" + std::string(16 * 1024, 'q'))},
    {"1 MiB of header",
     notification_maker::post("/v1/wechatpay/notify", "{}",
                              "X-Padding: " + std::string(1024 * 1024, 'a') + "\r\n"),
     true},
  };
  under_abuse("oversized headers (4 kinds x 16 connections)", [&] {
    for (const auto& k : cases) {
      SCOPED_TRACE(k.name);
      std::vector<raw_connection> cs;
      std::vector<std::thread> writers;
      for (int i = 0; i < 16; ++i) {
        cs.emplace_back(port_of("notify"), abuser);
        EXPECT_TRUE(cs.back().await_connected());
      }
      // Writers apart from the reads: a server that stops reading must not
      // stall the test before it reads the answer.
      for (auto& c : cs)
        writers.emplace_back([&c, &k] { c.send(k.request, 5s); });
      for (auto& c : cs) {
        http_answer answer;
        auto end = c.read(answer, 5s);
        if (end == read_end::answer) {
          EXPECT_EQ(answer.result_int(), 431u) << answer.body();
          EXPECT_TRUE(is_error_body(answer, "HEADER_TOO_LARGE"));
        } else {
          EXPECT_TRUE(k.may_close_instead && end == read_end::closed)
            << "neither 431 nor a close";
        }
        EXPECT_EQ(c.await_closed(5s), read_end::closed) << "not closed after the 431";
      }
      for (auto& w : writers)
        w.join();
    }
  }, 2s);
}

// -- pipelining --------------------------------------------------------------------------

TEST_F(abuse_test, pipelined_bursts_are_all_answered_in_order) {
  constexpr std::size_t connections = 8, per_connection = 256;
  // A repeating pattern whose answers tell the requests apart.
  std::vector<std::string> valid, forged;
  for (std::size_t i = 0; i < 16; ++i) {
    valid.push_back(maker_.payment_request(paid_[i % paid_.size()]));
    forged.push_back(maker_.forged_request(
      paid_[i % paid_.size()],
      static_cast<notification_maker::forgery>(i % notification_maker::forgery_kinds)));
  }
  auto request = [&](std::size_t i) {
    switch (i % 4) {
      case 0: return valid[(i / 4) % valid.size()];
      case 1: return forged[(i / 4) % forged.size()];
      case 2: return notification_maker::get("/nothing-here");
      default: return notification_maker::get("/v1/wechatpay/notify");
    }
  };
  const unsigned expected[] = {204, 401, 404, 405};
  std::size_t rounds = 0;
  under_abuse("pipelined bursts (8 connections x 256 requests, one write each)", [&] {
    ++rounds;
    std::vector<raw_connection> cs;
    for (std::size_t c = 0; c < connections; ++c) {
      cs.emplace_back(port_of("notify"), abuser);
      EXPECT_TRUE(cs.back().await_connected());
    }
    std::vector<std::vector<unsigned>> statuses(connections);
    std::vector<std::string> ended(connections);
    std::vector<std::thread> threads;
    for (std::size_t c = 0; c < connections; ++c) {
      std::string burst;
      for (std::size_t i = 0; i < per_connection; ++i)
        burst += request(i);
      // The writer and the reader share the socket, not the buffer.
      threads.emplace_back([&cs, c, burst = std::move(burst)] { cs[c].send(burst, 20s); });
      threads.emplace_back([&, c] {
        auto deadline = clock_type::now() + 20s;
        for (std::size_t i = 0; i < per_connection; ++i) {
          http_answer answer;
          auto end = cs[c].read_until(answer, deadline);
          if (end != read_end::answer) {
            ended[c] = end == read_end::closed ? "closed" : "timed out";
            return;
          }
          statuses[c].push_back(answer.result_int());
          if (!answer.keep_alive() && i + 1 < per_connection) {
            ended[c] = "Connection: close";
            return;
          }
        }
      });
    }
    for (auto& t : threads)
      t.join();
    for (std::size_t c = 0; c < connections; ++c) {
      SCOPED_TRACE("round " + std::to_string(rounds) + ", connection " + std::to_string(c));
      EXPECT_EQ(statuses[c].size(), per_connection) << "answers stopped: " << ended[c];
      for (std::size_t i = 0; i < statuses[c].size(); ++i)
        if (statuses[c][i] != expected[i % 4]) {
          ADD_FAILURE() << "answer " << i << " is " << statuses[c][i] << ", expected "
                        << expected[i % 4] << " (out of order?)";
          break;
        }
    }
  }, 2s);
  std::printf("pipelined bursts: %zu rounds of %zu requests\n", rounds,
              connections * per_connection);
}

// -- invalid UTF-8 -----------------------------------------------------------------------

TEST_F(abuse_test, invalid_utf8_gets_400_and_never_comes_back) {
  const std::string bad = "\xff\xfe\xc0\xaf\xed\xa0\x80\x80"; // not UTF-8, overlong, surrogate
  under_abuse("invalid UTF-8", [&] {
    // The order API.
    expect_order_refused("in description",
                         R"({"out_trade_no":"ABUSE-U8-1","description":")" + bad
                           + R"(","amount":{"total":100},"payer":{"openid":"o-x"}})",
                         "ABUSE-U8-1");
    expect_order_refused("in a key",
                         R"({"out_trade_no":"ABUSE-U8-2","description":"x","amount":{"total":100},)"
                         R"("payer":{"openid":"o-x"},")" + bad + R"(":1})",
                         "ABUSE-U8-2");
    expect_order_refused("in payer.openid",
                         R"({"out_trade_no":"ABUSE-U8-3","description":"x","amount":{"total":100},)"
                         R"("payer":{"openid":")" + bad + R"("}})",
                         "ABUSE-U8-3");
    expect_order_refused("in out_trade_no",
                         R"({"out_trade_no":"ABUSE-)" + bad
                           + R"(","description":"x","amount":{"total":100},"payer":{"openid":"o"}})");
    // In the path: no such order, answered in valid UTF-8.
    auto a = exchange(port_of("public"), notification_maker::get("/v1/orders/ABUSE" + bad));
    EXPECT_TRUE(a.result_int() == 400 || a.result_int() == 404) << a.result_int();
    EXPECT_TRUE(is_error_body(a, a.result_int() == 404 ? "ORDER_NOT_FOUND" : "BAD_REQUEST"));
    // The notify route: unsigned, it is a forgery whatever it says.
    expect_notify_refused("unsigned body",
                          notification_maker::post("/v1/wechatpay/notify", "{\"id\":\"" + bad + "\"}"),
                          401);
    expect_notify_refused("in a signature header",
                          notification_maker::post("/v1/wechatpay/notify", "{}",
                                                   "Wechatpay-Serial: " + bad + "\r\n"
                                                   "Wechatpay-Signature: " + bad + "\r\n"
                                                   "Wechatpay-Nonce: " + bad + "\r\n"
                                                   "Wechatpay-Timestamp: " + bad + "\r\n"),
                          401);
    // Signed by WeChat's key, so past the signature check: malformed.
    expect_notify_refused("signed envelope",
                          maker_.signed_request(R"({"id":")" + bad + R"(","event_type":"x"})"), 400);
    auto plaintext = maker_.transaction_plaintext(paid_[0]);
    auto at = plaintext.find(paid_[0].transaction_id);
    expect_notify_refused("signed, encrypted resource",
                          maker_.sealed_request(plaintext.replace(at, 4, bad)), 400);
  }, 2s);
}

// -- hostile JSON ------------------------------------------------------------------------

TEST_F(abuse_test, deep_json_and_huge_numbers_get_400) {
  under_abuse("JSON nested 10,000 deep and huge numbers", [&] {
    expect_order_refused("10,000 nested arrays", deep_array(10000));
    expect_order_refused("10,000 nested objects", deep_object(10000));
    expect_order_refused("10,000 deep in attach",
                         order_body("ABUSE-DEEP-1", "100", ",\"attach\":" + deep_array(10000)),
                         "ABUSE-DEEP-1");
    expect_order_refused("10,000 deep in payer",
                         order_body("ABUSE-DEEP-2", "100", ",\"x\":" + deep_object(10000)),
                         "ABUSE-DEEP-2");
    int n = 0;
    for (const std::string& total : std::vector<std::string>{"1e400", "-1e400", "18446744073709551616", "9223372036854775807", "9223372036854775808",
          "-9223372036854775809", "100000000001", "1.5", "1e2", std::string(60000, '9')}) {
      auto id = "ABUSE-NUM-" + std::to_string(n++);
      expect_order_refused("amount.total " + total.substr(0, 24), order_body(id, total), id);
    }
    // The notify route, past the signature: nesting and money bounds of the
    // WeChat models (16 deep; fen that fit int64).
    expect_notify_refused("signed envelope 10,000 deep", maker_.signed_request(deep_array(10000)),
                          400);
    expect_notify_refused("signed envelope, 10,000 deep object",
                          maker_.signed_request(deep_object(10000)), 400);
    expect_notify_refused("encrypted resource 10,000 deep",
                          maker_.sealed_request(deep_array(10000)), 400);
    for (const std::string& total : std::vector<std::string>{"1e400", "18446744073709551616", "9223372036854775808", "-1",
                              "1.5", std::string(20000, '9')}) {
      auto plaintext = maker_.transaction_plaintext(paid_[1]);
      auto field = "\"total\":" + std::to_string(paid_[1].total);
      plaintext.replace(plaintext.find(field), field.size(), "\"total\":" + total);
      expect_notify_refused("resource amount.total " + total.substr(0, 24),
                            maker_.sealed_request(plaintext), 400);
    }
  }, 2s);
  // None of it changed the paid orders.
  EXPECT_EQ(json::parse(get(public_url("/v1/orders/" + paid_[1].out_trade_no)).body)["amount"]
              ["total"],
            paid_[1].total);
}

TEST_F(abuse_test, duplicate_json_keys_get_400) {
  // The same key twice reads differently in different parsers (first wins,
  // last wins, error): a front end that checked one `amount` and paycoord
  // charging the other is the classic parser-differential attack. RFC 8259
  // leaves the outcome open; RFC 7493 (I-JSON) forbids duplicate names.
  struct abuse_case {
    std::string name, id, body;
  };
  std::vector<abuse_case> cases{
    {"amount twice", "ABUSE-DUP-1",
     R"({"out_trade_no":"ABUSE-DUP-1","description":"Monthly plan",)"
     R"("amount":{"total":10000,"currency":"CNY"},"payer":{"openid":"o-abuse"},)"
     R"("amount":{"total":1,"currency":"CNY"}})"},
    {"out_trade_no twice", "ABUSE-DUP-2",
     R"({"out_trade_no":"ABUSE-DUP-3","description":"Monthly plan","out_trade_no":"ABUSE-DUP-2",)"
     R"("amount":{"total":100},"payer":{"openid":"o-abuse"}})"},
    {"total twice", "ABUSE-DUP-4",
     R"({"out_trade_no":"ABUSE-DUP-4","description":"Monthly plan",)"
     R"("amount":{"total":10000,"total":1},"payer":{"openid":"o-abuse"}})"},
  };
  std::vector<http_answer> answers;
  under_abuse("duplicate JSON keys", [&] {
    // Again and again: the first round's answers are the ones checked
    // (later ones find the order, if the first created it).
    for (const auto& k : cases)
      answers.push_back(post_order(k.body));
  }, 2s);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].name);
    EXPECT_EQ(answers[i].result_int(), 400u) << answers[i].body();
    EXPECT_TRUE(is_error_body(answers[i], "INVALID_REQUEST"));
    EXPECT_EQ(state_of(cases[i].id), "HTTP 404");
  }
}

// -- forgeries ---------------------------------------------------------------------------

TEST_F(abuse_test, a_flood_of_forged_notifications_gets_401) {
  // The forgeries claim an unpaid order paid (and a paid one paid again for
  // more); none may change anything.
  ASSERT_EQ(create_order("ABUSE-UNPAID-1", 500), 201);
  std::vector<paid_order> claims{
    {"ABUSE-UNPAID-1", "4200002026112699999999", 500, format_rfc3339(wall_clock::now()),
     "o-e2e-payer"},
    {paid_[0].out_trade_no, paid_[0].transaction_id, paid_[0].total * 100, paid_[0].paid_at,
     paid_[0].payer_openid}};
  std::vector<std::string> forged;
  for (int i = 0; i < 140; ++i)
    forged.push_back(maker_.forged_request(
      claims[i % 2], static_cast<notification_maker::forgery>(i % notification_maker::forgery_kinds)));
  auto counted = [&] {
    auto m = parse_prometheus_text(get(metrics("/metrics")).body);
    return m.value("paycoord_notifications_total{outcome=\"rejected_signature\"}").value_or(0);
  };
  auto counted_before = counted();
  constexpr int flooders = 4;
  std::atomic<std::size_t> sent{0}, refused{0};
  std::mutex odd_mutex;
  std::string odd;
  auto flood_for = 3s;
  under_abuse("a flood of forged notifications (4 connections, full speed)", [&] {
    std::vector<std::thread> threads;
    for (int t = 0; t < flooders; ++t)
      threads.emplace_back([&, t] {
        auto until = clock_type::now() + flood_for;
        raw_connection c;
        for (std::size_t i = t; clock_type::now() < until; i += flooders) {
          if (!c.ok()) {
            c = raw_connection{port_of("notify"), abuser};
            c.await_connected();
          }
          http_answer answer;
          ++sent;
          if (!c.send(forged[i % forged.size()]) || c.read(answer, 5s) != read_end::answer) {
            std::lock_guard lock(odd_mutex);
            odd = "no answer to a forgery";
            c.close();
            continue;
          }
          if (answer.result_int() == 401 && is_error_body(answer, "FAIL")) {
            ++refused;
          } else {
            std::lock_guard lock(odd_mutex);
            odd = "forgery " + std::to_string(i % notification_maker::forgery_kinds)
                  + " answered " + std::to_string(answer.result_int()) + ": " + answer.body();
          }
          if (!answer.keep_alive())
            c.close();
        }
      });
    for (auto& t : threads)
      t.join();
  });
  std::printf("forged notifications: %zu sent in %lld s, %zu answered 401\n", sent.load(),
              static_cast<long long>(flood_for.count()), refused.load());
  EXPECT_EQ(refused.load(), sent.load()) << odd;
  EXPECT_GT(sent.load(), 100u);
  EXPECT_GE(counted() - counted_before, static_cast<double>(refused.load()));
  EXPECT_EQ(state_of("ABUSE-UNPAID-1"), "PENDING");
  auto paid = json::parse(get(public_url("/v1/orders/" + paid_[0].out_trade_no)).body);
  EXPECT_EQ(paid["amount"]["total"], paid_[0].total);
  EXPECT_EQ(paid["transaction_id"], paid_[0].transaction_id);
}

} // namespace
