// paycoord: wiring only. Loads the config, opens the store, starts the actor
// system (store, registry with its timers service), recovers every
// non-terminal order, serves the listeners, and on SIGTERM/SIGINT stops
// accepting, lets in-flight requests finish, flushes the store and exits 0.

#include <atomic>
#include <cstdio>
#include <iostream>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <CLI/CLI.hpp>
#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/messages.hpp"
#include "actors/order_machine.hpp"
#include "actors/registry.hpp"
#include "actors/store.hpp"
#include "actors/timers.hpp"
#include "config/config.hpp"
#include "net/http_server.hpp"
#include "net/router.hpp"
#include "net/wechatpay/credentials.hpp"
#include "storage/order_store.hpp"

using namespace paycoord;
namespace http = boost::beast::http;

namespace {

int64_t wall_now_ms() {
  return to_unix_ms(wall_clock::now());
}

/// Loads and fully validates the config, including the key files' contents.
expected<paycoord_config, config_error>
load_checked(const std::string& file,
             const std::vector<std::pair<std::string, std::string>>& sets) {
  auto cfg = load_config(file, paycoord_environment(), sets);
  if (!cfg)
    return cfg;
  if (auto ok = wechatpay::validate_apiv3_key(cfg->wechatpay.apiv3_key); !ok)
    return make_unexpected(
      config_error{"wechatpay.apiv3_key", ok.error().message()});
  wechatpay::credential_files files{cfg->wechatpay.merchant_private_key_file,
                                    cfg->wechatpay.platform_public_key_id,
                                    cfg->wechatpay.platform_public_key_file,
                                    cfg->wechatpay.platform_certificates_dir};
  if (auto creds = wechatpay::load_credentials(files); !creds)
    return make_unexpected(config_error{"", creds.error().message()});
  return cfg;
}

net::router health_routes(const std::atomic<bool>& ready) {
  net::router r;
  r.add(http::verb::get, "/healthz", [](net::request_context ctx) {
    ctx.respond.send_json(200, {{"status", "ok"}});
  });
  r.add(http::verb::get, "/readyz", [&ready](net::request_context ctx) {
    if (ready.load())
      ctx.respond.send_json(200, {{"status", "ready"}});
    else
      ctx.respond.send_error(503, "NOT_READY", "recovery has not finished");
  });
  return r;
}

int run(const paycoord_config& cfg) {
  auto metrics_ep = parse_endpoint(cfg.listen.metrics, "listen.metrics");
  if (!metrics_ep) {
    std::cerr << "paycoord: " << metrics_ep.error().message() << "\n";
    return 1;
  }
  auto opened = order_store::open(cfg.data_dir);
  if (!opened) {
    std::cerr << "paycoord: cannot open data_dir " << cfg.data_dir << ": "
              << opened.error().to_string() << "\n";
    return 1;
  }
  std::shared_ptr<order_store> db{std::move(*opened)};
  spdlog::info("event=store_opened data_dir={}", cfg.data_dir);

  caf::actor_system_config sys_cfg;
  register_message_types(sys_cfg);
  caf::actor_system sys{sys_cfg};
  // The store blocks on fsync: it gets a thread of its own.
  auto store = sys.spawn<caf::detached>(store_actor, db);
  order_deps deps;
  deps.store = store;
  deps.machine = std::make_shared<order_machine>(
    order_rules{cfg.wechatpay.mchid, cfg.wechatpay.appid, cfg.schedule});
  deps.now_ms = wall_now_ms;
  registry_options ropts;
  ropts.spawn_timers = [](caf::local_actor* self, caf::actor target) {
    timers_options topts;
    topts.now_ms = wall_now_ms;
    return self->spawn(timers_actor, std::move(target), topts);
  };
  auto registry = sys.spawn(registry_actor, deps, ropts);

  std::atomic<bool> ready{false};
  boost::asio::io_context io;
  net::http_server_options mopts;
  mopts.name = "metrics";
  mopts.address = metrics_ep->host;
  mopts.port = metrics_ep->port;
  auto metrics = net::http_server::start(io, mopts, health_routes(ready));
  if (!metrics) {
    std::cerr << "paycoord: listen.metrics: " << metrics.error() << "\n";
    caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
    return 1;
  }
  spdlog::info("event=listening listener=metrics address={}:{}",
               metrics_ep->host, (*metrics)->port());

  boost::asio::signal_set signals{io, SIGINT, SIGTERM};
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec)
      return;
    spdlog::info("event=shutdown signal={}", sig);
    (*metrics)->stop();
  });
  std::thread io_thread{[&io] { io.run(); }};

  // Recovery: every non-terminal order re-armed before /readyz says ready.
  {
    caf::scoped_actor self{sys};
    self->request(registry, caf::infinite, recover_atom_v)
      .receive(
        [&](uint64_t n) {
          spdlog::info("event=ready recovered_orders={}", n);
          ready = true;
        },
        [&](caf::error& err) {
          spdlog::error("event=recovery_failed error=\"{}\"",
                        caf::to_string(err));
        });
  }
  io_thread.join(); // returns once the signal stopped the listeners
  // In-flight order work finishes its store writes; the store then exits
  // after its last sync (its mailbox is drained in order).
  caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
  sys.await_all_actors_done();
  auto s = db->stats();
  spdlog::info("event=stopped write_sets={} batches={} syncs={}",
               s.write_sets, s.batches, s.syncs);
  return ready ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"paycoord: per-order payment coordinator for WeChat Pay"};
  std::string config_file;
  std::string check_file;
  std::vector<std::string> sets;
  auto* run_opt = app.add_option("--config", config_file,
                                 "run the coordinator with this config file");
  auto* check_opt = app.add_option(
    "--check-config", check_file,
    "validate the config, print the effective config (secrets masked)");
  run_opt->excludes(check_opt);
  app.add_option("--set", sets,
                 "override a config key: --set schedule.verify='[\"1s\"]'");
  CLI11_PARSE(app, argc, argv);
  if (config_file.empty() && check_file.empty()) {
    std::cerr << app.help();
    return 1;
  }
  std::vector<std::pair<std::string, std::string>> overrides;
  for (auto& s : sets) {
    auto eq = s.find('=');
    if (eq == std::string::npos) {
      std::cerr << "paycoord: --set " << s << ": expected KEY=VALUE\n";
      return 1;
    }
    overrides.emplace_back(s.substr(0, eq), s.substr(eq + 1));
  }
  auto cfg = load_checked(check_file.empty() ? config_file : check_file,
                          overrides);
  if (!cfg) {
    std::cerr << "paycoord: config error: " << cfg.error().message() << "\n";
    return 1;
  }
  if (!check_file.empty()) {
    std::cout << to_json(*cfg, true).dump(2) << "\n";
    return 0;
  }
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");
  spdlog::info("event=starting config={}", config_file);
  return run(*cfg);
}
