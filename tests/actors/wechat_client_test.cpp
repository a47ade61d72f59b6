// The wechat pool against a local WeChat Pay stub on 127.0.0.1 (port 0) that
// speaks the real wire protocol: it verifies our Authorization header with
// the merchant's public key and signs its answers with WeChat's key. A real
// actor system: the pool's workers are detached threads.

#include "actors/wechat_client.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <caf/all.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "actors/messages.hpp"
#include "net/http_server.hpp"
#include "net/router.hpp"
#include "net/wechatpay/authorization.hpp"
#include "net/wechatpay/jsapi.hpp"
#include "net/wechatpay/models.hpp"
#include "net/wechatpay/signed_headers.hpp"
#include "tests/net/wechatpay/test_support.hpp"

namespace paycoord {
namespace {

using namespace std::chrono_literals;
namespace http = boost::beast::http;
namespace asio = boost::asio;
namespace wxtest = wechatpay::test;

const std::string our_mchid = "1900000001";
const std::string our_appid = "wx8888888888888888";

std::string merchant_serial() {
  return wxtest::vectors().at("merchant_serial_no").get<std::string>();
}

std::string platform_key_id() {
  return wxtest::vectors().at("platform_public_key_id").get<std::string>();
}

// -- the WeChat Pay stub ------------------------------------------------------------

/// A request as the stub received it (after its Authorization verified).
struct seen_request {
  std::string method;
  std::string target;
  std::string body;
};

enum class signing { valid, forged, probe, none };

/// How the stub answers one request.
struct stub_answer {
  unsigned status = 200;
  std::string body;
  signing sign = signing::valid;
  /// Keep the answer until `release()`: the call blocks its worker.
  bool hold = false;
};

class wechat_stub {
public:
  using script = std::function<stub_answer(const seen_request&)>;

  wechat_stub()
      : merchant_public_(wxtest::load_public_key("merchant_public")),
        platform_private_(wxtest::load_private_key("platform_private")),
        forger_(wxtest::load_private_key("merchant_private")) {
    net::router routes;
    for (auto verb : {http::verb::get, http::verb::post})
      routes.add_prefix(verb, "/v3/", [this](net::request_context ctx) { serve(ctx); });
    auto server = net::http_server::start(io_, {}, std::move(routes));
    if (!server)
      throw std::runtime_error(server.error());
    server_ = std::move(*server);
    thread_ = std::thread{[this] { io_.run(); }};
  }

  ~wechat_stub() {
    release();
    server_->stop();
    server_->wait_idle(duration{3000});
    server_.reset();
    work_.reset();
    io_.stop();
    thread_.join();
  }

  std::string base_url() const {
    return "http://127.0.0.1:" + std::to_string(server_->port());
  }

  void answer_with(script s) {
    std::lock_guard guard{mutex_};
    script_ = std::move(s);
  }

  void answer_always(stub_answer a) {
    answer_with([a](const seen_request&) { return a; });
  }

  /// Sends every held answer.
  void release() {
    std::vector<std::pair<net::responder, net::http_response>> held;
    {
      std::lock_guard guard{mutex_};
      held.swap(held_);
    }
    for (auto& [respond, response] : held)
      respond.send(std::move(response));
  }

  /// Waits until `n` requests passed the Authorization check.
  bool wait_for_requests(size_t n) {
    std::unique_lock lock{mutex_};
    return seen_changed_.wait_for(lock, 5s, [&] { return requests_.size() >= n; });
  }

  std::vector<seen_request> requests() const {
    std::lock_guard guard{mutex_};
    return requests_;
  }

  int auth_failures() const {
    return auth_failures_.load();
  }

private:
  bool authorized(const seen_request& r, std::string_view header) const {
    auto auth = wechatpay::parse_authorization(header);
    if (!auth || auth->mchid != our_mchid || auth->serial_no != merchant_serial())
      return false;
    return wechatpay::verify_request(merchant_public_, *auth, r.method, r.target, r.body,
                                     wall_clock::now(), duration{300'000})
      .has_value();
  }

  net::http_response make_response(const stub_answer& a) const {
    net::http_response response{static_cast<http::status>(a.status), 11};
    response.body() = a.body;
    if (!a.body.empty())
      response.set(http::field::content_type, "application/json");
    if (a.sign == signing::none)
      return response;
    const auto& key = a.sign == signing::forged ? forger_ : platform_private_;
    auto headers = wechatpay::sign_response(key, platform_key_id(), wall_clock::now(),
                                            wechatpay::make_nonce(), a.body);
    if (!headers)
      throw std::runtime_error(headers.error().message());
    if (a.sign == signing::probe)
      headers->signature = "WECHATPAY/SIGNTEST/" + headers->signature.substr(0, 40);
    response.set(std::string{wechatpay::timestamp_header}, headers->timestamp);
    response.set(std::string{wechatpay::nonce_header}, headers->nonce);
    response.set(std::string{wechatpay::signature_header}, headers->signature);
    response.set(std::string{wechatpay::serial_header}, headers->serial);
    response.set(std::string{wechatpay::signature_type_header}, "WECHATPAY2-SHA256-RSA2048");
    return response;
  }

  void serve(net::request_context& ctx) {
    seen_request r{std::string{ctx.request.method_string()},
                   std::string{ctx.request.target()}, ctx.request.body()};
    if (!authorized(r, std::string{ctx.request[http::field::authorization]})) {
      ++auth_failures_;
      ctx.respond.send_error(401, "SIGN_ERROR", "signature verification failed");
      return;
    }
    stub_answer answer{500, "", signing::none, false};
    {
      std::lock_guard guard{mutex_};
      if (script_)
        answer = script_(r);
    }
    auto response = make_response(answer);
    {
      // Seen and held at once: a test that saw the request can release it.
      std::lock_guard guard{mutex_};
      requests_.push_back(r);
      if (answer.hold)
        held_.emplace_back(ctx.respond, std::move(response));
    }
    seen_changed_.notify_all();
    if (!answer.hold)
      ctx.respond.send(std::move(response));
  }

  wechatpay::public_key merchant_public_;
  wechatpay::private_key platform_private_;
  wechatpay::private_key forger_; // not WeChat's key
  std::atomic<int> auth_failures_{0};

  // Guarded by mutex_:
  mutable std::mutex mutex_;
  std::condition_variable seen_changed_;
  script script_;
  std::vector<seen_request> requests_;
  std::vector<std::pair<net::responder, net::http_response>> held_;

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::unique_ptr<net::http_server> server_;
  std::thread thread_;
};

// -- answers -------------------------------------------------------------------------

/// The out_trade_no of a query or close target.
std::string id_of(const seen_request& r) {
  constexpr std::string_view prefix = "/v3/pay/transactions/out-trade-no/";
  auto rest = r.target.substr(prefix.size());
  return rest.substr(0, rest.find_first_of("/?"));
}

std::string transaction(const std::string& out_trade_no, const std::string& state,
                        const std::string& mchid = our_mchid) {
  nlohmann::json tx{{"mchid", mchid},
                    {"appid", our_appid},
                    {"out_trade_no", out_trade_no},
                    {"trade_type", "JSAPI"},
                    {"trade_state", state},
                    {"trade_state_desc", "..."}};
  if (state == "SUCCESS") {
    tx["transaction_id"] = "4200002026112612345678901234";
    tx["success_time"] = "2026-11-26T10:00:05+08:00";
    tx["bank_type"] = "OTHERS";
    tx["payer"] = {{"openid", "o-abc"}};
    tx["amount"] = {{"total", 100}, {"payer_total", 90}, {"currency", "CNY"},
                    {"payer_currency", "CNY"}};
  }
  return tx.dump();
}

/// Answers every query or close with a NOTPAY transaction of its order.
wechat_stub::script notpay_for_each(bool hold = false) {
  return [hold](const seen_request& r) {
    return stub_answer{200, transaction(id_of(r), "NOTPAY"), signing::valid, hold};
  };
}

stub_answer error_answer(unsigned status, const std::string& code) {
  return {status, nlohmann::json{{"code", code}, {"message", "stub says " + code}}.dump(),
          signing::valid, false};
}

// -- fixture ---------------------------------------------------------------------------

using pending_call = caf::response_handle<caf::blocking_actor, caf::message, true>;

class wechat_client_test : public ::testing::Test {
protected:
  wechat_client_test() {
    register_message_types(cfg_);
    cfg_.set("scheduler.max-threads", 2);
    cfg_.set("logger.file-verbosity", caf::atom("quiet"));
    sys_ = std::make_unique<caf::actor_system>(cfg_);
    wechatpay::credential_files files;
    files.merchant_private_key_file = wxtest::fixture_path("merchant_private.pem");
    files.platform_public_key_id = platform_key_id();
    files.platform_public_key_file = wxtest::fixture_path("platform_public.pem");
    auto loaded = wechatpay::load_credentials(files);
    if (!loaded)
      throw std::runtime_error(loaded.error().message());
    credentials_ = std::make_shared<const wechatpay::credentials>(std::move(*loaded));
  }

  ~wechat_client_test() override {
    EXPECT_EQ(stub_.auth_failures(), 0) << "the stub rejected our Authorization";
    stub_.release();
    for (auto& pool : pools_)
      caf::anon_send_exit(pool, caf::exit_reason::user_shutdown);
    sys_.reset(); // waits for every worker thread
  }

  wechat_pool_config pool_config() {
    wechat_pool_config c;
    c.wechatpay.base_url = stub_.base_url();
    c.wechatpay.mchid = our_mchid;
    c.wechatpay.appid = our_appid;
    c.wechatpay.merchant_serial_no = merchant_serial();
    c.wechatpay.notify_url = "https://pay.example.com/v1/wechatpay/notify";
    c.wechatpay.timeout = duration{2000};
    c.credentials = credentials_;
    c.workers = 2;
    return c;
  }

  caf::actor start(wechat_pool_config c) {
    pools_.push_back(spawn_wechat_pool(*sys_, std::move(c)));
    return pools_.back();
  }

  caf::actor pool() {
    if (pools_.empty())
      start(pool_config());
    return pools_.front();
  }

  /// Waits for the answer of `call` and hands it to `check` (a failed test
  /// if it is an error).
  template <class T, class Check>
  static void await(pending_call& call, Check check) {
    call.receive([&](T& x) { check(x); },
                 [](caf::error& err) { ADD_FAILURE() << caf::to_string(err); });
  }

  /// Asks `dest` and waits for the answer.
  template <class T, class... Ts>
  T ask(const caf::actor& dest, Ts... xs) {
    caf::scoped_actor self{*sys_};
    auto call = self->request(dest, caf::infinite, xs...);
    T out;
    await<T>(call, [&](T& x) { out = std::move(x); });
    return out;
  }

  query_result query(const std::string& id) {
    return ask<query_result>(pool(), query_atom_v, id);
  }

  order_record order(const std::string& id) {
    order_record x;
    x.out_trade_no = id;
    x.description = "Monthly plan";
    x.amount_total = 100;
    x.currency = "CNY";
    x.payer_openid = "o-abc";
    x.attach = "tenant=7";
    x.expire_at_ms = 1'795'665'600'000; // 2026-11-26T12:00:00+08:00
    return x;
  }

  caf::actor_system_config cfg_;
  wechat_stub stub_;
  std::unique_ptr<caf::actor_system> sys_;
  std::shared_ptr<const wechatpay::credentials> credentials_;
  std::vector<caf::actor> pools_;
};

// -- query -------------------------------------------------------------------------------

TEST_F(wechat_client_test, query_success_is_a_verified_payment_fact) {
  stub_.answer_with([](const seen_request& r) {
    return stub_answer{200, transaction(id_of(r), "SUCCESS")};
  });
  auto r = query("A1");
  ASSERT_EQ(r.outcome, query_outcome::trade_state) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.fact.out_trade_no, "A1");
  EXPECT_EQ(r.fact.trade_state, "SUCCESS");
  EXPECT_EQ(r.fact.transaction_id, "4200002026112612345678901234");
  EXPECT_EQ(r.fact.mchid, our_mchid);
  EXPECT_EQ(r.fact.appid, our_appid);
  EXPECT_EQ(r.fact.total, 100);
  EXPECT_EQ(r.fact.payer_total, 90);
  EXPECT_EQ(r.fact.currency, "CNY");
  EXPECT_EQ(r.fact.success_time_ms, 1'795'658'405'000);
  auto seen = stub_.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].target, "/v3/pay/transactions/out-trade-no/A1?mchid=1900000001");
  EXPECT_EQ(seen[0].body, "");
}

TEST_F(wechat_client_test, query_notpay_is_a_trade_state) {
  stub_.answer_always(stub_answer{200, transaction("B2", "NOTPAY")});
  auto r = query("B2");
  ASSERT_EQ(r.outcome, query_outcome::trade_state) << r.error;
  EXPECT_EQ(r.fact.trade_state, "NOTPAY");
  EXPECT_EQ(r.fact.transaction_id, "");
}

TEST_F(wechat_client_test, query_404_is_not_found) {
  stub_.answer_always(error_answer(404, "ORDER_NOT_EXIST"));
  auto r = query("C3");
  EXPECT_EQ(r.outcome, query_outcome::not_found);
  EXPECT_EQ(r.status, 404);
}

TEST_F(wechat_client_test, query_429_and_5xx_and_202_are_retried_later) {
  for (unsigned status : {429u, 500u, 503u, 202u}) {
    stub_.answer_always(error_answer(status, status == 429 ? "FREQUENCY_LIMITED" : "SYSTEM_ERROR"));
    auto r = query("D4");
    EXPECT_EQ(r.outcome, query_outcome::retry_later) << status;
    EXPECT_EQ(r.status, static_cast<int>(status));
  }
}

TEST_F(wechat_client_test, query_400_401_403_fail) {
  for (unsigned status : {400u, 401u, 403u}) {
    stub_.answer_always(error_answer(status, "PARAM_ERROR"));
    auto r = query("E5");
    EXPECT_EQ(r.outcome, query_outcome::failed) << status;
    EXPECT_EQ(r.status, static_cast<int>(status));
    EXPECT_NE(r.error.find("PARAM_ERROR"), std::string::npos) << r.error;
  }
}

TEST_F(wechat_client_test, a_200_without_wechats_valid_signature_is_never_believed) {
  const std::pair<signing, std::string> cases[] = {
    {signing::forged, "signature_invalid"},
    {signing::none, "missing_header"},
    {signing::probe, "signature_probe"}, // WECHATPAY/SIGNTEST/...
  };
  for (const auto& [sign, why] : cases) {
    stub_.answer_always({200, transaction("F6", "SUCCESS"), sign});
    auto r = query("F6");
    EXPECT_EQ(r.outcome, query_outcome::retry_later) << why;
    EXPECT_NE(r.error.find(why), std::string::npos) << r.error;
    EXPECT_EQ(r.fact.trade_state, "");
  }
}

TEST_F(wechat_client_test, a_transaction_of_another_merchant_fails) {
  // Signed by WeChat, but not about our merchant: never a fact about our
  // order, and retrying soon cannot fix a misconfiguration.
  stub_.answer_always(stub_answer{200, transaction("I9", "SUCCESS", "1900000002")});
  auto r = query("I9");
  EXPECT_EQ(r.outcome, query_outcome::failed);
  EXPECT_NE(r.error.find("1900000002"), std::string::npos) << r.error;
  EXPECT_EQ(r.fact.trade_state, "");
}

TEST_F(wechat_client_test, a_transaction_of_another_order_fails) {
  stub_.answer_always(stub_answer{200, transaction("OTHER1", "SUCCESS")});
  auto r = query("J10");
  EXPECT_EQ(r.outcome, query_outcome::failed);
  EXPECT_NE(r.error.find("OTHER1"), std::string::npos) << r.error;
}

TEST_F(wechat_client_test, special_characters_in_out_trade_no_are_escaped_and_signed) {
  stub_.answer_always(stub_answer{200, transaction("K|1*x", "NOTPAY")});
  auto r = query("K|1*x");
  ASSERT_EQ(r.outcome, query_outcome::trade_state) << r.error;
  auto seen = stub_.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].target, "/v3/pay/transactions/out-trade-no/K%7C1*x?mchid=1900000001");
}

TEST_F(wechat_client_test, a_server_that_is_not_listening_is_retried_later) {
  auto c = pool_config();
  c.wechatpay.base_url = "http://127.0.0.1:1";
  auto dead = start(std::move(c));
  auto r = ask<query_result>(dead, query_atom_v, std::string{"L11"});
  EXPECT_EQ(r.outcome, query_outcome::retry_later);
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("connect_failed"), std::string::npos) << r.error;
}

// -- close and prepay ------------------------------------------------------------------------

TEST_F(wechat_client_test, close_204_is_ok) {
  stub_.answer_always(stub_answer{204, ""});
  auto r = ask<call_result>(pool(), close_atom_v, std::string{"M12"});
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 204);
  auto seen = stub_.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/v3/pay/transactions/out-trade-no/M12/close");
  EXPECT_EQ(nlohmann::json::parse(seen[0].body), (nlohmann::json{{"mchid", our_mchid}}));
}

TEST_F(wechat_client_test, close_failures_say_whether_to_retry) {
  stub_.answer_always(error_answer(500, "SYSTEM_ERROR"));
  auto r = ask<call_result>(pool(), close_atom_v, std::string{"N13"});
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.retryable);
  EXPECT_EQ(r.status, 500);
  stub_.answer_always(error_answer(400, "PARAM_ERROR"));
  r = ask<call_result>(pool(), close_atom_v, std::string{"N13"});
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.retryable);
  stub_.answer_always(stub_answer{204, "", signing::none});
  r = ask<call_result>(pool(), close_atom_v, std::string{"N13"});
  EXPECT_FALSE(r.ok) << "an unsigned 204 is not a close";
  EXPECT_TRUE(r.retryable);
}

TEST_F(wechat_client_test, prepay_places_the_order_and_returns_the_prepay_id) {
  std::string problems = "not called";
  stub_.answer_with([&problems](const seen_request& r) {
    auto body = wechatpay::parse_prepay_request(r.body);
    if (!body) {
      problems = body.error().message();
      return error_answer(400, "PARAM_ERROR");
    }
    problems.clear();
    auto expect = [&](const std::string& what, const std::string& got, const std::string& want) {
      if (got != want)
        problems += what + "=" + got + " (want " + want + ") ";
    };
    expect("target", r.target, "/v3/pay/transactions/jsapi");
    expect("appid", body->appid, our_appid);
    expect("mchid", body->mchid, our_mchid);
    expect("description", body->description, "Monthly plan");
    expect("out_trade_no", body->out_trade_no, "P14");
    expect("attach", body->attach, "tenant=7");
    expect("notify_url", body->notify_url, "https://pay.example.com/v1/wechatpay/notify");
    expect("amount.total", std::to_string(body->amount.total), "100");
    expect("amount.currency", body->amount.currency, "CNY");
    expect("payer.openid", body->payer_openid, "o-abc");
    expect("time_expire", nlohmann::json::parse(r.body).value("time_expire", ""),
           "2026-11-26T12:00:00+08:00");
    return stub_answer{200, R"({"prepay_id":"wx26112600000000000000000000000000"})"};
  });
  auto r = ask<call_result>(pool(), prepay_atom_v, order("P14"));
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.prepay_id, "wx26112600000000000000000000000000");
  EXPECT_EQ(problems, "");
}

TEST_F(wechat_client_test, prepay_failures_carry_no_prepay_id) {
  stub_.answer_always(error_answer(503, "SYSTEM_ERROR"));
  auto r = ask<call_result>(pool(), prepay_atom_v, order("Q15"));
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.retryable);
  EXPECT_EQ(r.prepay_id, "");
  EXPECT_NE(r.error.find("SYSTEM_ERROR"), std::string::npos) << r.error;
  stub_.answer_always(stub_answer{200, R"({"prepay_id":"wx_forged"})", signing::forged});
  r = ask<call_result>(pool(), prepay_atom_v, order("Q15"));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.prepay_id, "");
}

// -- the pool ------------------------------------------------------------------------------------

TEST_F(wechat_client_test, a_full_queue_answers_overloaded_at_once) {
  auto c = pool_config();
  c.workers = 1;
  c.queue_limit = 2;
  auto busy = start(std::move(c));
  stub_.answer_with(notpay_for_each(true));
  caf::scoped_actor self{*sys_};
  std::vector<std::string> ids = {"R01", "R02", "R03", "R04", "R05"};
  std::vector<pending_call> calls;
  for (auto& id : ids)
    calls.push_back(self->request(busy, caf::infinite, query_atom_v, id));
  ASSERT_TRUE(stub_.wait_for_requests(1));
  // One in flight, two queued: the fourth and fifth are refused at once,
  // while the first is still held by the stub.
  for (size_t i : {3u, 4u}) {
    await<query_result>(calls[i], [](query_result& r) {
      EXPECT_EQ(r.outcome, query_outcome::retry_later);
      EXPECT_EQ(r.error, "overloaded");
    });
  }
  EXPECT_EQ(stub_.requests().size(), 1u);
  stub_.answer_with(notpay_for_each());
  stub_.release();
  for (size_t i : {0u, 1u, 2u}) {
    await<query_result>(calls[i], [&](query_result& r) {
      EXPECT_EQ(r.outcome, query_outcome::trade_state) << r.error;
      EXPECT_EQ(r.fact.out_trade_no, ids[i]);
    });
  }
}

// Defect 6: the pool called the refusal handler just to tell whether a
// message was a request, so every call counted as refused.
TEST_F(wechat_client_test, only_calls_really_refused_count_as_refused) {
  auto m = std::make_shared<paycoord::metrics>();
  auto c = pool_config();
  c.metrics = m;
  c.workers = 1;
  c.queue_limit = 1;
  auto counted = start(std::move(c));
  auto refused = [&] {
    return m->serialize().find(
             R"(paycoord_wechat_calls_total{endpoint="query",outcome="refused"} 0)")
           == std::string::npos;
  };
  stub_.answer_with(notpay_for_each());
  for (auto id : {"M01", "M02", "M03"}) {
    auto r = ask<query_result>(counted, query_atom_v, std::string{id});
    EXPECT_EQ(r.outcome, query_outcome::trade_state) << r.error;
  }
  EXPECT_FALSE(refused()) << "served calls are not refusals";
  // Now a real refusal: one in flight, one queued, the third refused.
  stub_.answer_with(notpay_for_each(true));
  caf::scoped_actor self{*sys_};
  std::vector<pending_call> calls;
  for (auto id : {"M04", "M05", "M06"})
    calls.push_back(self->request(counted, caf::infinite, query_atom_v, std::string{id}));
  ASSERT_TRUE(stub_.wait_for_requests(4));
  await<query_result>(calls[2], [](query_result& r) { EXPECT_EQ(r.error, "overloaded"); });
  EXPECT_TRUE(refused());
  stub_.answer_with(notpay_for_each());
  stub_.release();
  for (size_t i : {0u, 1u})
    await<query_result>(calls[i], [](query_result&) {});
}

TEST_F(wechat_client_test, a_prepay_overtakes_queued_background_calls) {
  // A customer waits for the prepay; a backlog of verify queries must not
  // delay it.
  auto c = pool_config();
  c.workers = 1;
  auto one = start(std::move(c));
  stub_.answer_with(notpay_for_each(true));
  caf::scoped_actor self{*sys_};
  std::vector<pending_call> queries;
  queries.push_back(self->request(one, caf::infinite, query_atom_v, std::string{"U01"}));
  ASSERT_TRUE(stub_.wait_for_requests(1));
  for (auto id : {"U02", "U03"})
    queries.push_back(self->request(one, caf::infinite, query_atom_v, std::string{id}));
  auto prepay = self->request(one, caf::infinite, prepay_atom_v, order("U04"));
  // The pool's mailbox holds U02, U03 and the prepay before U01's answer.
  stub_.answer_with([](const seen_request& r) {
    if (r.target == "/v3/pay/transactions/jsapi")
      return stub_answer{200, R"({"prepay_id":"wx_U04"})", signing::valid, false};
    return stub_answer{200, transaction(id_of(r), "NOTPAY"), signing::valid, false};
  });
  stub_.release();
  for (auto& q : queries)
    await<query_result>(q, [](query_result&) {});
  await<call_result>(prepay, [](call_result& r) { EXPECT_EQ(r.prepay_id, "wx_U04") << r.error; });
  auto seen = stub_.requests();
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(id_of(seen[0]), "U01");
  EXPECT_EQ(seen[1].target, "/v3/pay/transactions/jsapi") << "the prepay went first";
  EXPECT_EQ(id_of(seen[2]), "U02");
  EXPECT_EQ(id_of(seen[3]), "U03");
}

TEST_F(wechat_client_test, the_rate_limit_holds_calls_until_a_token_is_due) {
  auto steady = std::make_shared<std::atomic<int64_t>>(1'000'000'000);
  auto c = pool_config();
  c.wechatpay.rate_limit_qps = 20; // one token per 50 ms, burst 20
  c.workers = 4;
  c.steady_now_ns = [steady] { return steady->load(); };
  auto limited = start(std::move(c));
  stub_.answer_with(notpay_for_each());
  caf::scoped_actor self{*sys_};
  std::vector<pending_call> calls;
  for (int i = 0; i < 25; ++i) {
    auto id = "S" + std::to_string(10 + i);
    calls.push_back(self->request(limited, caf::infinite, query_atom_v, id));
  }
  ASSERT_TRUE(stub_.wait_for_requests(20));
  // The fake clock stands still: no token becomes due, however often the
  // pool's timer looks.
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(stub_.requests().size(), 20u);
  *steady += 50'000'000;
  ASSERT_TRUE(stub_.wait_for_requests(21));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(stub_.requests().size(), 21u);
  *steady += 10'000'000'000;
  ASSERT_TRUE(stub_.wait_for_requests(25));
  for (auto& call : calls)
    await<query_result>(call, [](query_result& r) {
      EXPECT_EQ(r.outcome, query_outcome::trade_state) << r.error;
    });
}

TEST_F(wechat_client_test, stopping_the_pool_answers_every_waiting_call) {
  auto c = pool_config();
  c.workers = 1;
  auto stopping = start(std::move(c));
  stub_.answer_with(notpay_for_each(true));
  caf::scoped_actor self{*sys_};
  auto running = self->request(stopping, caf::infinite, query_atom_v, std::string{"T01"});
  auto queued = self->request(stopping, caf::infinite, close_atom_v, std::string{"T02"});
  ASSERT_TRUE(stub_.wait_for_requests(1));
  caf::anon_send_exit(stopping, caf::exit_reason::user_shutdown);
  await<query_result>(running, [](query_result& r) {
    EXPECT_EQ(r.outcome, query_outcome::retry_later);
    EXPECT_EQ(r.error, "shutting down");
  });
  await<call_result>(queued, [](call_result& r) {
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(r.retryable);
    EXPECT_EQ(r.error, "shutting down");
  });
}

TEST_F(wechat_client_test, a_message_outside_the_protocol_is_an_error) {
  caf::scoped_actor self{*sys_};
  bool refused = false;
  self->request(pool(), caf::infinite, std::string{"hello"})
    .receive([](caf::message&) { ADD_FAILURE() << "answered"; },
             [&](caf::error& err) { refused = err == caf::sec::unexpected_message; });
  EXPECT_TRUE(refused);
}

} // namespace
} // namespace paycoord
