// paysim in-process: its three listeners on port 0, driven the way paycoord
// and a test harness drive them, with the WeChat Pay side checked through the
// real protocol code (net/wechatpay): every request signed with the sandbox
// merchant key, every response and notification verified with the sandbox
// platform key.

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
#include "net/wechatpay/aead.hpp"
#include "net/wechatpay/authorization.hpp"
#include "net/wechatpay/jsapi.hpp"
#include "net/wechatpay/key_set.hpp"
#include "net/wechatpay/keys.hpp"
#include "net/wechatpay/models.hpp"
#include "net/wechatpay/notification_opener.hpp"
#include "net/wechatpay/signed_headers.hpp"
#include "net/wechatpay/signing.hpp"
#include "sim/sim_config.hpp"

namespace {

namespace http = boost::beast::http;
namespace wp = paycoord::wechatpay;
using json = nlohmann::json;
using namespace std::chrono_literals;
using paycoord::wall_clock;
using paycoord::net::outbound_request;
using paycoord::net::outbound_response;
using steady = std::chrono::steady_clock;

constexpr std::string_view mchid = "1900000001";
constexpr std::string_view appid = "wx8888888888888888";
constexpr std::string_view merchant_serial = "7E1A6C5B2F0D4E3A9B8C7D6E5F4A3B2C1D0E0F01";
constexpr std::string_view platform_key_id = "PUB_KEY_ID_0119000000012026112600000000000001";
constexpr std::string_view apiv3_key = "paycoordSandboxApiV3Key000000001";
constexpr std::string_view business_secret = "sandbox-business-hmac-secret";
/// 15 s -> 150 ms: the first retries come quickly, the schedule stays visible.
constexpr double time_factor = 0.01;

std::string sandbox_file(std::string_view name) {
  const char* root = std::getenv("PAYCOORD_SOURCE_DIR");
  EXPECT_NE(root, nullptr) << "run the tests with ctest (PAYCOORD_SOURCE_DIR)";
  return std::string{root != nullptr ? root : "."} + "/config/sandbox/" + std::string{name};
}

/// Polls `condition` every 10 ms for at most `bound`.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds bound = 5s) {
  auto deadline = steady::now() + bound;
  while (!condition()) {
    if (steady::now() > deadline)
      return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

wp::signed_headers headers_of(const outbound_response& response) {
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

  // -- refunds ------------------------------------------------------------------

  /// An apply paycoord would send: notify_url the receiver's.
  wp::refund_request refund_request(const std::string& out_trade_no,
                                    const std::string& out_refund_no, int64_t refund,
                                    int64_t total) {
    wp::refund_request request;
    request.out_trade_no = out_trade_no;
    request.out_refund_no = out_refund_no;
    request.reason = "退货";
    request.notify_url = receiver_->url();
    request.amount = {refund, total, "CNY"};
    return request;
  }

  outbound_response apply_refund(const wp::refund_request& request) {
    return wechat("POST", "/v3/refund/domestic/refunds", wp::to_json(request));
  }

  outbound_response query_refund(const std::string& out_refund_no) {
    return wechat("GET", "/v3/refund/domestic/refunds/" + out_refund_no);
  }

  /// The refund object of a verified 200 answer (an empty one otherwise).
  wp::refund_object refund_of(const outbound_response& response) {
    EXPECT_EQ(response.status, 200) << response.body;
    EXPECT_TRUE(verify(response));
    auto object = wp::parse_refund_object(response.body);
    EXPECT_TRUE(object) << response.body;
    return object ? *object : wp::refund_object{};
  }

  /// The status of a verified refund query.
  std::string refund_status(const std::string& out_refund_no) {
    return refund_of(query_refund(out_refund_no)).status;
  }

  /// An order of `total` fen, prepaid and paid (its payment notification
  /// not waited for).
  void paid_order(const std::string& out_trade_no, int64_t total) {
    ASSERT_EQ(prepay(out_trade_no, total).status, 200);
    ASSERT_EQ(control("POST", "/control/orders/" + out_trade_no + "/pay").status, 200);
  }

  /// Refunds resolve after a delay within [min, max].
  void set_processing(std::string_view min, std::string_view max) {
    set_faults(json{{"refund", {{"processing_min", min}, {"processing_max", max}}}}.dump());
  }

  /// The receiver's notifications of `event_type`.
  std::vector<received_notification> received_of(std::string_view event_type) const {
    std::vector<received_notification> found;
    for (auto& seen : receiver_->received())
      if (seen.event_type == event_type)
        found.push_back(seen);
    return found;
  }

  /// The refund callback paycoord would send (CONTRACTS.md §10).
  json refund_callback(std::string_view event, const std::string& out_trade_no,
                       const wp::refund_object& refund) {
    return {{"event", event},
            {"out_trade_no", out_trade_no},
            {"out_refund_no", refund.out_refund_no},
            {"refund_id", refund.refund_id},
            {"amount",
             {{"refund", refund.amount.refund},
              {"total", refund.amount.total},
              {"currency", "CNY"}}},
            {"succeeded_at", refund.success_time ? json(paycoord::format_rfc3339(
                                                       *refund.success_time))
                                                 : json(nullptr)}};
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

// -- the WeChat Pay API -----------------------------------------------------------

TEST_F(paysim_test, prepay_query_close_round_trip_with_every_response_signed) {
  auto first = prepay("A2026112600001");
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_TRUE(verify(first));
  auto prepay_id = wp::parse_prepay_response(first.body);
  ASSERT_TRUE(prepay_id);
  EXPECT_TRUE(prepay_id->prepay_id.starts_with("wx"));

  auto again = prepay("A2026112600001");
  ASSERT_EQ(again.status, 200);
  EXPECT_TRUE(verify(again));
  EXPECT_EQ(wp::parse_prepay_response(again.body)->prepay_id, prepay_id->prepay_id);

  auto queried = query("A2026112600001");
  ASSERT_EQ(queried.status, 200);
  EXPECT_TRUE(verify(queried));
  auto t = wp::parse_transaction(queried.body);
  ASSERT_TRUE(t) << queried.body;
  EXPECT_EQ(t->state, wp::trade_state::notpay);
  EXPECT_EQ(t->mchid, mchid);
  EXPECT_EQ(t->appid, appid);

  auto closed = close("A2026112600001");
  EXPECT_EQ(closed.status, 204);
  EXPECT_EQ(closed.body, "");
  EXPECT_TRUE(verify(closed)); // signed over the empty body
  EXPECT_EQ(trade_state("A2026112600001"), "CLOSED");

  auto unknown = query("A2026112600999");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_TRUE(verify(unknown));
  EXPECT_EQ(json::parse(unknown.body)["code"], "ORDER_NOT_EXIST");
  auto close_unknown = close("A2026112600999");
  EXPECT_EQ(close_unknown.status, 204);
  EXPECT_TRUE(verify(close_unknown));

  auto totals = report()["totals"];
  EXPECT_EQ(totals["wechat"]["prepays"], 2);
  EXPECT_EQ(totals["wechat"]["queries"], 3);
  EXPECT_EQ(totals["wechat"]["closes"], 2);
  EXPECT_EQ(totals["orders"], 1);
  EXPECT_EQ(totals["closed"], 1);
}

TEST_F(paysim_test, a_bad_authorization_is_refused_with_a_signed_401_and_counted) {
  auto body = std::string{R"({"mchid":"1900000001"})"};
  auto path = std::string{"/v3/pay/transactions/out-trade-no/A2026112600002/close"};
  // Signed over another path: the signature does not verify.
  auto other = wp::authorization_header(mchid, merchant_serial, *merchant_key_, "POST",
                                        path + "x", body, wall_clock::now(), wp::make_nonce());
  ASSERT_TRUE(other);
  auto forged = wechat("POST", path, body, *other);
  EXPECT_EQ(forged.status, 401);
  EXPECT_TRUE(verify(forged));
  EXPECT_EQ(json::parse(forged.body)["code"], "SIGN_ERROR");

  auto garbage = wechat("POST", path, body, "WECHATPAY2-SHA256-RSA2048 nonsense");
  EXPECT_EQ(garbage.status, 401);

  auto stale = wp::authorization_header(mchid, merchant_serial, *merchant_key_, "POST", path,
                                        body, wall_clock::now() - 10min, wp::make_nonce());
  EXPECT_EQ(wechat("POST", path, body, *stale).status, 401);

  EXPECT_EQ(report()["totals"]["wechat"]["bad_authorization"], 3);
  EXPECT_EQ(report()["totals"]["wechat"]["closes"], 0); // never reached the handler
}

TEST_F(paysim_test, pay_makes_the_query_say_success) {
  ASSERT_EQ(prepay("A2026112600003", 250).status, 200);
  auto paid = control("POST", "/control/orders/A2026112600003/pay");
  ASSERT_EQ(paid.status, 200) << paid.body;

  auto response = query("A2026112600003");
  ASSERT_TRUE(verify(response));
  auto t = wp::parse_transaction(response.body);
  ASSERT_TRUE(t) << response.body;
  EXPECT_EQ(t->state, wp::trade_state::success);
  EXPECT_FALSE(t->transaction_id.empty());
  ASSERT_TRUE(t->success_time);
  ASSERT_TRUE(t->amount);
  EXPECT_EQ(t->amount->total, 250);
  EXPECT_EQ(t->amount->currency, "CNY");

  auto row = order("A2026112600003");
  EXPECT_EQ(row["trade_state"], "SUCCESS");
  EXPECT_EQ(row["transaction_id"], t->transaction_id);
  EXPECT_EQ(control("POST", "/control/orders/A2026112600003/pay").status, 409);
  EXPECT_EQ(control("POST", "/control/orders/A2026112600404/pay").status, 404);
}

TEST_F(paysim_test, a_different_pay_amount_shows_in_query_and_notification) {
  ASSERT_EQ(prepay("A2026112600004", 100).status, 200);
  ASSERT_EQ(control("POST", "/control/orders/A2026112600004/pay", R"({"amount": 1})").status, 200);
  auto t = wp::parse_transaction(query("A2026112600004").body);
  ASSERT_TRUE(t && t->amount);
  EXPECT_EQ(t->amount->total, 1);
  ASSERT_TRUE(eventually([&] { return receiver_->count() >= 1; }));
  auto paid = wp::parse_transaction(receiver_->received()[0].plaintext);
  ASSERT_TRUE(paid && paid->amount);
  EXPECT_EQ(paid->amount->total, 1);
  EXPECT_EQ(control("POST", "/control/orders/A2026112600004/pay", R"({"amonut": 1})").status,
            400);
}

TEST_F(paysim_test, a_closed_order_cannot_be_paid) {
  ASSERT_EQ(prepay("A2026112600005").status, 200);
  ASSERT_EQ(close("A2026112600005").status, 204);
  EXPECT_EQ(trade_state("A2026112600005"), "CLOSED");
  auto refused = control("POST", "/control/orders/A2026112600005/pay");
  EXPECT_EQ(refused.status, 409);
  EXPECT_EQ(json::parse(refused.body)["code"], "ORDER_CLOSED");
  EXPECT_EQ(trade_state("A2026112600005"), "CLOSED");
}

TEST_F(paysim_test, pay_before_close_makes_the_close_refused_and_the_order_paid) {
  ASSERT_EQ(prepay("A2026112600006").status, 200);
  ASSERT_EQ(control("POST", "/control/orders/A2026112600006/pay-before-close").status, 202);
  EXPECT_EQ(trade_state("A2026112600006"), "NOTPAY");

  auto closed = close("A2026112600006");
  EXPECT_EQ(closed.status, 400) << closed.body;
  EXPECT_TRUE(verify(closed));
  auto error = json::parse(closed.body);
  EXPECT_EQ(error["code"], "ORDERPAID");
  EXPECT_EQ(error["message"], "订单已支付");
  EXPECT_EQ(trade_state("A2026112600006"), "SUCCESS");
  auto row = order("A2026112600006");
  EXPECT_EQ(row["paid_by_close"], true);
  EXPECT_EQ(row["closed_at"], nullptr);
  EXPECT_EQ(row["closes_refused"], 1);
  ASSERT_TRUE(eventually([&] { return receiver_->count() >= 1; }));
  EXPECT_EQ(receiver_->received()[0].event_type, "TRANSACTION.SUCCESS");
  EXPECT_EQ(report()["totals"]["wechat"]["closes_refused"], 1);
}

TEST_F(paysim_test, pay_before_close_can_lose_its_notification) {
  ASSERT_EQ(prepay("A2026112600016").status, 200);
  ASSERT_EQ(control("POST", "/control/orders/A2026112600016/pay-before-close",
                    R"({"drop_notification": true})")
              .status,
            202);
  auto closed = close("A2026112600016");
  EXPECT_EQ(closed.status, 400);
  EXPECT_TRUE(verify(closed));
  EXPECT_EQ(json::parse(closed.body)["code"], "ORDERPAID");
  EXPECT_EQ(trade_state("A2026112600016"), "SUCCESS"); // only a query finds it
  std::this_thread::sleep_for(300ms); // what a sent notification would need, twice over
  EXPECT_EQ(receiver_->count(), 0u);
  auto row = order("A2026112600016");
  EXPECT_EQ(row["paid_by_close"], true);
  EXPECT_EQ(row["notify"]["dropped"], 1);
  EXPECT_EQ(row["notify"]["attempts"], 0);
}

TEST_F(paysim_test, a_close_of_a_paid_order_is_refused_orderpaid_every_time) {
  pay_and_receive("A2026112600017", 1);
  for (int i = 0; i < 2; ++i) {
    auto closed = close("A2026112600017");
    EXPECT_EQ(closed.status, 400) << closed.body;
    EXPECT_TRUE(verify(closed));
    EXPECT_EQ(json::parse(closed.body)["code"], "ORDERPAID");
  }
  EXPECT_EQ(trade_state("A2026112600017"), "SUCCESS");
  auto row = order("A2026112600017");
  EXPECT_EQ(row["closes"], 2);
  EXPECT_EQ(row["closes_refused"], 2);
  EXPECT_EQ(row["paid_by_close"], false);
  EXPECT_EQ(receiver_->count(), 1u); // a refused close sends nothing
  // A closed order's repeat close is still 204.
  ASSERT_EQ(prepay("A2026112600018").status, 200);
  EXPECT_EQ(close("A2026112600018").status, 204);
  EXPECT_EQ(close("A2026112600018").status, 204);
  EXPECT_EQ(report()["totals"]["wechat"]["closes_refused"], 2);
}

TEST_F(paysim_test, a_close_of_an_unknown_id_answers_as_configured) {
  auto by_default = close("A2026112600901");
  EXPECT_EQ(by_default.status, 204);
  EXPECT_TRUE(verify(by_default));
  set_faults(R"({"wechat":{"close_unknown_status":404}})");
  auto not_found = close("A2026112600901");
  EXPECT_EQ(not_found.status, 404);
  EXPECT_TRUE(verify(not_found));
  EXPECT_EQ(json::parse(not_found.body)["code"], "ORDER_NOT_EXIST");
  // A known order is closed as before.
  ASSERT_EQ(prepay("A2026112600902").status, 200);
  EXPECT_EQ(close("A2026112600902").status, 204);
  EXPECT_EQ(trade_state("A2026112600902"), "CLOSED");
  EXPECT_EQ(report()["totals"]["wechat"]["closes_unknown"], 2);

  auto bad = control("POST", "/control/faults", R"({"wechat":{"close_unknown_status":200}})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(json::parse(bad.body)["message"].get<std::string>().find(
              "wechat.close_unknown_status"),
            std::string::npos)
    << bad.body;
  EXPECT_EQ(control("POST", "/control/faults", R"({"wechat":{"close_unknown_status":"404"}})")
              .status,
            400);
  EXPECT_EQ(json::parse(control("GET", "/control/faults").body)["wechat"]["close_unknown_status"],
            404);
}

TEST_F(paysim_test, a_failed_prepay_leaves_an_order_wechat_never_knew) {
  set_faults(R"({"wechat":{"prepay_error_rate":1}})");
  auto failed = prepay("A2026112600903");
  EXPECT_EQ(failed.status, 500) << failed.body;
  EXPECT_TRUE(verify(failed));
  EXPECT_EQ(json::parse(failed.body)["code"], "SYSTEM_ERROR");

  auto queried = query("A2026112600903");
  EXPECT_EQ(queried.status, 404);
  EXPECT_TRUE(verify(queried));
  EXPECT_EQ(json::parse(queried.body)["code"], "ORDER_NOT_EXIST");
  EXPECT_EQ(close("A2026112600903").status, 204);
  set_faults(R"({"wechat":{"close_unknown_status":404}})");
  EXPECT_EQ(close("A2026112600903").status, 404);
  EXPECT_EQ(control("POST", "/control/orders/A2026112600903/pay").status, 404);

  // Only the counts are kept: not an order.
  auto row = order("A2026112600903");
  EXPECT_EQ(row["known_to_wechat"], false);
  EXPECT_EQ(row["prepays"], 1);
  EXPECT_EQ(row["prepay_errors"], 1);
  EXPECT_EQ(row["queries"], 1);
  EXPECT_EQ(row["closes"], 2);
  auto totals = report()["totals"];
  EXPECT_EQ(totals["orders"], 0);
  EXPECT_EQ(totals["wechat"]["prepay_errors"], 1);
  EXPECT_EQ(totals["wechat"]["closes_unknown"], 2);

  // Once WeChat works again, a retried prepay creates the order.
  set_faults(R"({"wechat":{"prepay_error_rate":0}})");
  ASSERT_EQ(prepay("A2026112600903").status, 200);
  EXPECT_EQ(trade_state("A2026112600903"), "NOTPAY");
  EXPECT_EQ(control("POST", "/control/faults", R"({"wechat":{"prepay_error_rate":1.5}})").status,
            400);
}

TEST_F(paysim_test, error_message_replaces_the_message_of_every_wechat_error) {
  std::string long_message;
  for (int i = 0; i < 70 / 7; ++i)
    long_message += "系统繁忙请稍后"; // 7 characters, 21 bytes
  ASSERT_EQ(long_message.size(), 210u);
  set_faults(json{{"wechat", {{"error_message", long_message}, {"query_error_rate", 1}}}}.dump());
  auto check = [&](const outbound_response& response, unsigned status, std::string_view code) {
    EXPECT_EQ(response.status, status) << response.body;
    EXPECT_TRUE(verify(response)) << code;
    auto body = json::parse(response.body);
    EXPECT_EQ(body["code"], code);
    EXPECT_EQ(body["message"], long_message) << code;
  };
  ASSERT_EQ(prepay("A2026112600904").status, 200);
  check(query("A2026112600904"), 500, "SYSTEM_ERROR");
  set_faults(R"({"wechat":{"query_error_rate":0,"query_throttle_rate":1}})");
  check(query("A2026112600904"), 429, "FREQUENCY_LIMITED");
  set_faults(R"({"wechat":{"query_throttle_rate":0,"close_unknown_status":404}})");
  check(query("A2026112600905"), 404, "ORDER_NOT_EXIST");
  check(close("A2026112600905"), 404, "ORDER_NOT_EXIST");
  ASSERT_EQ(control("POST", "/control/orders/A2026112600904/pay").status, 200);
  check(close("A2026112600904"), 400, "ORDERPAID");
  set_faults(R"({"wechat":{"prepay_error_rate":1}})");
  check(prepay("A2026112600906"), 500, "SYSTEM_ERROR");
  // A success stays as it was; "" restores each error's own message.
  set_faults(R"({"wechat":{"prepay_error_rate":0}})");
  EXPECT_EQ(prepay("A2026112600906").status, 200);
  set_faults(R"({"wechat":{"error_message":""}})");
  auto own = query("A2026112600907");
  EXPECT_EQ(own.status, 404);
  EXPECT_EQ(json::parse(own.body)["message"], "订单不存在");
}

TEST_F(paysim_test, query_faults_answer_signed_500_and_429) {
  ASSERT_EQ(prepay("A2026112600007").status, 200);
  set_faults(R"({"wechat":{"query_error_rate":1}})");
  auto failed = query("A2026112600007");
  EXPECT_EQ(failed.status, 500);
  EXPECT_TRUE(verify(failed));
  set_faults(R"({"wechat":{"query_error_rate":0,"query_throttle_rate":1}})");
  auto throttled = query("A2026112600007");
  EXPECT_EQ(throttled.status, 429);
  EXPECT_EQ(json::parse(throttled.body)["code"], "FREQUENCY_LIMITED");
  auto totals = report()["totals"]["wechat"];
  EXPECT_EQ(totals["query_errors"], 1);
  EXPECT_EQ(totals["query_throttled"], 1);
}

TEST_F(paysim_test, a_response_probe_fails_verification_as_a_probe) {
  set_faults(R"({"wechat":{"probe_rate":1}})");
  auto response = prepay("A2026112600008");
  EXPECT_EQ(response.status, 200);
  auto verdict = verify(response);
  ASSERT_FALSE(verdict);
  EXPECT_EQ(verdict.error().code, wp::wechatpay_error::signature_probe);
  EXPECT_EQ(report()["totals"]["wechat"]["response_probes"], 1);
}

// -- notifications ----------------------------------------------------------------

TEST_F(paysim_test, a_payment_notification_verifies_and_decrypts) {
  auto received = pay_and_receive("A2026112600010", 1, 300);
  ASSERT_EQ(received.size(), 1u);
  auto seen = received[0];
  EXPECT_EQ(seen.failure, "");
  EXPECT_EQ(seen.event_type, "TRANSACTION.SUCCESS");
  EXPECT_TRUE(seen.id.starts_with("EV-"));
  auto t = wp::parse_transaction(seen.plaintext);
  ASSERT_TRUE(t) << seen.plaintext;
  EXPECT_EQ(t->out_trade_no, "A2026112600010");
  EXPECT_EQ(t->state, wp::trade_state::success);
  EXPECT_EQ(t->amount->total, 300);

  ASSERT_TRUE(eventually([&] { return order("A2026112600010")["notify"]["answered_2xx"] == 1; }));
  auto notify = order("A2026112600010")["notify"];
  EXPECT_EQ(notify["attempts"], 1);
  EXPECT_EQ(notify["last_status"], 204);
  EXPECT_EQ(notify["notification_ids"][0], seen.id);
}

TEST_F(paysim_test, a_failing_receiver_is_retried_on_the_scaled_schedule_until_it_accepts) {
  receiver_->script({500, 500});
  auto seen = pay_and_receive("A2026112600011", 3);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].answered, 500);
  EXPECT_EQ(seen[1].answered, 500);
  EXPECT_EQ(seen[2].answered, 204);
  // The same notification each time, after 15 s and 15 s scaled by 0.01.
  EXPECT_EQ(seen[0].id, seen[1].id);
  EXPECT_EQ(seen[1].id, seen[2].id);
  EXPECT_GE(seen[1].at - seen[0].at, 140ms);
  EXPECT_GE(seen[2].at - seen[1].at, 140ms);

  std::this_thread::sleep_for(400ms); // past the third retry's due time
  EXPECT_EQ(receiver_->count(), 3u);  // answered: no more attempts
  auto notify = order("A2026112600011")["notify"];
  EXPECT_EQ(notify["attempts"], 3);
  EXPECT_EQ(notify["answered_2xx"], 1);
  EXPECT_EQ(report()["totals"]["notifications"]["answered"], 1);
}

TEST_F(paysim_test, drop_rate_one_never_sends) {
  set_faults(R"({"notify":{"drop_rate":1}})");
  ASSERT_EQ(prepay("A2026112600012").status, 200);
  ASSERT_EQ(control("POST", "/control/orders/A2026112600012/pay").status, 200);
  std::this_thread::sleep_for(300ms); // what a sent notification would need, twice over
  EXPECT_EQ(receiver_->count(), 0u);
  auto totals = report()["totals"]["notifications"];
  EXPECT_EQ(totals["built"], 1);
  EXPECT_EQ(totals["dropped"], 1);
  EXPECT_EQ(totals["attempts"], 0);
  EXPECT_EQ(order("A2026112600012")["notify"]["dropped"], 1);
  // The payment is real all the same: a query finds it.
  EXPECT_EQ(trade_state("A2026112600012"), "SUCCESS");
}

TEST_F(paysim_test, a_probe_first_attempt_is_followed_by_a_valid_retry) {
  set_faults(R"({"notify":{"probe_rate":1}})");
  auto seen = pay_and_receive("A2026112600013", 2);
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen[0].failure, "signature_probe");
  EXPECT_EQ(seen[0].answered, 401);
  EXPECT_EQ(seen[1].failure, "");
  EXPECT_EQ(seen[1].answered, 204);
  ASSERT_TRUE(eventually([&] { return report()["totals"]["notifications"]["answered"] == 1; }));
  auto totals = report()["totals"]["notifications"];
  EXPECT_EQ(totals["probes"], 1);
  EXPECT_EQ(totals["attempts"], 2);
  EXPECT_EQ(totals["probes_answered_2xx"], 0);
}

TEST_F(paysim_test, a_duplicated_notification_arrives_twice_with_one_id) {
  set_faults(R"({"notify":{"duplicate_rate":1}})");
  auto seen = pay_and_receive("A2026112600014", 2);
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen[0].id, seen[1].id);
  EXPECT_EQ(seen[0].failure, "");
  EXPECT_EQ(seen[1].failure, "");
  EXPECT_EQ(report()["totals"]["notifications"]["duplicated"], 1);
}

TEST_F(paysim_test, a_refund_sends_a_refund_notification_not_a_payment) {
  pay_and_receive("A2026112600015", 1, 500);
  ASSERT_EQ(control("POST", "/control/orders/A2026112600015/refund", R"({"amount": 200})").status,
            200);
  ASSERT_TRUE(eventually([&] { return receiver_->count() >= 2; }));
  auto seen = receiver_->received()[1];
  EXPECT_EQ(seen.failure, "");
  EXPECT_EQ(seen.event_type, "REFUND.SUCCESS");
  EXPECT_EQ(wp::classify_event(seen.event_type), wp::event_kind::refund);
  auto refund = wp::parse_refund_event(seen.plaintext);
  ASSERT_TRUE(refund) << seen.plaintext;
  EXPECT_EQ(refund->out_trade_no, "A2026112600015");
  EXPECT_EQ(refund->amount.total, 500);
  EXPECT_EQ(refund->amount.refund, 200);
  EXPECT_EQ(trade_state("A2026112600015"), "REFUND");
}

TEST_F(paysim_test, many_orders_under_mixed_faults_account_for_every_notification) {
  set_faults(R"({"notify":{"drop_rate":0.2,"duplicate_rate":0.3,"probe_rate":0.3,)"
             R"("reorder":"50ms"}})");
  constexpr int orders = 100;
  for (int i = 0; i < orders; ++i) {
    auto id = "M20261126" + std::to_string(1000 + i);
    ASSERT_EQ(prepay(id).status, 200);
    ASSERT_EQ(control("POST", "/control/orders/" + id + "/pay").status, 200);
  }
  // Every notification not dropped ends answered (a probe after one retry).
  auto settled = [&] {
    auto n = report()["totals"]["notifications"];
    return n["answered"].get<int>() + n["dropped"].get<int>() == orders
           && n["pending_attempts"] == 0;
  };
  ASSERT_TRUE(eventually(settled, 10s)) << report()["totals"].dump();
  auto r = report();
  auto& n = r["totals"]["notifications"];
  EXPECT_EQ(n["built"], orders);
  EXPECT_GT(n["dropped"], 0);
  EXPECT_GT(n["duplicated"], 0);
  EXPECT_GT(n["probes"], 0);
  EXPECT_EQ(n["probes_answered_2xx"], 0);
  EXPECT_EQ(n["gave_up"], 0);
  for (auto& row : r["orders"]) {
    bool dropped = row["notify"]["dropped"] == 1;
    EXPECT_EQ(row["notify"]["answered_2xx"].get<int>() > 0, !dropped) << row.dump();
  }
  // The receiver saw only verified notifications, apart from the probes.
  for (auto& seen : receiver_->received())
    EXPECT_TRUE(seen.failure.empty() || seen.failure == "signature_probe") << seen.failure;
}

// -- the business server ----------------------------------------------------------

TEST_F(paysim_test, the_business_server_checks_hmac_dedupes_and_records) {
  ASSERT_EQ(prepay("A2026112600020").status, 200);
  ASSERT_EQ(control("POST", "/control/orders/A2026112600020/pay").status, 200);
  auto body = callback_for("A2026112600020").dump();

  auto first = business("A2026112600020", body);
  EXPECT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(json::parse(first.body)["duplicate"], false);
  auto again = business("A2026112600020", body);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(json::parse(again.body)["duplicate"], true);
  EXPECT_EQ(business("A2026112600020", body, "wrong-secret").status, 401);

  auto totals = report()["totals"]["business"];
  EXPECT_EQ(totals["requests"], 3);
  EXPECT_EQ(totals["deliveries"], 2);
  EXPECT_EQ(totals["distinct_keys"], 1);
  EXPECT_EQ(totals["bad_hmac"], 1);
  EXPECT_EQ(totals["unpaid_deliveries"], 0);
  EXPECT_EQ(totals["mismatched_deliveries"], 0);
  auto row = order("A2026112600020")["business"];
  EXPECT_EQ(row["deliveries"], 2);
  EXPECT_EQ(row["bad_hmac"], 1);
  EXPECT_TRUE(row["first_delivery_ms"].is_number());
  EXPECT_LE(row["first_delivery_ms"].get<int64_t>(), row["last_delivery_ms"].get<int64_t>());
}

TEST_F(paysim_test, a_delivery_of_an_unpaid_order_is_counted) {
  ASSERT_EQ(prepay("A2026112600021").status, 200);
  json body = {{"event", "order.paid"}, {"out_trade_no", "A2026112600021"},
               {"transaction_id", "4200000000"}, {"amount", {{"total", 100}}}, {"late", true}};
  EXPECT_EQ(business("A2026112600021", body.dump()).status, 200);
  auto row = order("A2026112600021")["business"];
  EXPECT_EQ(row["unpaid_deliveries"], 1);
  EXPECT_EQ(row["late_deliveries"], 1);
  EXPECT_EQ(report()["totals"]["business"]["unpaid_deliveries"], 1);
}

TEST_F(paysim_test, a_business_server_that_is_down_answers_503) {
  ASSERT_EQ(control("POST", "/control/business", R"({"up": false})").status, 200);
  auto body = json{{"out_trade_no", "A2026112600022"}}.dump();
  EXPECT_EQ(business("A2026112600022", body).status, 503);
  ASSERT_EQ(control("POST", "/control/business", R"({"up": true})").status, 200);
  EXPECT_EQ(business("A2026112600022", body).status, 200);
  ASSERT_EQ(control("POST", "/control/business", R"({"up": false, "for": "100ms"})").status, 200);
  EXPECT_EQ(business("A2026112600022", body).status, 503);
  EXPECT_TRUE(eventually([&] { return business("A2026112600022", body).status == 200; }));
  auto totals = report()["totals"]["business"];
  EXPECT_GE(totals["down_rejections"], 2);
  EXPECT_EQ(totals["deliveries"], 2);

  set_faults(R"({"business":{"error_rate":1}})");
  EXPECT_EQ(business("A2026112600022", body).status, 500);
  set_faults(R"({"business":{"down":[["0ms","1h"]]}})");
  EXPECT_EQ(business("A2026112600022", body).status, 503); // inside the window
}

// -- the control API --------------------------------------------------------------

TEST_F(paysim_test, the_report_has_totals_and_per_order_rows) {
  ASSERT_EQ(prepay("A2026112600030").status, 200);
  ASSERT_EQ(prepay("A2026112600031").status, 200);
  ASSERT_EQ(control("POST", "/control/orders/A2026112600030/pay").status, 200);
  ASSERT_TRUE(eventually([&] { return report()["totals"]["notifications"]["answered"] == 1; }));

  auto r = report();
  for (auto key : {"started_at", "uptime_ms", "faults", "business_up", "totals", "orders"})
    EXPECT_TRUE(r.contains(key)) << key;
  auto& totals = r["totals"];
  EXPECT_EQ(totals["orders"], 2);
  EXPECT_EQ(totals["paid"], 1);
  EXPECT_EQ(totals["notpay"], 1);
  for (auto key : {"built", "sent", "dropped", "duplicated", "probes", "attempts", "answered_2xx",
                   "gave_up", "pending_attempts"})
    EXPECT_TRUE(totals["notifications"].contains(key)) << key;
  for (auto key : {"prepays", "queries", "closes", "bad_authorization"})
    EXPECT_TRUE(totals["wechat"].contains(key)) << key;
  for (auto key : {"deliveries", "distinct_keys", "bad_hmac", "unpaid_deliveries"})
    EXPECT_TRUE(totals["business"].contains(key)) << key;

  ASSERT_EQ(r["orders"].size(), 2u);
  auto& row = r["orders"][0];
  EXPECT_EQ(row["out_trade_no"], "A2026112600030");
  EXPECT_EQ(row["trade_state"], "SUCCESS");
  EXPECT_EQ(row["amount"], 100);
  EXPECT_TRUE(row["paid_at"].is_string());
  for (auto key : {"queries", "closes", "notify", "business", "time_expire"})
    EXPECT_TRUE(row.contains(key)) << key;
  EXPECT_FALSE(json::parse(control("GET", "/control/report?orders=false").body).contains("orders"));
  auto first_page = json::parse(control("GET", "/control/report?limit=1").body);
  ASSERT_EQ(first_page["orders"].size(), 1u);
  EXPECT_EQ(first_page["next"], "A2026112600030");
  auto second_page =
      json::parse(control("GET", "/control/report?limit=1&after=A2026112600030").body);
  ASSERT_EQ(second_page["orders"].size(), 1u);
  EXPECT_EQ(second_page["orders"][0]["out_trade_no"], "A2026112600031");
  EXPECT_EQ(second_page["next"], nullptr);
  EXPECT_EQ(control("GET", "/control/orders/A2026112600099").status, 404);
}

TEST_F(paysim_test, faults_are_set_partially_and_strictly) {
  auto set = control("POST", "/control/faults", R"({"notify":{"delay":"1s"}})");
  ASSERT_EQ(set.status, 200);
  auto faults = json::parse(control("GET", "/control/faults").body);
  EXPECT_EQ(faults["notify"]["delay"], "1s");
  EXPECT_EQ(faults["notify"]["drop_rate"], 0);
  auto bad = control("POST", "/control/faults", R"({"notify":{"drop_rate":2}})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(json::parse(bad.body)["message"].get<std::string>().find("notify.drop_rate"),
            std::string::npos);
  EXPECT_EQ(control("POST", "/control/faults", R"({"notfy":{}})").status, 400);
}

TEST_F(paysim_test, reset_forgets_orders_and_counts) {
  ASSERT_EQ(prepay("A2026112600040").status, 200);
  ASSERT_EQ(control("POST", "/control/reset").status, 200);
  auto totals = report()["totals"];
  EXPECT_EQ(totals["orders"], 0);
  EXPECT_EQ(totals["wechat"]["prepays"], 0);
  EXPECT_EQ(query("A2026112600040").status, 404);
}

// -- refunds ----------------------------------------------------------------------

TEST_F(paysim_test, a_refund_apply_is_accepted_processing_and_the_payment_query_says_refund) {
  set_processing("1m", "1m");
  paid_order("A2026112600050", 500);
  auto accepted = apply_refund(refund_request("A2026112600050", "R2026112600050", 200, 500));
  auto refund = refund_of(accepted);
  EXPECT_EQ(refund.status, "PROCESSING");
  EXPECT_FALSE(refund.refund_id.empty());
  EXPECT_EQ(refund.out_refund_no, "R2026112600050");
  EXPECT_EQ(refund.out_trade_no, "A2026112600050");
  EXPECT_EQ(refund.transaction_id, order("A2026112600050")["transaction_id"]);
  EXPECT_EQ(refund.channel, "ORIGINAL");
  EXPECT_FALSE(refund.user_received_account.empty());
  EXPECT_TRUE(refund.create_time);
  EXPECT_FALSE(refund.success_time);
  EXPECT_EQ(refund.amount.total, 500);
  EXPECT_EQ(refund.amount.refund, 200);
  EXPECT_EQ(refund.amount.payer_total, 500);
  EXPECT_EQ(refund.amount.payer_refund, 200);
  EXPECT_EQ(refund.amount.currency, "CNY");

  // It was paid, and a refund started: the payment query says REFUND.
  EXPECT_EQ(trade_state("A2026112600050"), "REFUND");
  auto queried = refund_of(query_refund("R2026112600050"));
  EXPECT_EQ(queried.status, "PROCESSING");
  EXPECT_EQ(queried.refund_id, refund.refund_id);

  auto r = report();
  EXPECT_EQ(r["totals"]["refunds_requested"], 1);
  EXPECT_EQ(r["totals"]["refunds_processing"], 1);
  EXPECT_EQ(r["totals"]["refunds_succeeded"], 0);
  EXPECT_EQ(r["totals"]["wechat"]["refund_applies"], 1);
  EXPECT_EQ(r["totals"]["wechat"]["refund_queries"], 1);
  auto row = order("A2026112600050");
  EXPECT_EQ(row["trade_state"], "REFUND");
  EXPECT_EQ(row["refunded"], 0); // not yet
  ASSERT_EQ(row["refunds"].size(), 1u);
  EXPECT_EQ(row["refunds"][0]["out_refund_no"], "R2026112600050");
  EXPECT_EQ(row["refunds"][0]["status"], "PROCESSING");
  EXPECT_EQ(row["refunds"][0]["amount"], 200);
  EXPECT_EQ(row["refunds"][0]["requested"], true);
}

TEST_F(paysim_test, the_same_out_refund_no_is_deduped_and_reused_with_another_body_refused) {
  set_processing("1m", "1m");
  paid_order("A2026112600051", 500);
  paid_order("A2026112600151", 500);
  auto request = refund_request("A2026112600051", "R2026112600051", 100, 500);
  auto first = refund_of(apply_refund(request));
  auto again = refund_of(apply_refund(request));
  EXPECT_EQ(again.refund_id, first.refund_id);
  EXPECT_EQ(again.status, "PROCESSING");

  auto other_amount = request;
  other_amount.amount.refund = 101;
  auto other_order = request;
  other_order.out_trade_no = "A2026112600151";
  for (auto& changed : {other_amount, other_order}) {
    auto refused = apply_refund(changed);
    EXPECT_EQ(refused.status, 400) << refused.body;
    EXPECT_TRUE(verify(refused));
    EXPECT_EQ(json::parse(refused.body)["code"], "INVALID_REQUEST");
  }
  auto totals = report()["totals"];
  EXPECT_EQ(totals["refunds_requested"], 1);
  EXPECT_EQ(totals["wechat"]["refund_applies_refused"], 2);
  EXPECT_EQ(order("A2026112600051")["refunds"].size(), 1u);
  EXPECT_EQ(order("A2026112600151")["trade_state"], "SUCCESS"); // untouched
}

TEST_F(paysim_test, a_malformed_apply_is_refused_naming_the_field) {
  paid_order("A2026112600052", 500);
  auto path = std::string{"/v3/refund/domestic/refunds"};
  auto refused = [&](const std::string& body, std::string_view needle) {
    auto response = wechat("POST", path, body);
    EXPECT_EQ(response.status, 400) << body;
    EXPECT_TRUE(verify(response));
    auto error = json::parse(response.body);
    EXPECT_EQ(error["code"], "PARAM_ERROR") << body;
    EXPECT_NE(error["message"].get<std::string>().find(needle), std::string::npos)
      << error["message"];
  };
  refused("not json", "parse error");
  refused(R"({"out_trade_no":"A2026112600052","out_refund_no":"R2026112600052",)"
          R"("amount":{"refund":1,"refund":500,"total":500,"currency":"CNY"}})",
          "duplicate key \"amount.refund\"");
  refused(R"({"out_trade_no":"A2026112600052","out_refund_no":"R2026112600052",)"
          R"("amount":{"refund":1,"total":500}})",
          "amount.currency");
  refused(R"({"out_trade_no":"A2026112600052","out_refund_no":"R2026112600052",)"
          R"("amount":{"refund":-1,"total":500,"currency":"CNY"}})",
          "amount.refund");
  refused(R"({"out_trade_no":"A2026112600052","out_refund_no":"R2026112600052",)"
          R"("amount":{"refund":"1","total":500,"currency":"CNY"}})",
          "amount.refund");
  refused(R"({"out_trade_no":"A2026112600052","amount":{"refund":1,"total":500,"currency":"CNY"}})",
          "out_refund_no");
  auto request = refund_request("A2026112600052", "R 2026/11", 1, 500);
  refused(wp::to_json(request), "out_refund_no");
  request = refund_request("A2026112600052", "R2026112600052", 0, 500);
  refused(wp::to_json(request), "amount.refund");
  request = refund_request("A2026112600052", "R2026112600052", 1, 500);
  request.notify_url = "ftp://example.com/notify";
  refused(wp::to_json(request), "notify_url");
  request.notify_url.clear();
  request.reason = std::string(81, 'x');
  refused(wp::to_json(request), "reason");
  EXPECT_EQ(report()["totals"]["refunds_requested"], 0);
  EXPECT_EQ(trade_state("A2026112600052"), "SUCCESS");
}

TEST_F(paysim_test, refunds_of_unknown_unpaid_or_other_total_orders_are_refused) {
  auto unknown = apply_refund(refund_request("A2026112600999", "R2026112600053", 1, 100));
  EXPECT_EQ(unknown.status, 404);
  EXPECT_TRUE(verify(unknown));
  EXPECT_EQ(json::parse(unknown.body)["code"], "RESOURCE_NOT_EXISTS");

  ASSERT_EQ(prepay("A2026112600053", 500).status, 200);
  auto unpaid = apply_refund(refund_request("A2026112600053", "R2026112600053", 1, 500));
  EXPECT_EQ(unpaid.status, 400);
  EXPECT_EQ(json::parse(unpaid.body)["code"], "INVALID_REQUEST");
  EXPECT_NE(json::parse(unpaid.body)["message"].get<std::string>().find("NOTPAY"),
            std::string::npos);
  ASSERT_EQ(close("A2026112600053").status, 204);
  EXPECT_EQ(apply_refund(refund_request("A2026112600053", "R2026112600053", 1, 500)).status, 400);
  EXPECT_EQ(trade_state("A2026112600053"), "CLOSED");

  paid_order("A2026112600153", 500);
  auto other_total = apply_refund(refund_request("A2026112600153", "R2026112600153", 1, 499));
  EXPECT_EQ(other_total.status, 400);
  EXPECT_EQ(json::parse(other_total.body)["code"], "INVALID_REQUEST");
  EXPECT_EQ(query_refund("R2026112600153").status, 404);
}

TEST_F(paysim_test, refunds_beyond_the_paid_total_are_refused_and_closed_ones_do_not_count) {
  set_processing("1m", "1m");
  paid_order("A2026112600054", 500);
  refund_of(apply_refund(refund_request("A2026112600054", "R2026112600054", 300, 500)));
  auto over = apply_refund(refund_request("A2026112600054", "R2026112600154", 300, 500));
  EXPECT_EQ(over.status, 400) << over.body;
  EXPECT_TRUE(verify(over));
  auto error = json::parse(over.body);
  EXPECT_EQ(error["code"], "INVALID_REQUEST");
  EXPECT_NE(error["message"].get<std::string>().find("by 100"), std::string::npos) << error;
  EXPECT_EQ(query_refund("R2026112600154").status, 404);

  // A refund that closed gave nothing back: its amount is refundable again.
  set_faults(R"({"refund":{"processing_min":"0ms","processing_max":"0ms","closed_rate":1}})");
  EXPECT_EQ(refund_of(apply_refund(refund_request("A2026112600054", "R2026112600254", 200, 500)))
              .status,
            "CLOSED");
  set_faults(R"({"refund":{"closed_rate":0}})");
  refund_of(apply_refund(refund_request("A2026112600054", "R2026112600354", 200, 500)));
  EXPECT_EQ(apply_refund(refund_request("A2026112600054", "R2026112600454", 1, 500)).status, 400);
  auto totals = report()["totals"];
  EXPECT_EQ(totals["refunds_requested"], 3);
  EXPECT_EQ(totals["refunded_over_paid"], 0);
}

TEST_F(paysim_test, an_order_takes_at_most_fifty_refunds) {
  set_processing("1m", "1m");
  paid_order("A2026112600055", 100);
  for (int i = 0; i < 50; ++i)
    ASSERT_EQ(apply_refund(refund_request("A2026112600055", "R55-" + std::to_string(i), 1, 100))
                .status,
              200)
      << i;
  auto refused = apply_refund(refund_request("A2026112600055", "R55-50", 1, 100));
  EXPECT_EQ(refused.status, 400);
  EXPECT_NE(json::parse(refused.body)["message"].get<std::string>().find("50 refunds"),
            std::string::npos);
  EXPECT_EQ(order("A2026112600055")["refunds"].size(), 50u);
}

TEST_F(paysim_test, a_refund_query_of_an_unknown_refund_is_404) {
  auto unknown = query_refund("R2026112600999");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_TRUE(verify(unknown));
  EXPECT_EQ(json::parse(unknown.body)["code"], "RESOURCE_NOT_EXISTS");
  auto bad = query_refund("R%20bad");
  EXPECT_EQ(bad.status, 400);
  EXPECT_TRUE(verify(bad));
  // The query faults apply to refund queries too.
  set_faults(R"({"wechat":{"query_throttle_rate":1}})");
  auto throttled = query_refund("R2026112600999");
  EXPECT_EQ(throttled.status, 429);
  EXPECT_TRUE(verify(throttled));
}

TEST_F(paysim_test, an_apply_whose_answer_was_lost_is_found_by_its_retry) {
  set_processing("1m", "1m");
  paid_order("A2026112600056", 500);
  auto request = refund_request("A2026112600056", "R2026112600056", 100, 500);

  // A plain failure: WeChat never took it.
  set_faults(R"({"refund":{"apply_error_rate":1}})");
  auto failed = apply_refund(request);
  EXPECT_EQ(failed.status, 500);
  EXPECT_TRUE(verify(failed));
  EXPECT_EQ(json::parse(failed.body)["code"], "SYSTEM_ERROR");
  EXPECT_EQ(query_refund("R2026112600056").status, 404);

  // Accepted, and the answer lost: the same out_refund_no finds the refund.
  set_faults(R"({"refund":{"apply_error_rate":0,"apply_answer_lost_rate":1}})");
  auto lost = apply_refund(request);
  EXPECT_EQ(lost.status, 500);
  EXPECT_TRUE(verify(lost));
  auto found = refund_of(query_refund("R2026112600056"));
  EXPECT_EQ(found.status, "PROCESSING");
  set_faults(R"({"refund":{"apply_answer_lost_rate":0}})");
  auto retried = refund_of(apply_refund(request));
  EXPECT_EQ(retried.refund_id, found.refund_id);
  EXPECT_EQ(retried.amount.refund, 100);

  auto totals = report()["totals"];
  EXPECT_EQ(totals["refunds_requested"], 1);
  EXPECT_EQ(totals["wechat"]["refund_apply_errors"], 1);
  EXPECT_EQ(totals["wechat"]["refund_answers_lost"], 1);
  EXPECT_EQ(order("A2026112600056")["refunds"].size(), 1u);
}

TEST_F(paysim_test, a_refund_succeeds_after_its_delay_and_its_notification_decrypts) {
  set_processing("20ms", "40ms");
  pay_and_receive("A2026112600057", 1, 500);
  auto accepted = refund_of(apply_refund(refund_request("A2026112600057", "R2026112600057", 200,
                                                        500)));
  EXPECT_EQ(accepted.status, "PROCESSING");
  ASSERT_TRUE(eventually([&] { return received_of("REFUND.SUCCESS").size() == 1; }));

  // The query already saw it resolve: no later than the notification.
  auto queried = refund_of(query_refund("R2026112600057"));
  EXPECT_EQ(queried.status, "SUCCESS");
  ASSERT_TRUE(queried.success_time);
  EXPECT_GE(*queried.success_time + 1s, *accepted.create_time);

  auto seen = received_of("REFUND.SUCCESS")[0];
  EXPECT_EQ(seen.failure, "");
  EXPECT_TRUE(seen.id.starts_with("EV-"));
  EXPECT_EQ(seen.resource.original_type, "refund");
  EXPECT_EQ(seen.resource.associated_data, "refund");
  // Sealed with associated_data "refund": another one does not open it.
  EXPECT_FALSE(wp::aead_decrypt(apiv3_key, seen.resource.nonce, "transaction",
                                seen.resource.ciphertext));
  auto opened = wp::aead_decrypt(apiv3_key, seen.resource.nonce, "refund",
                                 seen.resource.ciphertext);
  ASSERT_TRUE(opened);
  EXPECT_EQ(*opened, seen.plaintext);
  auto event = wp::parse_refund_event(seen.plaintext);
  ASSERT_TRUE(event) << seen.plaintext;
  EXPECT_EQ(event->mchid, mchid);
  EXPECT_EQ(event->out_trade_no, "A2026112600057");
  EXPECT_EQ(event->transaction_id, accepted.transaction_id);
  EXPECT_EQ(event->out_refund_no, "R2026112600057");
  EXPECT_EQ(event->refund_id, accepted.refund_id);
  EXPECT_EQ(event->refund_status, "SUCCESS");
  EXPECT_EQ(event->success_time, queried.success_time);
  EXPECT_EQ(event->user_received_account, accepted.user_received_account);
  EXPECT_EQ(event->amount.total, 500);
  EXPECT_EQ(event->amount.refund, 200);
  EXPECT_EQ(event->amount.payer_total, 500);
  EXPECT_EQ(event->amount.payer_refund, 200);
  EXPECT_FALSE(json::parse(seen.plaintext).contains("trade_state"));

  ASSERT_TRUE(eventually([&] {
    return order("A2026112600057")["refunds"][0]["notify"]["answered_2xx"] == 1;
  }));
  auto row = order("A2026112600057");
  EXPECT_EQ(row["refunded"], 200);
  EXPECT_EQ(row["trade_state"], "REFUND");
  auto& entry = row["refunds"][0];
  EXPECT_EQ(entry["status"], "SUCCESS");
  EXPECT_EQ(entry["notify"]["sent"], 1);
  EXPECT_EQ(entry["notify"]["dropped"], 0);
  EXPECT_EQ(entry["notify"]["notification_ids"][0], seen.id);
  auto totals = report()["totals"];
  EXPECT_EQ(totals["refunds_succeeded"], 1);
  EXPECT_EQ(totals["refunds_processing"], 0);
  EXPECT_EQ(totals["refunds_lost"], 1); // nobody told the business yet
}

TEST_F(paysim_test, a_refund_without_notify_url_is_notified_at_the_orders) {
  set_processing("0ms", "0ms");
  paid_order("A2026112600058", 500);
  auto request = refund_request("A2026112600058", "R2026112600058", 500, 500);
  request.notify_url.clear();
  EXPECT_EQ(refund_of(apply_refund(request)).status, "SUCCESS"); // no processing time
  ASSERT_TRUE(eventually([&] { return received_of("REFUND.SUCCESS").size() == 1; }));
  EXPECT_EQ(order("A2026112600058")["refunded"], 500);
}

TEST_F(paysim_test, a_dropped_refund_notification_still_resolves_for_the_query) {
  set_faults(R"({"refund":{"processing_min":"20ms","processing_max":"20ms",)"
             R"("notify_drop_rate":1}})");
  pay_and_receive("A2026112600059", 1, 500);
  refund_of(apply_refund(refund_request("A2026112600059", "R2026112600059", 500, 500)));
  ASSERT_TRUE(eventually([&] { return refund_status("R2026112600059") == "SUCCESS"; }));
  ASSERT_TRUE(eventually([&] { return report()["totals"]["refund_notifications_dropped"] == 1; }));
  std::this_thread::sleep_for(300ms); // what a sent notification would need, twice over
  EXPECT_EQ(receiver_->count(), 1u);  // the payment's only
  auto entry = order("A2026112600059")["refunds"][0];
  EXPECT_EQ(entry["status"], "SUCCESS");
  EXPECT_EQ(entry["notify"]["dropped"], 1);
  EXPECT_EQ(entry["notify"]["sent"], 0);
  EXPECT_EQ(entry["notify"]["attempts"], 0);
}

TEST_F(paysim_test, closed_and_abnormal_rates_decide_how_refunds_end) {
  set_faults(R"({"refund":{"processing_min":"10ms","processing_max":"30ms","closed_rate":1}})");
  paid_order("A2026112600060", 500);
  refund_of(apply_refund(refund_request("A2026112600060", "R2026112600060", 100, 500)));
  ASSERT_TRUE(eventually([&] { return received_of("REFUND.CLOSED").size() == 1; }));
  auto closed = refund_of(query_refund("R2026112600060"));
  EXPECT_EQ(closed.status, "CLOSED");
  EXPECT_FALSE(closed.success_time);
  auto closed_event = wp::parse_refund_event(received_of("REFUND.CLOSED")[0].plaintext);
  ASSERT_TRUE(closed_event);
  EXPECT_EQ(closed_event->refund_status, "CLOSED");
  EXPECT_FALSE(closed_event->success_time);

  set_faults(R"({"refund":{"closed_rate":0,"abnormal_rate":1}})");
  refund_of(apply_refund(refund_request("A2026112600060", "R2026112600160", 500, 500)));
  ASSERT_TRUE(eventually([&] { return received_of("REFUND.ABNORMAL").size() == 1; }));
  EXPECT_EQ(refund_status("R2026112600160"), "ABNORMAL");
  auto abnormal_event = wp::parse_refund_event(received_of("REFUND.ABNORMAL")[0].plaintext);
  ASSERT_TRUE(abnormal_event);
  EXPECT_EQ(abnormal_event->refund_status, "ABNORMAL");

  auto totals = report()["totals"];
  EXPECT_EQ(totals["refunds_closed"], 1);
  EXPECT_EQ(totals["refunds_abnormal"], 1);
  EXPECT_EQ(totals["refunds_succeeded"], 0);
  EXPECT_EQ(order("A2026112600060")["refunded"], 0);
}

TEST_F(paysim_test, an_abnormal_refund_is_resolved_at_wechat_by_a_person) {
  set_faults(R"({"refund":{"processing_min":"0ms","processing_max":"0ms","abnormal_rate":1}})");
  paid_order("A2026112600061", 500);
  refund_of(apply_refund(refund_request("A2026112600061", "R2026112600061", 300, 500)));
  EXPECT_EQ(refund_status("R2026112600061"), "ABNORMAL");
  ASSERT_TRUE(eventually([&] { return received_of("REFUND.ABNORMAL").size() == 1; }));

  auto path = std::string{"/control/refunds/R2026112600061/resolve"};
  EXPECT_EQ(control("POST", path, R"({"status":"REFUNDED"})").status, 400);
  EXPECT_EQ(control("POST", path, R"({})").status, 400);
  EXPECT_EQ(control("POST", "/control/refunds/R2026112600999/resolve", R"({"status":"SUCCESS"})")
              .status,
            404);
  auto resolved = control("POST", path, R"({"status":"SUCCESS"})");
  ASSERT_EQ(resolved.status, 200) << resolved.body;
  EXPECT_EQ(json::parse(resolved.body)["status"], "SUCCESS");
  auto refund = refund_of(query_refund("R2026112600061"));
  EXPECT_EQ(refund.status, "SUCCESS");
  EXPECT_TRUE(refund.success_time);
  ASSERT_TRUE(eventually([&] { return received_of("REFUND.SUCCESS").size() == 1; }));
  auto event = wp::parse_refund_event(received_of("REFUND.SUCCESS")[0].plaintext);
  ASSERT_TRUE(event);
  EXPECT_EQ(event->refund_status, "SUCCESS");
  EXPECT_EQ(event->out_refund_no, "R2026112600061");

  // Only an ABNORMAL refund is resolved.
  auto again = control("POST", path, R"({"status":"CLOSED"})");
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(json::parse(again.body)["code"], "REFUND_NOT_ABNORMAL");
  EXPECT_EQ(order("A2026112600061")["refunded"], 300);
  EXPECT_EQ(report()["totals"]["refunds_abnormal"], 0);
  auto entry = json::parse(control("GET", "/control/refunds/R2026112600061").body);
  EXPECT_EQ(entry["out_trade_no"], "A2026112600061");
  EXPECT_TRUE(entry["resolved_at"].is_string());
}

TEST_F(paysim_test, the_business_server_counts_refund_callbacks_by_key_and_flags_wrong_ones) {
  set_processing("0ms", "0ms");
  paid_order("A2026112600062", 500);
  auto paid = business("A2026112600062", callback_for("A2026112600062").dump());
  ASSERT_EQ(paid.status, 200);
  auto refund = refund_of(apply_refund(refund_request("A2026112600062", "R2026112600062", 200,
                                                      500)));
  ASSERT_EQ(refund.status, "SUCCESS");
  EXPECT_EQ(report()["totals"]["refunds_lost"], 1);

  auto key = std::string{"R2026112600062:refund.succeeded"};
  auto body = refund_callback("refund.succeeded", "A2026112600062", refund).dump();
  auto first = business(key, body);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(json::parse(first.body)["duplicate"], false);
  auto again = business(key, body);
  EXPECT_EQ(json::parse(again.body)["duplicate"], true);

  // Told "closed" about a refund WeChat made: the business hears a lie.
  auto lie = business("R2026112600062:refund.closed",
                      refund_callback("refund.closed", "A2026112600062", refund).dump());
  EXPECT_EQ(lie.status, 200);
  // Told "succeeded" about one still PROCESSING.
  set_processing("1m", "1m");
  auto pending = refund_of(apply_refund(refund_request("A2026112600062", "R2026112600162", 100,
                                                       500)));
  EXPECT_EQ(business("R2026112600162:refund.succeeded",
                     refund_callback("refund.succeeded", "A2026112600062", pending).dump())
              .status,
            200);
  // A refund WeChat refused, closed by paycoord: right.
  wp::refund_object refused;
  refused.out_refund_no = "R2026112600262";
  refused.amount = {500, 900, std::nullopt, std::nullopt, "CNY"};
  EXPECT_EQ(business("R2026112600262:refund.closed",
                     refund_callback("refund.closed", "A2026112600062", refused).dump())
              .status,
            200);
  EXPECT_EQ(business("R2026112600262:refund.later",
                     refund_callback("refund.later", "A2026112600062", refused).dump())
              .status,
            400);

  auto r = report();
  auto& totals = r["totals"];
  EXPECT_EQ(totals["refund_deliveries_succeeded"], 3);
  EXPECT_EQ(totals["refund_deliveries_closed"], 2);
  EXPECT_EQ(totals["refund_delivery_duplicates"], 1);
  EXPECT_EQ(totals["wrong_refund_deliveries"], 2);
  EXPECT_EQ(totals["refunds_lost"], 0);
  EXPECT_EQ(totals["refunded_over_paid"], 0);
  EXPECT_EQ(totals["business"]["deliveries"], 6); // order.paid and five refund events
  EXPECT_EQ(totals["business"]["unpaid_deliveries"], 0);
  EXPECT_EQ(totals["business"]["mismatched_deliveries"], 0);
  auto row = order("A2026112600062");
  EXPECT_EQ(row["business"]["deliveries"], 1); // the order.paid, as before
  auto& succeeded = row["refunds"][0]["business"];
  EXPECT_EQ(succeeded["succeeded"], 2);
  EXPECT_EQ(succeeded["closed"], 1);
  EXPECT_EQ(succeeded["duplicates"], 1);
  EXPECT_EQ(succeeded["wrong"], 1);
  EXPECT_EQ(row["refunds"][1]["business"]["wrong"], 1);
}

TEST_F(paysim_test, a_refund_made_at_wechat_counts_against_what_is_left_to_refund) {
  pay_and_receive("A2026112600063", 1, 500);
  auto made = control("POST", "/control/orders/A2026112600063/refund", R"({"amount": 200})");
  ASSERT_EQ(made.status, 200) << made.body;
  auto out_refund_no = json::parse(made.body)["refund"]["out_refund_no"].get<std::string>();
  EXPECT_EQ(refund_status(out_refund_no), "SUCCESS");
  auto over = apply_refund(refund_request("A2026112600063", "R2026112600063", 301, 500));
  EXPECT_EQ(over.status, 400);
  EXPECT_NE(json::parse(over.body)["message"].get<std::string>().find("by 1"), std::string::npos);
  auto totals = report()["totals"];
  EXPECT_EQ(totals["refunds_made_at_wechat"], 1);
  EXPECT_EQ(totals["refunds_requested"], 0);
  EXPECT_EQ(totals["refunds_succeeded"], 1);
  EXPECT_EQ(totals["refunds_lost"], 0); // paycoord never asked for it
  auto entry = order("A2026112600063")["refunds"][0];
  EXPECT_EQ(entry["requested"], false);
  EXPECT_EQ(order("A2026112600063")["refunded"], 200);
  // Delivering it to the business as a refund of paycoord's is wrong.
  wp::refund_object refund = refund_of(query_refund(out_refund_no));
  business(out_refund_no + ":refund.succeeded",
           refund_callback("refund.succeeded", "A2026112600063", refund).dump());
  EXPECT_EQ(report()["totals"]["wrong_refund_deliveries"], 1);
}

TEST_F(paysim_test, refund_faults_are_set_strictly_and_reset_forgets_refunds) {
  auto bad = control("POST", "/control/faults",
                     R"({"refund":{"processing_min":"5s","processing_max":"1s"}})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(json::parse(bad.body)["message"].get<std::string>().find("refund.processing_max"),
            std::string::npos)
    << bad.body;
  EXPECT_EQ(control("POST", "/control/faults", R"({"refund":{"closed_rate":2}})").status, 400);
  EXPECT_EQ(control("POST", "/control/faults", R"({"refund":{"drop_rate":0}})").status, 400);
  auto faults = json::parse(control("GET", "/control/faults").body);
  EXPECT_EQ(faults["refund"]["processing_min"], "1s");
  EXPECT_EQ(faults["refund"]["processing_max"], "3s");

  set_processing("1m", "1m");
  paid_order("A2026112600064", 500);
  refund_of(apply_refund(refund_request("A2026112600064", "R2026112600064", 100, 500)));
  ASSERT_EQ(control("POST", "/control/reset").status, 200);
  EXPECT_EQ(query_refund("R2026112600064").status, 404);
  EXPECT_EQ(report()["totals"]["refunds_requested"], 0);
}

} // namespace
