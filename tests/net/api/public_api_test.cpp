// The public API over HTTP against the real actors, store and server, with
// scripted WeChat and business actors: every row of the notify table of
// CONTRACTS.md §3 and the order API. Notifications are the shared vectors
// (an independent implementation of WeChat's signing and encryption) or
// sealed with the vectors' platform key.

#include <mutex>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "actors/order_machine.hpp"
#include "actors/registry.hpp"
#include "actors/store.hpp"
#include "actors/timers.hpp"
#include "net/api/public_api.hpp"
#include "net/http_client.hpp"
#include "net/http_server.hpp"
#include "net/wechatpay/jsapi.hpp"
#include "net/wechatpay/models.hpp"
#include "net/wechatpay/notification_opener.hpp"
#include "net/wechatpay/signing.hpp"
#include "tests/net/wechatpay/test_support.hpp"
#include "tests/temp_dir.hpp"

using namespace paycoord;
using namespace std::chrono_literals;
using json = nlohmann::json;
namespace wt = paycoord::wechatpay::test;

namespace {

/// What the scripted WeChat and business actors did (they run on CAF
/// threads, the test reads from its own).
struct world_state {
  std::mutex mtx;
  bool prepay_ok = true;
  int forwards = 0;
  int prepays = 0;
};

caf::behavior scripted_wechat(caf::event_based_actor*,
                              std::shared_ptr<world_state> w) {
  return {
    [w](prepay_atom, const order_record& x) {
      std::lock_guard guard{w->mtx};
      ++w->prepays;
      call_result r;
      r.ok = w->prepay_ok;
      r.status = r.ok ? 200 : 500;
      if (r.ok)
        r.prepay_id = "wx26" + x.out_trade_no;
      else
        r.error = "SYSTEM_ERROR";
      return r;
    },
    [](query_atom, const std::string&) {
      query_result r;
      r.outcome = query_outcome::trade_state;
      r.fact.trade_state = "NOTPAY";
      return r;
    },
    [](close_atom, const std::string&) { return call_result{true, false, 204, "", ""}; },
  };
}

caf::behavior scripted_business(caf::event_based_actor*,
                                std::shared_ptr<world_state> w) {
  return {
    [w](forward_atom, const forward_request&) {
      std::lock_guard guard{w->mtx};
      ++w->forwards;
      return forward_result{true, 200, "", 1};
    },
  };
}

const json& v() {
  return wt::vectors();
}

std::string vector_id() {
  return v()["notification"]["transaction"]["out_trade_no"];
}

class public_api_test : public ::testing::Test {
protected:
  void SetUp() override {
    auto opened = order_store::open(dir.str());
    ASSERT_TRUE(opened);
    db = std::shared_ptr<order_store>{std::move(*opened)};
    register_message_types(cfg);
    cfg.set("scheduler.max-threads", size_t{2});
    sys = std::make_unique<caf::actor_system>(cfg);
    store = sys->spawn<caf::detached>(store_actor, db);
    wechat = sys->spawn(scripted_wechat, world);
    business = sys->spawn(scripted_business, world);
    order_deps deps;
    deps.store = store;
    deps.wechat = wechat;
    deps.business = business;
    deps.machine = std::make_shared<order_machine>(order_rules{
      v()["mchid"], v()["appid"], schedule_config{}});
    deps.now_ms = [] { return to_unix_ms(wall_clock::now()); };
    registry_options ropts;
    ropts.spawn_timers = [](caf::local_actor* self, caf::actor target) {
      timers_options t;
      t.now_ms = [] { return to_unix_ms(wall_clock::now()); };
      return self->spawn(timers_actor, std::move(target), t);
    };
    registry = sys->spawn(registry_actor, deps, ropts);

    wechatpay::credential_files files;
    files.merchant_private_key_file = wt::fixture_path("merchant_private.pem");
    files.platform_public_key_id = v()["platform_public_key_id"];
    files.platform_public_key_file = wt::fixture_path("platform_public.pem");
    auto creds = wechatpay::load_credentials(files);
    ASSERT_TRUE(creds) << creds.error().message();
    auto ctx = std::make_shared<api::api_context>();
    ctx->system = sys.get();
    ctx->registry = registry;
    ctx->store = store;
    ctx->io = &io;
    ctx->mchid = v()["mchid"];
    ctx->appid = v()["appid"];
    ctx->apiv3_key = v()["apiv3_key"];
    ctx->credentials = std::make_shared<wechatpay::credentials>(std::move(*creds));
    auto offset = clock_offset_s;
    ctx->now = [offset] {
      return wt::at_seconds(std::string{v()["notification"]["headers"]
                                          ["Wechatpay-Timestamp"]})
             + std::chrono::seconds{offset->load()};
    };
    ctx->ready = &ready;
    net::router routes;
    api::add_public_routes(routes, ctx);
    net::http_server_options opts;
    opts.name = "public";
    auto started = net::http_server::start(io, opts, std::move(routes));
    ASSERT_TRUE(started) << started.error();
    server = std::move(*started);
    base = "http://127.0.0.1:" + std::to_string(server->port());
    work.emplace(io.get_executor());
    io_thread = std::thread{[this] { io.run(); }};
  }

  void TearDown() override {
    client.close_idle_connections(); // else stop() waits for our keep-alive
    server->stop();
    server->wait_idle(5s);
    work.reset();
    io.stop();
    io_thread.join();
    server.reset();
    for (auto& a : {registry, store, wechat, business})
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    sys->await_all_actors_done();
  }

  net::outbound_response send(const std::string& method, const std::string& path,
                              const std::string& body,
                              std::vector<std::pair<std::string, std::string>> headers = {}) {
    headers.emplace_back("Content-Type", "application/json");
    auto r = client.send({method, base + path, std::move(headers), body});
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return r ? *r : net::outbound_response{};
  }

  net::outbound_response notify(const std::string& body, const json& headers) {
    std::vector<std::pair<std::string, std::string>> h;
    for (auto& [k, val] : headers.items())
      h.emplace_back(k, val.get<std::string>());
    return send("POST", "/v1/wechatpay/notify", body, std::move(h));
  }

  /// A notification sealed like WeChat does, for `plaintext`.
  std::pair<std::string, json> seal(const std::string& plaintext,
                                    const std::string& id = "EV-SEALED-1",
                                    const std::string& event = "TRANSACTION.SUCCESS") {
    wechatpay::notification env;
    env.id = id;
    env.create_time = "2026-11-26T10:00:06+08:00";
    env.resource_type = "encrypt-resource";
    env.event_type = event;
    env.summary = "test";
    env.resource.original_type = "transaction";
    env.resource.associated_data = "transaction";
    env.resource.nonce = "abcdefghijkl";
    auto sealed = wechatpay::seal_notification(
      wt::load_private_key("platform_private"), std::string{v()["platform_public_key_id"]},
      std::string{v()["apiv3_key"]}, env, plaintext,
      wt::at_seconds(std::string{v()["notification"]["headers"]["Wechatpay-Timestamp"]}),
      "NONCE0123456789");
    EXPECT_TRUE(sealed);
    json headers{{"Wechatpay-Timestamp", sealed->headers.timestamp},
                 {"Wechatpay-Nonce", sealed->headers.nonce},
                 {"Wechatpay-Signature", sealed->headers.signature},
                 {"Wechatpay-Serial", sealed->headers.serial},
                 {"Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048"}};
    return {sealed->body, headers};
  }

  std::string transaction_json(const std::string& id, int64_t total,
                               const std::string& mchid = "1900000001") {
    auto t = json::parse(std::string{v()["notification"]["decrypted_resource"]});
    t["out_trade_no"] = id;
    t["amount"]["total"] = total;
    t["mchid"] = mchid;
    return t.dump();
  }

  json create_body(const std::string& id, int64_t total = 100) {
    return json{{"out_trade_no", id},
                {"description", "Monthly plan"},
                {"amount", {{"total", total}, {"currency", "CNY"}}},
                {"payer", {{"openid", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}}};
  }

  std::optional<order_record> stored(const std::string& id) {
    auto x = db->get_order(id);
    return x && *x ? std::optional<order_record>{**x} : std::nullopt;
  }

  /// Effects after the answer (forwarding) are asynchronous: wait a bounded
  /// time for the stored state.
  bool await_state(const std::string& id, order_state s) {
    for (int i = 0; i < 500; ++i) {
      auto x = stored(id);
      if (x && x->state == s)
        return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  int forwards() {
    std::lock_guard guard{world->mtx};
    return world->forwards;
  }

  paycoord::testing::temp_dir dir;
  std::shared_ptr<order_store> db;
  std::shared_ptr<world_state> world = std::make_shared<world_state>();
  std::shared_ptr<std::atomic<int64_t>> clock_offset_s =
    std::make_shared<std::atomic<int64_t>>(0);
  std::atomic<bool> ready{true};
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::actor store, wechat, business, registry;
  boost::asio::io_context io;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::unique_ptr<net::http_server> server;
  std::thread io_thread;
  std::string base;
  net::http_client client;
};

} // namespace

// -- notify table ---------------------------------------------------------------

TEST_F(public_api_test, the_vector_notification_pays_an_order_created_through_the_api) {
  auto created = send("POST", "/v1/orders", create_body(vector_id()).dump());
  ASSERT_EQ(created.status, 201) << created.body;
  auto r = notify(v()["notification"]["body"], v()["notification"]["headers"]);
  EXPECT_EQ(r.status, 204) << r.body;
  EXPECT_TRUE(r.body.empty());
  auto x = stored(vector_id());
  ASSERT_TRUE(x);
  EXPECT_NE(x->state, order_state::pending) << "PAID is synced before the 204";
  EXPECT_EQ(x->transaction_id, "4200002026112612345678901234");
  EXPECT_TRUE(await_state(vector_id(), order_state::confirmed));
  // The duplicate: 204, no second forward.
  auto dup = notify(v()["notification"]["body"], v()["notification"]["headers"]);
  EXPECT_EQ(dup.status, 204);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(forwards(), 1);
}

TEST_F(public_api_test, any_flipped_byte_is_rejected_and_changes_nothing) {
  ASSERT_EQ(send("POST", "/v1/orders", create_body(vector_id()).dump()).status, 201);
  std::string body = v()["notification"]["body"];
  json headers = v()["notification"]["headers"];
  std::string sig = headers["Wechatpay-Signature"];
  for (size_t i = 0; i < body.size(); i += 37) {
    auto tampered = body;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    auto r = notify(tampered, headers);
    EXPECT_GE(r.status, 400) << "body byte " << i;
    EXPECT_LT(r.status, 500) << "body byte " << i;
  }
  for (size_t i = 0; i < sig.size(); i += 11) {
    auto h = headers;
    auto s = sig;
    s[i] = s[i] == 'A' ? 'B' : 'A';
    h["Wechatpay-Signature"] = s;
    auto r = notify(body, h);
    EXPECT_EQ(r.status, 401) << "signature char " << i;
  }
  EXPECT_EQ(stored(vector_id())->state, order_state::pending);
  EXPECT_EQ(forwards(), 0);
}

TEST_F(public_api_test, every_negative_vector_is_answered_per_the_contract) {
  ASSERT_EQ(send("POST", "/v1/orders", create_body(vector_id()).dump()).status, 201);
  const auto& neg = v()["notification_negative"];
  struct row {
    const char* vector;
    int status;
  } rows[] = {{"body_tampered", 401}, {"probe_signature", 401},
              {"unknown_serial", 401}, {"gcm_tag_tampered", 400}};
  for (auto& r : rows) {
    auto res = notify(neg[r.vector]["body"], neg[r.vector]["headers"]);
    EXPECT_EQ(res.status, r.status) << r.vector << ": " << res.body;
    auto err = json::parse(res.body, nullptr, false);
    EXPECT_EQ(err.value("code", ""), "FAIL") << r.vector;
  }
  // Stale: the valid notification judged 301 s later.
  *clock_offset_s = 301;
  auto stale = notify(v()["notification"]["body"], v()["notification"]["headers"]);
  EXPECT_EQ(stale.status, 401);
  EXPECT_NE(stale.body.find("clock"), std::string::npos) << stale.body;
  *clock_offset_s = 0;
  // Missing headers.
  auto missing = notify(v()["notification"]["body"], json::object());
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(stored(vector_id())->state, order_state::pending);
}

TEST_F(public_api_test, foreign_merchant_malformed_and_oversized_bodies_are_refused) {
  auto [foreign, fh] = seal(transaction_json("FOREIGN01", 100, "1900000999"));
  EXPECT_EQ(notify(foreign, fh).status, 400);
  EXPECT_FALSE(stored("FOREIGN01")) << "nothing stored for another merchant";
  // Signed correctly but not JSON.
  auto signed_garbage = wechatpay::sign_response(
    wt::load_private_key("platform_private"), std::string{v()["platform_public_key_id"]},
    wt::at_seconds(std::string{v()["notification"]["headers"]["Wechatpay-Timestamp"]}),
    "N1", "{not json");
  ASSERT_TRUE(signed_garbage);
  json gh{{"Wechatpay-Timestamp", signed_garbage->timestamp},
          {"Wechatpay-Nonce", signed_garbage->nonce},
          {"Wechatpay-Signature", signed_garbage->signature},
          {"Wechatpay-Serial", signed_garbage->serial}};
  EXPECT_EQ(notify("{not json", gh).status, 400);
  auto big = notify(std::string(70 * 1024, 'x'), v()["notification"]["headers"]);
  EXPECT_EQ(big.status, 413);
}

TEST_F(public_api_test, mismatch_is_anomaly_unknown_is_orphan_refund_is_an_event) {
  ASSERT_EQ(send("POST", "/v1/orders", create_body("MISMATCH01", 500).dump()).status, 201);
  auto [mb, mh] = seal(transaction_json("MISMATCH01", 1), "EV-M1");
  EXPECT_EQ(notify(mb, mh).status, 204);
  EXPECT_EQ(stored("MISMATCH01")->state, order_state::anomaly);
  auto [ob, oh] = seal(transaction_json("GHOST00001", 100), "EV-O1");
  EXPECT_EQ(notify(ob, oh).status, 204);
  EXPECT_EQ(stored("GHOST00001")->state, order_state::orphan);
  ASSERT_EQ(send("POST", "/v1/orders", create_body("REFUNDED01").dump()).status, 201);
  json refund{{"mchid", "1900000001"}, {"out_trade_no", "REFUNDED01"},
              {"transaction_id", "42"}, {"out_refund_no", "R1"},
              {"refund_id", "501"}, {"refund_status", "SUCCESS"},
              {"amount", {{"total", 100}, {"refund", 100}, {"payer_total", 100},
                          {"payer_refund", 100}}}};
  auto [rb, rh] = seal(refund.dump(), "EV-R1", "REFUND.SUCCESS");
  EXPECT_EQ(notify(rb, rh).status, 204);
  auto x = stored("REFUNDED01");
  EXPECT_EQ(x->state, order_state::pending) << "a refund is never a payment";
  auto events = db->events("REFUNDED01");
  ASSERT_TRUE(events);
  EXPECT_EQ(events->back().kind, "notify_event");
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(forwards(), 0);
}

TEST_F(public_api_test, not_ready_answers_503) {
  ready = false;
  EXPECT_EQ(notify(v()["notification"]["body"], v()["notification"]["headers"]).status, 503);
  auto r = send("POST", "/v1/orders", create_body("ORDER00001").dump());
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("NOT_READY"), std::string::npos);
}

// -- order API -------------------------------------------------------------------

TEST_F(public_api_test, create_answers_signed_jsapi_params_and_get_shows_the_order) {
  auto r = send("POST", "/v1/orders", create_body("ORDER00001").dump());
  ASSERT_EQ(r.status, 201) << r.body;
  auto j = json::parse(r.body);
  EXPECT_EQ(j["state"], "PENDING");
  EXPECT_EQ(j["prepay_id"], "wx26ORDER00001");
  auto& p = j["jsapi"];
  EXPECT_EQ(p["appId"], v()["appid"]);
  EXPECT_EQ(p["package"], "prepay_id=wx26ORDER00001");
  EXPECT_EQ(p["signType"], "RSA");
  auto msg = wechatpay::jsapi_signature_message(
    p["appId"].get<std::string>(), p["timeStamp"].get<std::string>(),
    p["nonceStr"].get<std::string>(), p["package"].get<std::string>());
  EXPECT_TRUE(wechatpay::verify_sha256_rsa(wt::load_public_key("merchant_public"), msg,
                                           p["paySign"].get<std::string>()));
  auto got = send("GET", "/v1/orders/ORDER00001", "");
  ASSERT_EQ(got.status, 200);
  auto g = json::parse(got.body);
  EXPECT_EQ(g["state"], "PENDING");
  EXPECT_EQ(g["amount"]["total"], 100);
  EXPECT_EQ(g["amount"]["currency"], "CNY");
  EXPECT_TRUE(g["transaction_id"].is_null());
  EXPECT_TRUE(g["created_at"].is_string());
  EXPECT_EQ(send("GET", "/v1/orders/NOSUCHORDER", "").status, 404);
}

TEST_F(public_api_test, re_create_is_idempotent_by_value_and_conflicts_otherwise) {
  ASSERT_EQ(send("POST", "/v1/orders", create_body("ORDER00002").dump()).status, 201);
  // Same order, keys in another order and currency defaulted: 200.
  json same{{"payer", {{"openid", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}},
            {"amount", {{"total", 100}}},
            {"description", "Monthly plan"},
            {"out_trade_no", "ORDER00002"}};
  auto again = send("POST", "/v1/orders", same.dump());
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_TRUE(json::parse(again.body).contains("jsapi"));
  auto conflict = send("POST", "/v1/orders", create_body("ORDER00002", 999).dump());
  EXPECT_EQ(conflict.status, 409);
  EXPECT_EQ(json::parse(conflict.body)["code"], "ORDER_CONFLICT");
}

TEST_F(public_api_test, prepay_failure_answers_502_and_keeps_the_order) {
  {
    std::lock_guard guard{world->mtx};
    world->prepay_ok = false;
  }
  auto r = send("POST", "/v1/orders", create_body("ORDER00003").dump());
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_EQ(json::parse(r.body)["code"], "PREPAY_FAILED");
  ASSERT_TRUE(stored("ORDER00003"));
  {
    std::lock_guard guard{world->mtx};
    world->prepay_ok = true;
  }
  auto retry = send("POST", "/v1/orders", create_body("ORDER00003").dump());
  EXPECT_EQ(retry.status, 200) << retry.body;
  EXPECT_EQ(stored("ORDER00003")->prepay_id, "wx26ORDER00003");
}

TEST_F(public_api_test, every_validation_error_names_its_field) {
  struct row {
    const char* field;
    std::function<void(json&)> spoil;
  } rows[] = {
    {"out_trade_no", [](json& j) { j.erase("out_trade_no"); }},
    {"out_trade_no", [](json& j) { j["out_trade_no"] = "short"; }},
    {"out_trade_no", [](json& j) { j["out_trade_no"] = "has space 123"; }},
    {"out_trade_no", [](json& j) { j["out_trade_no"] = std::string(33, 'A'); }},
    {"description", [](json& j) { j.erase("description"); }},
    {"description", [](json& j) { j["description"] = ""; }},
    {"description", [](json& j) { j["description"] = std::string(128, 'd'); }},
    {"amount", [](json& j) { j.erase("amount"); }},
    {"amount.total", [](json& j) { j["amount"]["total"] = 0; }},
    {"amount.total", [](json& j) { j["amount"]["total"] = -5; }},
    {"amount.total", [](json& j) { j["amount"]["total"] = 1.5; }},
    {"amount.total", [](json& j) { j["amount"]["total"] = "100"; }},
    {"amount.currency", [](json& j) { j["amount"]["currency"] = "USD"; }},
    {"payer.openid", [](json& j) { j["payer"] = json::object(); }},
    {"payer", [](json& j) { j.erase("payer"); }},
    {"expire_at", [](json& j) { j["expire_at"] = "tomorrow"; }},
    {"expire_at", [](json& j) { j["expire_at"] = "2020-01-01T00:00:00+08:00"; }},
    {"expire_at", [](json& j) { j["expire_at"] = "2099-01-01T00:00:00+08:00"; }},
    {"attach", [](json& j) { j["attach"] = 7; }},
  };
  for (auto& r : rows) {
    auto body = create_body("VALID00001");
    r.spoil(body);
    auto res = send("POST", "/v1/orders", body.dump());
    EXPECT_EQ(res.status, 400) << r.field << ": " << res.body;
    auto err = json::parse(res.body, nullptr, false);
    EXPECT_EQ(err.value("code", ""), "INVALID_REQUEST");
    EXPECT_EQ(err.value("message", "").rfind(r.field, 0), 0u)
      << "message must start with the field " << r.field << ": " << res.body;
  }
  EXPECT_EQ(send("POST", "/v1/orders", "{nope").status, 400);
  EXPECT_FALSE(stored("VALID00001"));
}
