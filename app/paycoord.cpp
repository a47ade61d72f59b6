// paycoord: wiring only. Loads the config, opens the store, starts the actor
// system (store, registry with its timers service), recovers every
// non-terminal order, serves the listeners, and on SIGTERM/SIGINT stops
// accepting, lets in-flight requests finish, flushes the store and exits 0.

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <CLI/CLI.hpp>
#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/business_client.hpp"
#include "actors/messages.hpp"
#include "actors/metrics.hpp"
#include "actors/order_machine.hpp"
#include "actors/registry.hpp"
#include "actors/store.hpp"
#include "actors/timers.hpp"
#include "actors/wechat_client.hpp"
#include "config/config.hpp"
#include "api/admin_api.hpp"
#include "api/public_api.hpp"
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

struct checked_config {
  paycoord_config cfg;
  std::shared_ptr<const wechatpay::credentials> credentials;
  std::string file; ///< the config file it was loaded from
};

/// Loads and fully validates the config, including the key files' contents
/// (they parse; WeChat's key is not the merchant's own).
expected<checked_config, config_error>
load_checked(const std::string& file,
             const std::vector<std::pair<std::string, std::string>>& sets) {
  auto cfg = load_config(file, paycoord_environment(), sets);
  if (!cfg)
    return make_unexpected(cfg.error());
  if (auto ok = wechatpay::validate_apiv3_key(cfg->wechatpay.apiv3_key); !ok)
    return make_unexpected(
      config_error{"wechatpay.apiv3_key", ok.error().message()});
  wechatpay::credential_files files{cfg->wechatpay.merchant_private_key_file,
                                    cfg->wechatpay.platform_public_key_id,
                                    cfg->wechatpay.platform_public_key_file,
                                    cfg->wechatpay.platform_certificates_dir};
  auto creds = wechatpay::load_credentials(files);
  if (!creds)
    return make_unexpected(config_error{"", creds.error().message()});
  return checked_config{
    std::move(*cfg),
    std::make_shared<const wechatpay::credentials>(std::move(*creds)), file};
}

/// Starts one listener; the error names the config key.
expected<std::unique_ptr<net::http_server>, config_error>
listen(boost::asio::io_context& io, const std::string& name,
       const std::string& address, net::router routes) {
  auto key = "listen." + name;
  auto ep = parse_endpoint(address, key);
  if (!ep)
    return make_unexpected(ep.error());
  net::http_server_options opts;
  opts.name = name;
  opts.address = ep->host;
  opts.port = ep->port;
  auto server = net::http_server::start(io, opts, std::move(routes));
  if (!server)
    return make_unexpected(config_error{key, server.error()});
  spdlog::info("event=listening listener={} address={}:{}", name, ep->host,
               (*server)->port());
  return std::move(*server);
}

/// `/healthz`, `/readyz` and `/metrics` (listener `listen.metrics`). The
/// connection gauges are read from the servers at scrape time.
net::router health_routes(const std::atomic<bool>& ready,
                          std::shared_ptr<metrics> m,
                          const std::vector<std::unique_ptr<net::http_server>>& servers,
                          const std::vector<std::string>& names) {
  net::router r;
  r.add(http::verb::get, "/metrics", [m, &servers, &names](net::request_context ctx) {
    for (size_t i = 0; i < servers.size() && i < names.size(); ++i)
      m->set_http_connections(names[i], servers[i]->counters().connections_open.load(
                                          std::memory_order_relaxed));
    net::http_response res{http::status::ok, 11};
    res.set(http::field::content_type, metrics::content_type);
    res.body() = m->serialize();
    ctx.respond.send(std::move(res));
  });
  r.add(http::verb::get, "/healthz", [](net::request_context ctx) {
    ctx.respond.send_json(200, {{"status", "ok"}});
  });
  r.add(http::verb::get, "/readyz", [&ready, m](net::request_context ctx) {
    if (!ready.load())
      ctx.respond.send_error(503, "NOT_READY", "recovery has not finished");
    else if (!m->store_writable())
      ctx.respond.send_error(503, "STORE_UNAVAILABLE",
                             "the store cannot write; reopening it (see the logs)");
    else
      ctx.respond.send_json(200, {{"status", "ready"}});
  });
  return r;
}

/// The default soft limit of open files (1024) is below the connection caps
/// of the listeners (1024 each): raise it to the hard limit.
void raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max)
    return;
  auto before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) == 0)
    spdlog::info("event=open_file_limit from={} to={}", before, limit.rlim_cur);
  else
    spdlog::warn("event=open_file_limit_unchanged limit={}", before);
}

int run(const checked_config& checked) {
  const auto& cfg = checked.cfg;
  raise_open_file_limit();
  for (auto& warning : config_warnings(cfg, checked.file))
    spdlog::warn("event=config_warning {}", warning);
  auto opened = order_store::open(cfg.data_dir);
  if (!opened) {
    std::cerr << "paycoord: cannot open data_dir " << cfg.data_dir << ": "
              << opened.error().to_string() << "\n";
    return 1;
  }
  std::shared_ptr<order_store> db{std::move(*opened)};
  if (const auto& mig = db->last_migration(); mig.from_schema != 0 || mig.recounted)
    spdlog::warn("event=store_migrated from_schema={} to_schema={} orders={} timers={} "
                 "unreadable={} recounted={}",
                 mig.from_schema, order_store::schema_version, mig.orders, mig.timers,
                 mig.unreadable, mig.recounted);
  spdlog::info("event=store_opened data_dir={} orders={} active={}", cfg.data_dir,
               [&] {
                 int64_t n = 0;
                 for (auto c : db->counts().by_state)
                   n += c;
                 return n;
               }(),
               db->counts().of(order_state::pending) + db->counts().of(order_state::paid));

  auto m = std::make_shared<metrics>();
  caf::actor_system_config sys_cfg;
  register_message_types(sys_cfg);
  // One scheduler worker per core: CAF 0.17's default is at least four,
  // and on two cores the extra workers' idle work stealing took a quarter of
  // the CPU in the scale benchmark's profile (bench/RESULTS.md).
  sys_cfg.set("scheduler.max-threads",
              static_cast<size_t>(std::max(2u, std::thread::hardware_concurrency())));
  caf::actor_system sys{sys_cfg};
  // The store blocks on fsync: it gets a thread of its own; so do the
  // workers of the two client pools (blocking Poco calls).
  auto store = sys.spawn<caf::detached>(store_actor, db, m, store_actor_options{});
  wechat_pool_config wopts;
  wopts.wechatpay = cfg.wechatpay;
  wopts.credentials = checked.credentials;
  wopts.workers = static_cast<size_t>(cfg.wechatpay.concurrency);
  wopts.metrics = m;
  auto wechat = spawn_wechat_pool(sys, wopts);
  business_pool_config bopts;
  bopts.business = cfg.business;
  bopts.metrics = m;
  auto business = spawn_business_pool(sys, bopts);
  order_deps deps;
  deps.store = store;
  deps.wechat = wechat;
  deps.business = business;
  deps.machine = std::make_shared<order_machine>(
    order_rules{cfg.wechatpay.mchid, cfg.wechatpay.appid, cfg.schedule});
  deps.now_ms = wall_now_ms;
  deps.metrics = m;
  deps.passivate_after_ms = cfg.schedule.passivate_after.count();
  registry_options ropts;
  ropts.spawn_timers = [m, store, qps = cfg.wechatpay.rate_limit_qps](caf::local_actor* self,
                                                                      caf::actor target) {
    timers_options topts;
    topts.now_ms = wall_now_ms;
    topts.metrics = m;
    topts.store = store;
    // Timers that fell due while paycoord was down fire at half WeChat's
    // rate: a restart after downtime is no thundering herd, and the orders
    // due now keep the other half.
    topts.late_fires_per_s = std::max<int64_t>(1, qps / 2);
    return self->spawn(timers_actor, std::move(target), topts);
  };
  auto registry = sys.spawn(registry_actor, deps, ropts);
  // Stops the actors in an order that loses nothing: the registry first
  // (with it its order actors and the timers, so nothing new is written or
  // fired), then the client pools, and the store last, once everything it
  // was asked to write is synced (a request queues behind every write; an
  // exit message would not).
  auto stop_actors = [&] {
    caf::scoped_actor self{sys};
    auto stop = [&](const caf::actor& a, const char* name) {
      self->monitor(a);
      self->send_exit(a, caf::exit_reason::user_shutdown);
      self->receive([](caf::down_msg&) {},
                    caf::after(std::chrono::seconds{10}) >> [&] {
                      spdlog::warn("event=shutdown_slow actor={} waited_s=10", name);
                    });
    };
    stop(registry, "registry");
    stop(wechat, "wechat");
    stop(business, "business");
    self->request(store, std::chrono::seconds{30}, stats_atom_v)
      .receive([](store_stats&) {},
               [](caf::error& err) {
                 spdlog::warn("event=shutdown_store_drain error=\"{}\"", caf::to_string(err));
               });
    stop(store, "store");
  };

  std::atomic<bool> ready{false};
  boost::asio::io_context io;
  auto api = std::make_shared<api::api_context>();
  api->system = &sys;
  api->registry = registry;
  api->store = store;
  api->io = &io;
  api->mchid = cfg.wechatpay.mchid;
  api->appid = cfg.wechatpay.appid;
  api->apiv3_key = cfg.wechatpay.apiv3_key;
  api->max_clock_skew = cfg.wechatpay.max_clock_skew;
  api->notify_path = cfg.wechatpay.notify_path;
  api->credentials = checked.credentials;
  api->ready = &ready;
  api->metrics = m;
  api->api_token = cfg.api.token;
  // CONTRACTS.md §8: with listen.notify the route WeChat calls (internet
  // facing) and the order API (the merchant's own front end) part.
  bool own_notify = !cfg.listen.notify.empty();
  net::router public_routes;
  net::router notify_routes;
  if (own_notify) {
    api::add_order_routes(public_routes, api);
    api::add_notify_route(notify_routes, api);
  } else {
    api::add_public_routes(public_routes, api);
  }
  auto admin = std::make_shared<api::admin_context>();
  admin->api = api;
  admin->token = cfg.admin.token;
  net::router admin_routes;
  api::add_admin_routes(admin_routes, admin);

  // Filled before the io thread runs; read by the /metrics handler.
  std::vector<std::unique_ptr<net::http_server>> servers;
  std::vector<std::string> names{"metrics", "public", "admin"};
  if (own_notify)
    names.push_back("notify");
  std::vector<std::tuple<std::string, std::string, net::router>> listeners{
    {names[0], cfg.listen.metrics, health_routes(ready, m, servers, names)},
    {names[1], cfg.listen.public_endpoint, std::move(public_routes)},
    {names[2], cfg.listen.admin, std::move(admin_routes)}};
  if (own_notify)
    listeners.emplace_back(names[3], cfg.listen.notify, std::move(notify_routes));
  for (auto& [name, address, routes] : listeners) {
    auto server = listen(io, name, address, std::move(routes));
    if (!server) {
      std::cerr << "paycoord: " << server.error().message() << "\n";
      stop_actors();
      return 1;
    }
    servers.push_back(std::move(*server));
  }

  boost::asio::signal_set signals{io, SIGINT, SIGTERM};
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec)
      return;
    spdlog::info("event=shutdown signal={}", sig);
    for (auto& server : servers)
      server->stop();
  });
  // Every connection runs on its own strand, so the listeners may share a few
  // threads: notification verification (RSA, AES-GCM) and JSAPI signing are
  // CPU work on them.
  std::vector<std::thread> io_threads;
  auto io_thread_count = std::clamp(std::thread::hardware_concurrency(), 2u, 8u);
  for (unsigned i = 0; i < io_thread_count; ++i)
    io_threads.emplace_back([&io] { io.run(); });

  // Recovery: every non-terminal order re-armed before /readyz says ready.
  {
    caf::scoped_actor self{sys};
    self->request(registry, caf::infinite, recover_atom_v)
      .receive(
        [&](uint64_t n) {
          spdlog::info("event=ready timers_in_memory={}", n);
          ready = true;
          m->set_ready(true);
        },
        [&](caf::error& err) {
          // Not ready for good: exit non-zero so that a supervisor
          // (systemd's Restart=) tries again, instead of idling unready.
          spdlog::error("event=recovery_failed error=\"{}\"",
                        caf::to_string(err));
          boost::asio::post(io, [&] {
            signals.cancel();
            for (auto& server : servers)
              server->stop();
          });
        });
  }
  for (auto& t : io_threads)
    t.join(); // they return once the signal stopped the listeners
  // In-flight order work finishes its store writes; the store then exits
  // after its last sync (its mailbox is drained in order).
  stop_actors();
  sys.await_all_actors_done();
  // Nothing writes any more: the next start may skip the audit.
  if (auto clean = db->mark_clean(); !clean)
    spdlog::error("event=mark_clean_failed error=\"{}\"", clean.error().to_string());
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
    std::cout << to_json(cfg->cfg, true).dump(2) << "\n";
    return 0;
  }
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");
  spdlog::info("event=starting config={}", config_file);
  return run(*cfg);
}
