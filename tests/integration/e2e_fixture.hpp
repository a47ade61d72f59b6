#pragma once

// paycoord and paysim as real processes on loopback ports, with compressed
// schedules: the world the end-to-end tests of the timers run in.

#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "demo/process.hpp"
#include "net/http_client.hpp"
#include "tests/temp_dir.hpp"

namespace paycoord::testing {

using demo::bin_path;
using demo::child_process;
using demo::free_port;
using demo::source_path;

class e2e_fixture : public ::testing::Test {
public:
  using json = nlohmann::json;

  /// Config overrides for paycoord (PAYCOORD_* variables), set before start.
  std::map<std::string, std::string> paycoord_env{
    {"PAYCOORD_SCHEDULE__VERIFY", R"(["1s","2s","3s"])"},
    {"PAYCOORD_SCHEDULE__VERIFY_EVERY", "2s"},
    {"PAYCOORD_SCHEDULE__USERPAYING_RETRY", "500ms"},
    {"PAYCOORD_SCHEDULE__DEFAULT_EXPIRY", "1h"},
    {"PAYCOORD_SCHEDULE__FORWARD_BACKOFF_INITIAL", "100ms"},
    {"PAYCOORD_SCHEDULE__FORWARD_BACKOFF_MAX", "1s"},
    {"PAYCOORD_SCHEDULE__STUCK_AFTER", "3s"},
    {"PAYCOORD_SCHEDULE__CLOSE_NOT_BEFORE", "0s"},
    {"PAYCOORD_BUSINESS__TIMEOUT", "1s"},
    {"PAYCOORD_BUSINESS__CONCURRENCY", "8"},
    {"PAYCOORD_WECHATPAY__TIMEOUT", "2s"},
    {"PAYCOORD_WECHATPAY__RATE_LIMIT_QPS", "1000"},
  };

  /// paysim's faults section, set before start.
  json faults = json::object();
  double time_factor = 0.01; // WeChat's 15 s notify retry -> 150 ms

  /// CONTRACTS.md §8: serve the notify route on a listener of its own
  /// (listen.notify, WeChat's internet-facing port), set before start.
  bool notify_listener = false;

  /// More paysim arguments ("--log-level", "debug"), set before start.
  std::vector<std::string> paysim_args;

  void start() {
    ports_ = {{"public", free_port()},   {"admin", free_port()},
              {"metrics", free_port()},  {"wechat", free_port()},
              {"business", free_port()}, {"control", free_port()}};
    if (notify_listener)
      ports_["notify"] = free_port();
    write_paysim_config();
    std::vector<std::string> args{"--config", paysim_config_};
    args.insert(args.end(), paysim_args.begin(), paysim_args.end());
    paysim_ = std::make_unique<child_process>(bin_path("paysim"), args,
                                              std::map<std::string, std::string>{},
                                              dir.str() + "/paysim.log");
    ASSERT_TRUE(await([&] { return get(control("/control/report?orders=false")).status == 200; },
                      std::chrono::seconds{20}))
      << paysim_->output();
    start_paycoord();
  }

  void start_paycoord() {
    auto env = paycoord_env;
    auto url = [&](const char* name) {
      return "http://127.0.0.1:" + std::to_string(ports_[name]);
    };
    env["PAYCOORD_DATA_DIR"] = dir.str() + "/data";
    env["PAYCOORD_LISTEN__PUBLIC"] = "127.0.0.1:" + std::to_string(ports_["public"]);
    env["PAYCOORD_LISTEN__ADMIN"] = "127.0.0.1:" + std::to_string(ports_["admin"]);
    env["PAYCOORD_LISTEN__METRICS"] = "127.0.0.1:" + std::to_string(ports_["metrics"]);
    env["PAYCOORD_WECHATPAY__BASE_URL"] = url("wechat");
    env["PAYCOORD_WECHATPAY__NOTIFY_URL"] =
      url(notify_listener ? "notify" : "public") + "/v1/wechatpay/notify";
    if (notify_listener)
      env["PAYCOORD_LISTEN__NOTIFY"] = "127.0.0.1:" + std::to_string(ports_["notify"]);
    env["PAYCOORD_BUSINESS__CALLBACK_URL"] = url("business") + "/orders/paid";
    ++paycoord_runs_;
    paycoord_ = std::make_unique<child_process>(
      bin_path("paycoord"),
      std::vector<std::string>{"--config", source_path("config/paycoord.example.json")},
      env, dir.str() + "/paycoord-" + std::to_string(paycoord_runs_) + ".log");
    ASSERT_TRUE(await([&] { return get(metrics("/readyz")).status == 200; },
                      std::chrono::seconds{30}))
      << paycoord_->output();
  }

  /// kill -9, then start again over the same data dir.
  void crash_and_restart_paycoord() {
    paycoord_->signal(SIGKILL);
    paycoord_->wait(std::chrono::seconds{10});
    start_paycoord();
  }

  void stop_paycoord_gracefully() {
    paycoord_->signal(SIGTERM);
    EXPECT_EQ(paycoord_->wait(std::chrono::seconds{30}), 0) << paycoord_->output();
  }

  // -- HTTP ------------------------------------------------------------------

  net::outbound_response get(const std::string& url) {
    return send("GET", url, "");
  }

  net::outbound_response send(const std::string& method, const std::string& url,
                              const std::string& body) {
    net::http_client client{opts()};
    auto r = client.send({method, url, {{"Content-Type", "application/json"}}, body});
    if (!r)
      return net::outbound_response{};
    return *r;
  }

  std::string public_url(const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(ports_["public"]) + path;
  }
  /// The port of a listener ("public", "notify", "metrics", ...).
  uint16_t port_of(const std::string& listener) const {
    return ports_.at(listener);
  }
  std::string control(const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(ports_["control"]) + path;
  }
  std::string metrics(const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(ports_["metrics"]) + path;
  }

  /// POST /v1/orders; returns the status.
  int create_order(const std::string& id, int64_t total = 100,
                   const json& extra = json::object()) {
    json body{{"out_trade_no", id},
              {"description", "Monthly plan"},
              {"amount", {{"total", total}, {"currency", "CNY"}}},
              {"payer", {{"openid", "o-e2e-payer"}}}};
    for (auto& [k, v] : extra.items())
      body[k] = v;
    return send("POST", public_url("/v1/orders"), body.dump()).status;
  }

  /// The customer pays at paysim (options: amount, drop_notification).
  int pay(const std::string& id, const json& options = json::object()) {
    return send("POST", control("/control/orders/" + id + "/pay"), options.dump()).status;
  }

  int control_post(const std::string& path, const json& body) {
    return send("POST", control(path), body.dump()).status;
  }

  std::string state_of(const std::string& id) {
    auto r = get(public_url("/v1/orders/" + id));
    if (r.status != 200)
      return "HTTP " + std::to_string(r.status);
    return json::parse(r.body).value("state", "");
  }

  json sim_order(const std::string& id) {
    auto r = get(control("/control/orders/" + id));
    return r.status == 200 ? json::parse(r.body) : json{};
  }

  /// paysim's report; with `orders`, every row, fetched page by page (a row
  /// is ~700 bytes; one response is bounded at 1 MiB).
  json report(bool orders = true) {
    if (!orders) {
      auto r = get(control("/control/report?orders=false"));
      return r.status == 200 ? json::parse(r.body) : json{};
    }
    json all;
    json rows = json::array();
    std::string after;
    for (;;) {
      auto r = get(control("/control/report?limit=500" + (after.empty() ? "" : "&after=" + after)));
      if (r.status != 200)
        return json{};
      auto page = json::parse(r.body);
      for (auto& row : page["orders"])
        rows.push_back(row);
      if (all.is_null())
        all = page;
      if (!page.contains("next") || page["next"].is_null())
        break;
      after = page["next"].get<std::string>();
    }
    all["orders"] = std::move(rows);
    return all;
  }

  /// Polls `pred` every 50 ms until it holds or `timeout` passes.
  static bool await(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred())
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds{50});
    }
    return pred();
  }

  bool await_state(const std::string& id, const std::string& state,
                   std::chrono::milliseconds timeout = std::chrono::seconds{15}) {
    return await([&] { return state_of(id) == state; }, timeout);
  }

  std::string paycoord_output() const {
    return paycoord_ ? paycoord_->output() : "";
  }

  /// The running paycoord's process id, or -1.
  pid_t paycoord_pid() const {
    return paycoord_ ? paycoord_->pid() : -1;
  }

  temp_dir dir;

protected:
  void TearDown() override {
    if (HasFailure()) {
      std::cerr << "---- paycoord log (last run) ----\n"
                << tail(paycoord_output()) << "\n---- paysim log ----\n"
                << (paysim_ ? tail(paysim_->output()) : "") << "\n";
    }
  }

  int paycoord_runs() const {
    return paycoord_runs_;
  }

private:
  static std::string tail(const std::string& s) {
    return s.size() > 6000 ? s.substr(s.size() - 6000) : s;
  }

  static net::http_client_options opts() {
    net::http_client_options o;
    o.timeout = std::chrono::seconds{5};
    return o;
  }

  void write_paysim_config() {
    std::ifstream in{source_path("config/paysim.example.json")};
    auto cfg = json::parse(in);
    auto ep = [&](const char* name) { return "127.0.0.1:" + std::to_string(ports_[name]); };
    cfg["listen"] = {{"wechat", ep("wechat")}, {"business", ep("business")},
                     {"control", ep("control")}};
    for (auto key : {"merchant_public_key_file", "platform_private_key_file"})
      cfg["wechatpay"][key] = source_path("config/" + cfg["wechatpay"][key].get<std::string>());
    cfg["time_factor"] = time_factor;
    cfg["faults"].merge_patch(faults);
    cfg["notify"]["timeout"] = "2s";
    paysim_config_ = dir.str() + "/paysim.json";
    std::ofstream out{paysim_config_};
    out << cfg.dump(2);
  }

  std::map<std::string, uint16_t> ports_;
  std::string paysim_config_;
  std::unique_ptr<child_process> paysim_;
  std::unique_ptr<child_process> paycoord_;
  int paycoord_runs_ = 0;
};

} // namespace paycoord::testing
