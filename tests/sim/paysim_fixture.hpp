#pragma once

// The paysim test fixture: paysim in-process on port 0, driven the way
// paycoord and a test harness drive it, with the WeChat Pay side checked
// through the real protocol code (net/wechatpay): every request signed with
// the sandbox merchant key, every response and notification verified with the
// sandbox platform key. Shared by paysim_test.cpp and paysim_refunds_test.cpp.

#include "sim/paysim.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "net/callback_signature.hpp"
#include "net/http_client.hpp"
#include "net/http_server.hpp"
#include "net/router.hpp"
#include "net/wechatpay/authorization.hpp"
#include "net/wechatpay/jsapi.hpp"
#include "net/wechatpay/key_set.hpp"
#include "net/wechatpay/keys.hpp"
#include "net/wechatpay/models.hpp"
#include "net/wechatpay/notification_opener.hpp"
#include "net/wechatpay/signed_headers.hpp"
#include "net/wechatpay/signing.hpp"
#include "sim/sim_config.hpp"

namespace paycoord::sim::test {

namespace http = boost::beast::http;
namespace wp = paycoord::wechatpay;
using json = nlohmann::json;
using namespace std::chrono_literals;
using paycoord::wall_clock;
using paycoord::net::outbound_request;
using paycoord::net::outbound_response;
using steady = std::chrono::steady_clock;

inline constexpr std::string_view mchid = "1900000001";
inline constexpr std::string_view appid = "wx8888888888888888";
inline constexpr std::string_view merchant_serial = "7E1A6C5B2F0D4E3A9B8C7D6E5F4A3B2C1D0E0F01";
inline constexpr std::string_view platform_key_id = "PUB_KEY_ID_0119000000012026112600000000000001";
inline constexpr std::string_view apiv3_key = "paycoordSandboxApiV3Key000000001";
inline constexpr std::string_view business_secret = "sandbox-business-hmac-secret";
/// 15 s -> 150 ms: the first retries come quickly, the schedule stays visible.
inline constexpr double time_factor = 0.01;

inline std::string sandbox_file(std::string_view name) {
  const char* root = std::getenv("PAYCOORD_SOURCE_DIR");
  EXPECT_NE(root, nullptr) << "run the tests with ctest (PAYCOORD_SOURCE_DIR)";
  return std::string{root != nullptr ? root : "."} + "/config/sandbox/" + std::string{name};
}

/// Polls `condition` every 10 ms for at most `bound`.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds bound = 5s) {
  auto deadline = steady::now() + bound;
  while (!condition()) {
    if (steady::now() > deadline)
      return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

inline wp::signed_headers headers_of(const outbound_response& response) {
  auto get = [&](std::string_view name) {
    auto* value = response.header(name);
    return value != nullptr ? *value : std::string{};
  };
  return {get(wp::timestamp_header), get(wp::nonce_header), get(wp::signature_header),
          get(wp::serial_header), get(wp::signature_type_header)};
}

/// One notification as the local receiver saw it.
struct received_notification {
  steady::time_point at;
  int answered = 0;
  /// Empty when it verified and decrypted; else the protocol error code.
  std::string failure;
  std::string id;
  std::string event_type;
  wp::encrypted_resource resource; ///< as received (encrypted)
  std::string plaintext;
};

/// A merchant's notify endpoint: verifies and decrypts every notification
/// with `open_notification` (401 when that fails) and answers the scripted
/// statuses in turn, then 204.
class notify_receiver {
public:
  notify_receiver(boost::asio::io_context& io, const wp::key_set& keys) : keys_(keys) {
    paycoord::net::router routes;
    routes.add(http::verb::post, "/notify", [this](paycoord::net::request_context ctx) {
      on_notify(std::move(ctx));
    });
    auto server = paycoord::net::http_server::start(io, {}, std::move(routes));
    EXPECT_TRUE(server) << (server ? "" : server.error());
    server_ = std::move(*server);
  }

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + "/notify";
  }

  void script(std::vector<int> statuses) {
    std::lock_guard lock(mutex_);
    script_ = std::move(statuses);
  }

  std::vector<received_notification> received() const {
    std::lock_guard lock(mutex_);
    return received_;
  }

  std::size_t count() const {
    return received().size();
  }

private:
  void on_notify(paycoord::net::request_context ctx) {
    const auto& request = ctx.request;
    auto header = [&](std::string_view name) {
      return std::string{request[boost::beast::string_view{name.data(), name.size()}]};
    };
    wp::signed_headers headers{header(wp::timestamp_header), header(wp::nonce_header),
                               header(wp::signature_header), header(wp::serial_header),
                               header(wp::signature_type_header)};
    auto opened = wp::open_notification(keys_, headers, request.body(), wall_clock::now(), 5min,
                                        apiv3_key);
    received_notification seen;
    seen.at = steady::now();
    int status = 204;
    if (!opened) {
      seen.failure = wp::to_string(opened.error().code);
      status = 401;
    } else {
      seen.id = opened->envelope.id;
      seen.event_type = opened->envelope.event_type;
      seen.resource = opened->envelope.resource;
      seen.plaintext = opened->plaintext;
      std::lock_guard lock(mutex_);
      if (!script_.empty()) {
        status = script_.front();
        script_.erase(script_.begin());
      }
    }
    seen.answered = status;
    {
      std::lock_guard lock(mutex_);
      received_.push_back(seen);
    }
    if (status == 204)
      ctx.respond.send(paycoord::net::http_response{http::status::no_content, 11});
    else
      ctx.respond.send_error(static_cast<unsigned>(status), "FAIL", "scripted failure");
  }

  const wp::key_set& keys_;
  std::unique_ptr<paycoord::net::http_server> server_;
  mutable std::mutex mutex_;
  std::vector<int> script_;
  std::vector<received_notification> received_;
};

class paysim_test : public ::testing::Test {
protected:
  void SetUp() override {
    auto merchant = wp::private_key::from_pem_file(sandbox_file("merchant_key.pem"));
    ASSERT_TRUE(merchant) << merchant.error().message();
    merchant_key_.emplace(*merchant);
    auto platform = wp::public_key::from_pem_file(sandbox_file("pub_key.pem"));
    ASSERT_TRUE(platform) << platform.error().message();
    ASSERT_TRUE(platform_keys_.add_public_key(std::string{platform_key_id}, *platform));

    cfg_.listen = {"127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"};
    cfg_.wechatpay.mchid = mchid;
    cfg_.wechatpay.appid = appid;
    cfg_.wechatpay.apiv3_key = apiv3_key;
    cfg_.wechatpay.merchant_serial_no = merchant_serial;
    cfg_.wechatpay.merchant_public_key_file = sandbox_file("merchant_public.pem");
    cfg_.wechatpay.platform_private_key_file = sandbox_file("platform_key.pem");
    cfg_.wechatpay.platform_public_key_id = platform_key_id;
    cfg_.business.secret = business_secret;
    cfg_.notify.timeout = 2s;
    cfg_.time_factor = time_factor;

    io_thread_ = std::thread([this] { io_.run(); });
    auto sim = paycoord::sim::paysim::start(io_, cfg_);
    ASSERT_TRUE(sim) << sim.error();
    sim_ = std::move(*sim);
    receiver_ = std::make_unique<notify_receiver>(io_, platform_keys_);
  }

  void TearDown() override {
    receiver_.reset();
    if (sim_)
      sim_->stop();
    work_.reset();
    io_.stop();
    io_thread_.join();
    sim_.reset();
  }

  std::string base(std::uint16_t port) const {
    return "http://127.0.0.1:" + std::to_string(port);
  }

  /// A WeChat Pay API call signed as paycoord signs it.
  outbound_response wechat(std::string method, std::string path, std::string body = {},
                           std::string authorization = {}) {
    if (authorization.empty()) {
      auto header = wp::authorization_header(mchid, merchant_serial, *merchant_key_, method, path,
                                             body, wall_clock::now(), wp::make_nonce());
      EXPECT_TRUE(header);
      authorization = *header;
    }
    outbound_request request{std::move(method), base(sim_->wechat_port()) + path,
                             {{"Authorization", authorization},
                              {"Accept", "application/json"},
                              {"Content-Type", "application/json"}},
                             std::move(body)};
    auto response = client_.send(request);
    EXPECT_TRUE(response) << (response ? "" : response.error().message);
    return response ? *response : outbound_response{};
  }

  /// Whether `response` carries a valid WeChat Pay signature.
  wp::check_result verify(const outbound_response& response) const {
    return wp::verify_response(platform_keys_, headers_of(response), response.body,
                               wall_clock::now(), 5min);
  }

  outbound_response prepay(const std::string& out_trade_no, int64_t total = 100) {
    wp::prepay_request request;
    request.appid = appid;
    request.mchid = mchid;
    request.description = "Monthly plan";
    request.out_trade_no = out_trade_no;
    request.time_expire = wall_clock::now() + 2h;
    request.notify_url = receiver_->url();
    request.amount.total = total;
    request.payer_openid = "o-test";
    return wechat("POST", "/v3/pay/transactions/jsapi", wp::to_json(request));
  }

  outbound_response query(const std::string& out_trade_no) {
    return wechat("GET", "/v3/pay/transactions/out-trade-no/" + out_trade_no + "?mchid="
                           + std::string{mchid});
  }

  outbound_response close(const std::string& out_trade_no) {
    return wechat("POST", "/v3/pay/transactions/out-trade-no/" + out_trade_no + "/close",
                  R"({"mchid":"1900000001"})");
  }

  /// The trade_state of a verified query response.
  std::string trade_state(const std::string& out_trade_no) {
    auto response = query(out_trade_no);
    EXPECT_EQ(response.status, 200) << response.body;
    EXPECT_TRUE(verify(response));
    auto t = wp::parse_transaction(response.body);
    return t ? wp::to_string(t->state) : "";
  }

  outbound_response control(std::string method, const std::string& path, std::string body = {}) {
    outbound_request request{std::move(method), base(sim_->control_port()) + path,
                             {{"Content-Type", "application/json"}}, std::move(body)};
    auto response = client_.send(request);
    EXPECT_TRUE(response) << (response ? "" : response.error().message);
    return response ? *response : outbound_response{};
  }

  void set_faults(const std::string& body) {
    auto response = control("POST", "/control/faults", body);
    EXPECT_EQ(response.status, 200) << response.body;
  }

  /// Prepays and pays `out_trade_no` (as the customer), then waits until the
  /// receiver has seen `notifications` attempts; returns what it saw.
  std::vector<received_notification> pay_and_receive(const std::string& out_trade_no,
                                                     std::size_t notifications,
                                                     int64_t total = 100) {
    EXPECT_EQ(prepay(out_trade_no, total).status, 200);
    auto paid = control("POST", "/control/orders/" + out_trade_no + "/pay");
    EXPECT_EQ(paid.status, 200) << paid.body;
    EXPECT_TRUE(eventually([&] { return receiver_->count() >= notifications; }));
    return receiver_->received();
  }

  json report() {
    auto response = control("GET", "/control/report");
    EXPECT_EQ(response.status, 200);
    return json::parse(response.body);
  }

  json order(const std::string& out_trade_no) {
    auto response = control("GET", "/control/orders/" + out_trade_no);
    EXPECT_EQ(response.status, 200) << response.body;
    return json::parse(response.body, nullptr, false);
  }

  outbound_response business(const std::string& key, const std::string& body,
                             std::string secret = std::string{business_secret}) {
    auto ts = wp::unix_seconds_text(wall_clock::now());
    outbound_request request{"POST", base(sim_->business_port()) + "/orders/paid",
                             {{"Content-Type", "application/json"},
                              {"Idempotency-Key", key},
                              {"X-Paycoord-Timestamp", ts},
                              {"X-Paycoord-Signature",
                               paycoord::net::callback_signature(secret, ts, body)}},
                             body};
    auto response = client_.send(request);
    EXPECT_TRUE(response) << (response ? "" : response.error().message);
    return response ? *response : outbound_response{};
  }

  /// The business callback paycoord would send for a paid order.
  json callback_for(const std::string& out_trade_no) {
    auto row = order(out_trade_no);
    return {{"event", "order.paid"},
            {"out_trade_no", out_trade_no},
            {"transaction_id", row["transaction_id"]},
            {"amount", {{"total", row["paid_amount"]}, {"payer_total", row["paid_amount"]},
                        {"currency", "CNY"}}},
            {"paid_at", row["paid_at"]},
            {"late", false}};
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(io_);
  std::thread io_thread_;
  paycoord::sim::paysim_config cfg_;
  std::unique_ptr<paycoord::sim::paysim> sim_;
  std::optional<wp::private_key> merchant_key_;
  wp::key_set platform_keys_;
  std::unique_ptr<notify_receiver> receiver_;
  paycoord::net::http_client client_;
};

} // namespace paycoord::sim::test
