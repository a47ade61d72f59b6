#pragma once

// The APIs over HTTP against the real actors, store and server, with
// scripted WeChat and business actors (shared by the public and admin API
// tests).

#include <mutex>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "actors/order_machine.hpp"
#include "actors/registry.hpp"
#include "actors/store.hpp"
#include "actors/timers.hpp"
#include "api/admin_api.hpp"
#include "api/public_api.hpp"
#include "net/http_client.hpp"
#include "net/http_server.hpp"
#include "net/wechatpay/jsapi.hpp"
#include "net/wechatpay/models.hpp"
#include "net/wechatpay/notification_opener.hpp"
#include "net/wechatpay/signing.hpp"
#include "tests/net/wechatpay/test_support.hpp"
#include "tests/temp_dir.hpp"


namespace paycoord::testing {

using namespace std::chrono_literals;
using json = nlohmann::json;
namespace wt = paycoord::wechatpay::test;

/// What the scripted WeChat and business actors did (they run on CAF
/// threads, the test reads from its own).
struct world_state {
  std::mutex mtx;
  bool prepay_ok = true;
  int forwards = 0;
  int prepays = 0;
};

inline caf::behavior scripted_wechat(caf::event_based_actor*,
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

inline caf::behavior scripted_business(caf::event_based_actor*,
                                std::shared_ptr<world_state> w) {
  return {
    [w](forward_atom, const forward_request&) {
      std::lock_guard guard{w->mtx};
      ++w->forwards;
      return forward_result{true, 200, "", 1};
    },
  };
}

inline const json& v() {
  return wt::vectors();
}

inline std::string vector_id() {
  return v()["notification"]["transaction"]["out_trade_no"];
}

class api_fixture : public ::testing::Test {
protected:
  void SetUp() override {
    auto opened = order_store::open(dir.str(), store_opts);
    ASSERT_TRUE(opened);
    db = std::shared_ptr<order_store>{std::move(*opened)};
    register_message_types(cfg);
    cfg.set("scheduler.max-threads", size_t{2});
    sys = std::make_unique<caf::actor_system>(cfg);
    store = sys->spawn<caf::detached>(store_actor, db, metrics, store_actor_options{});
    wechat = sys->spawn(scripted_wechat, world);
    business = sys->spawn(scripted_business, world);
    order_deps deps;
    deps.store = store;
    deps.wechat = wechat;
    deps.business = business;
    deps.machine = std::make_shared<order_machine>(order_rules{
      v()["mchid"], v()["appid"], schedule_config{}});
    deps.now_ms = [] { return to_unix_ms(wall_clock::now()); };
    deps.metrics = metrics;
    registry_options ropts;
    ropts.spawn_timers = [m = metrics, s = store](caf::local_actor* self, caf::actor target) {
      timers_options t;
      t.now_ms = [] { return to_unix_ms(wall_clock::now()); };
      t.metrics = m;
      t.store = s;
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
    ctx->metrics = metrics;
    net::router routes;
    api::add_public_routes(routes, ctx);
    auto admin = std::make_shared<api::admin_context>();
    admin->api = ctx;
    admin->token = admin_token;
    api::add_admin_routes(routes, admin);
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

  int event_count(const std::string& id, const std::string& kind) {
    auto events = db->events(id);
    if (!events)
      return -1;
    return static_cast<int>(std::count_if(events->begin(), events->end(),
                                          [&](auto& e) { return e.kind == kind; }));
  }

  int forwards() {
    std::lock_guard guard{world->mtx};
    return world->forwards;
  }

  temp_dir dir;
  /// How SetUp opens the store (a derived fixture may set a fault-injecting
  /// Env in its constructor).
  store_options store_opts;
  std::shared_ptr<order_store> db;
  std::shared_ptr<paycoord::metrics> metrics = std::make_shared<paycoord::metrics>();
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
  std::string admin_token = "test-admin-token-0123456789";
};

} // namespace paycoord::testing
