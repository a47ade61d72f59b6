// paycoord as a real process: --check-config, readiness after recovery,
// graceful SIGTERM, and recovery of orders left by a previous process.

#include <csignal>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "net/http_client.hpp"
#include "demo/process.hpp"
#include "storage/order_store.hpp"
#include "tests/prometheus_text.hpp"
#include "tests/temp_dir.hpp"

using namespace paycoord;
using namespace paycoord::demo;
using namespace paycoord::testing;
using namespace std::chrono_literals;

namespace {

std::string example_config() {
  return source_path("config/paycoord.example.json");
}

/// Polls GET url until it answers `status` or `timeout` passes.
bool await_status(const std::string& url, int status,
                  std::chrono::milliseconds timeout) {
  net::http_client client;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = client.send({"GET", url, {}, {}});
    if (r && r->status == status)
      return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

} // namespace

TEST(paycoord_process, check_config_accepts_the_example_and_masks_secrets) {
  temp_dir dir;
  child_process p{bin_path("paycoord"), {"--check-config", example_config()},
                  {}, dir.str() + "/out.log"};
  ASSERT_EQ(p.wait(30s), 0) << p.output();
  auto out = p.output();
  EXPECT_NE(out.find("\"apiv3_key\": \"***\""), std::string::npos) << out;
  EXPECT_EQ(out.find("paycoordSandboxApiV3Key"), std::string::npos)
    << "the APIv3 key must never be printed";
}

TEST(paycoord_process, check_config_names_the_bad_key) {
  temp_dir dir;
  child_process p{bin_path("paycoord"), {"--check-config", example_config()},
                  {{"PAYCOORD_SCHEDULE__VERIFY", R"(["5 parsecs"])"}},
                  dir.str() + "/out.log"};
  ASSERT_EQ(p.wait(30s), 1) << p.output();
  EXPECT_NE(p.output().find("schedule.verify"), std::string::npos) << p.output();
}

TEST(paycoord_process, check_config_catches_the_merchant_key_configured_as_wechats) {
  temp_dir dir;
  child_process p{
    bin_path("paycoord"),
    {"--check-config", example_config()},
    {{"PAYCOORD_WECHATPAY__PLATFORM_PUBLIC_KEY_FILE",
      source_path("config/sandbox/merchant_public.pem")}},
    dir.str() + "/out.log"};
  ASSERT_EQ(p.wait(30s), 1) << p.output();
  EXPECT_NE(p.output().find("platform_public_key_file"), std::string::npos)
    << p.output();
}

TEST(paycoord_process, is_ready_after_recovery_and_exits_0_on_sigterm) {
  temp_dir dir;
  // Orders a previous process left: the pending one keeps its durable timer,
  // due far beyond the timers' window, and costs no memory.
  {
    auto store = order_store::open(dir.str() + "/data");
    ASSERT_TRUE(store);
    write_set set;
    order_record x;
    x.out_trade_no = "LEFTOVER1";
    x.state = order_state::pending;
    x.amount_total = 100;
    x.action = next_action::verify;
    x.next_due_ms = 4'000'000'000'000; // far in the future
    x.expire_at_ms = x.next_due_ms;
    set.put(x, nullptr);
    ASSERT_TRUE((*store)->commit(set));
  }
  auto port = free_port();
  auto admin_port = free_port();
  child_process p{bin_path("paycoord"),
                  {"--config", example_config()},
                  {{"PAYCOORD_DATA_DIR", dir.str() + "/data"},
                   {"PAYCOORD_LISTEN__PUBLIC",
                    "127.0.0.1:" + std::to_string(free_port())},
                   {"PAYCOORD_LISTEN__ADMIN",
                    "127.0.0.1:" + std::to_string(admin_port)},
                   {"PAYCOORD_LISTEN__METRICS",
                    "127.0.0.1:" + std::to_string(port)}},
                  dir.str() + "/out.log"};
  auto base = "http://127.0.0.1:" + std::to_string(port);
  ASSERT_TRUE(await_status(base + "/readyz", 200, 20s)) << p.output();
  EXPECT_TRUE(await_status(base + "/healthz", 200, 1s));
  EXPECT_NE(p.output().find("event=ready timers_in_memory=0"), std::string::npos)
    << p.output();
  // The admin listener: nothing without the token.
  net::http_client client;
  auto admin = "http://127.0.0.1:" + std::to_string(admin_port);
  auto denied = client.send({"GET", admin + "/admin/api/summary", {}, {}});
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 401);
  auto summary = client.send(
    {"GET", admin + "/admin/api/summary",
     {{"Authorization", "Bearer sandbox-admin-token-0123456789"}}, {}});
  ASSERT_TRUE(summary);
  EXPECT_EQ(summary->status, 200) << summary->body;
  EXPECT_NE(summary->body.find("\"PENDING\":1"), std::string::npos)
    << "the store's counters, without a scan: " << summary->body;
  // The inspector page needs no token (it asks for one) and may only run
  // its own script.
  for (auto path : {"/admin/", "/admin/inspector.js", "/admin/inspector.css"}) {
    auto page = client.send({"GET", admin + path, {}, {}});
    ASSERT_TRUE(page);
    EXPECT_EQ(page->status, 200) << path;
    EXPECT_FALSE(page->body.empty()) << path;
    auto csp = page->header("Content-Security-Policy");
    ASSERT_TRUE(csp) << path;
    EXPECT_NE(csp->find("script-src 'self'"), std::string::npos) << path;
  }
  auto redirect = client.send({"GET", admin + "/admin", {}, {}});
  ASSERT_TRUE(redirect);
  EXPECT_EQ(redirect->status, 308);
  // Metrics: Prometheus text with the contract's metrics, ready, the order.
  auto scraped = client.send({"GET", base + "/metrics", {}, {}});
  ASSERT_TRUE(scraped);
  ASSERT_EQ(scraped->status, 200);
  ASSERT_TRUE(scraped->header("Content-Type"));
  EXPECT_EQ(*scraped->header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  auto text = parse_prometheus_text(scraped->body);
  ASSERT_TRUE(text.ok()) << text.error;
  EXPECT_EQ(text.value("paycoord_ready"), 1);
  EXPECT_EQ(text.value(R"(paycoord_orders{state="PENDING"})"), 1);
  EXPECT_EQ(text.value("paycoord_order_actors"), 0) << "nothing loaded it";
  EXPECT_EQ(text.value("paycoord_timers_armed"), 0) << "due beyond the window";
  EXPECT_GE(text.value(R"(paycoord_http_connections_open{listener="metrics"})").value_or(0), 1);
  for (auto name : {"paycoord_notifications_total", "paycoord_wechat_calls_total",
                    "paycoord_business_callbacks_total", "paycoord_store_batches_total",
                    "paycoord_store_batch_write_sets", "paycoord_notify_to_ack_seconds",
                    "paycoord_actor_restarts_total"})
    EXPECT_TRUE(text.types.count(name)) << name;
  client.close_idle_connections();
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(20s), 0) << p.output();
}

// CONTRACTS.md §8: the notify route on a listener of its own, the order API
// behind api.token, and a warning for an order API that faces the network
// without one.
TEST(paycoord_process, listen_notify_and_api_token_separate_what_faces_the_internet) {
  temp_dir dir;
  auto metrics_port = free_port(), public_port = free_port(), notify_port = free_port();
  const std::string token = "front-end-token-0123456789";
  child_process p{bin_path("paycoord"),
                  {"--config", example_config()},
                  {{"PAYCOORD_DATA_DIR", dir.str() + "/data"},
                   {"PAYCOORD_LISTEN__PUBLIC", "127.0.0.1:" + std::to_string(public_port)},
                   {"PAYCOORD_LISTEN__NOTIFY", "127.0.0.1:" + std::to_string(notify_port)},
                   {"PAYCOORD_LISTEN__ADMIN", "127.0.0.1:" + std::to_string(free_port())},
                   {"PAYCOORD_LISTEN__METRICS", "127.0.0.1:" + std::to_string(metrics_port)},
                   {"PAYCOORD_API__TOKEN", token}},
                  dir.str() + "/out.log"};
  ASSERT_TRUE(await_status("http://127.0.0.1:" + std::to_string(metrics_port) + "/readyz", 200,
                           20s))
    << p.output();
  net::http_client client;
  auto pub = "http://127.0.0.1:" + std::to_string(public_port);
  auto notify = "http://127.0.0.1:" + std::to_string(notify_port);
  auto get = [&](const std::string& url,
                 std::vector<std::pair<std::string, std::string>> headers = {}) {
    auto r = client.send({"GET", url, std::move(headers), {}});
    return r ? r->status : 0;
  };
  auto post = [&](const std::string& url) {
    auto r = client.send({"POST", url, {}, "{}"});
    return r ? r->status : 0;
  };
  EXPECT_EQ(get(pub + "/v1/orders/NOSUCH0001"), 401) << "the order API needs api.token";
  EXPECT_EQ(get(pub + "/v1/orders/NOSUCH0001", {{"Authorization", "Bearer wrong-token-0123456789"}}),
            401);
  EXPECT_EQ(get(pub + "/v1/orders/NOSUCH0001", {{"Authorization", "Bearer " + token}}), 404);
  EXPECT_EQ(post(pub + "/v1/wechatpay/notify"), 404) << "no notify route on listen.public";
  EXPECT_EQ(post(notify + "/v1/wechatpay/notify"), 401) << "notify takes no token, only a signature";
  EXPECT_EQ(get(notify + "/v1/orders/NOSUCH0001", {{"Authorization", "Bearer " + token}}), 404)
    << "no order API on listen.notify";
  EXPECT_EQ(p.output().find(token), std::string::npos) << "the token is never logged";
  client.close_idle_connections();
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(20s), 0) << p.output();
}

TEST(paycoord_process, an_order_api_off_loopback_without_a_token_is_warned_about) {
  temp_dir dir;
  auto metrics_port = free_port();
  child_process p{bin_path("paycoord"),
                  {"--config", example_config()},
                  {{"PAYCOORD_DATA_DIR", dir.str() + "/data"},
                   {"PAYCOORD_LISTEN__PUBLIC", "0.0.0.0:" + std::to_string(free_port())},
                   {"PAYCOORD_LISTEN__ADMIN", "127.0.0.1:" + std::to_string(free_port())},
                   {"PAYCOORD_LISTEN__METRICS", "127.0.0.1:" + std::to_string(metrics_port)}},
                  dir.str() + "/out.log"};
  ASSERT_TRUE(await_status("http://127.0.0.1:" + std::to_string(metrics_port) + "/readyz", 200,
                           20s))
    << p.output();
  EXPECT_NE(p.output().find("event=config_warning listen.public 0.0.0.0"), std::string::npos)
    << p.output();
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(20s), 0) << p.output();
}
