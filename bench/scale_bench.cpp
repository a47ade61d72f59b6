// Ten million open orders: what a big store costs paycoord as a process.
// Starts real paycoord (and paysim) processes over a filled store and
// measures from the outside (/readyz, /metrics, /proc):
//
//   ready      start to /readyz 200 after a clean stop (SIGTERM, exit 0) and
//              after a kill -9, --runs times each (min/median/max)
//   rss        VmRSS/VmHWM once ready and settled, an empty store against
//              the filled one: bytes per open order
//   drain      with overdue timers in the store (store_fill --overdue 10m):
//              ready until every overdue timer fired, at --qps
//              (PAYCOORD_WECHATPAY__RATE_LIMIT_QPS), against overdue/qps
//   precision  a store of its own whose orders fall due at --precision-rate
//              a second for --precision-for, starting --precision-lead after
//              the start: lateness p50/p99/max and the fire rate achieved
//
//   build/bin/scale_bench --data-dir /work/scale-data/m1 [--fill 1000000
//     --spread 2h --overdue 10m --seed 1] [--only drain,ready,rss,precision]
//     [--qps 100] [--wechat paysim|unreachable] [--work-dir DIR]
//
// paycoord runs on config/paycoord.example.json with PAYCOORD_* overrides
// (data_dir, listeners on free ports, WeChat's and the business server's
// URLs, the rate limit), as the integration tests start it. Every figure is
// printed with the command that reproduces it; every wait is bounded.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include "bench/scale_fill.hpp"
#include "bench/scale_probe.hpp"
#include "common/time.hpp"
#include "config/config.hpp"
#include "demo/process.hpp"
#include "net/http_client.hpp"
#include "storage/order_store.hpp"

using namespace paycoord;
using namespace paycoord::bench;
using paycoord::demo::child_process;
using paycoord::demo::free_port;

namespace {

namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;
using json = nlohmann::json;
using namespace std::chrono_literals;

int64_t wall_ms() {
  return to_unix_ms(wall_clock::now());
}

double seconds_since(steady::time_point t) {
  return std::chrono::duration<double>(steady::now() - t).count();
}

void sleep_s(double s) {
  if (s > 0)
    std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

std::string mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

std::string fmt(const char* format, double x) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, x);
  return buf;
}

std::string lateness_ms(double seconds) {
  return std::isinf(seconds) ? std::string{"> 3600 s (the +Inf bucket)"}
                             : fmt("%.1f ms", seconds * 1000.0);
}

/// Lines of `file` that contain `needle`.
uint64_t count_in_log(const std::string& file, const std::string& needle) {
  std::ifstream in{file};
  std::string line;
  uint64_t n = 0;
  while (std::getline(in, line))
    n += line.find(needle) != std::string::npos;
  return n;
}

/// The machine is shared: what else ran shows in the load average.
std::string load_average() {
  std::ifstream in{"/proc/loadavg"};
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

/// min / median / max of a few runs.
std::string spread_of(std::vector<double> xs, const char* unit = "s") {
  if (xs.empty())
    return "no runs";
  std::sort(xs.begin(), xs.end());
  char buf[128];
  std::snprintf(buf, sizeof(buf), "%.3f / %.3f / %.3f %s", xs.front(), xs[xs.size() / 2],
                xs.back(), unit);
  return buf;
}

// -- options -----------------------------------------------------------------------

struct options {
  std::string data_dir;
  uint64_t fill = 0;
  std::string spread = "2h";
  std::string overdue = "10m";
  uint64_t seed = 1;
  std::string only = "drain,ready,rss";
  int runs = 3;
  int64_t qps = 100;
  std::string wechat = "paysim";
  std::string work_dir;
  std::string bin_dir;
  std::string source_dir = PAYCOORD_DEFAULT_SOURCE_DIR;
  double hold_s = 3;
  double settle_s = 20;
  double drain_timeout_s = 1800;
  double ready_timeout_s = 300;
  int64_t precision_rate = 5000;
  std::string precision_for = "60s";
  std::string precision_lead = "20s";
  bool keep = false;

  bool selected(const std::string& what) const {
    return ("," + only + ",").find("," + what + ",") != std::string::npos;
  }
};

// -- what the run found ---------------------------------------------------------------

/// One line of the summary table: a figure and the command that reproduces it.
struct figure {
  std::string what;
  std::string value;
  std::string command;
};

struct bench_run {
  options opts;
  std::string self;        ///< argv[0]
  std::string config_file; ///< paycoord's example config
  std::string base_url;    ///< WeChat Pay for paycoord
  std::string business_url;
  std::string wechat_note; ///< what WeChat is, and why
  std::unique_ptr<child_process> paysim;
  std::vector<figure> figures;
  std::vector<std::string> problems;
  int starts = 0;

  /// The scale_bench command that measures `section` alone.
  std::string command(const std::string& section, const std::string& extra = {}) const {
    return self + " --data-dir " + opts.data_dir + " --only " + section + " --qps "
           + std::to_string(opts.qps) + " --wechat " + opts.wechat + extra;
  }

  void add(std::string what, std::string value, std::string cmd) {
    std::printf("  %-44s %s\n", what.c_str(), value.c_str());
    figures.push_back({std::move(what), std::move(value), std::move(cmd)});
  }

  void problem(std::string text) {
    std::printf("  PROBLEM: %s\n", text.c_str());
    problems.push_back(std::move(text));
  }

  std::string log_file(const std::string& what) {
    return opts.work_dir + "/paycoord-" + std::to_string(::getpid()) + "-"
           + std::to_string(++starts) + "-" + what + ".log";
  }
};

// -- paycoord as a process ----------------------------------------------------------------

/// The times paycoord's own log gives for the steps of its start.
struct start_phases {
  std::optional<int64_t> starting, store_opened, timers_loaded, ready;
};

std::optional<int64_t> logged_at(const std::string& log, const std::string& event) {
  auto at = log.find(" event=" + event);
  if (at == std::string::npos)
    return std::nullopt;
  auto line = log.rfind('\n', at);
  line = line == std::string::npos ? 0 : line + 1;
  auto space = log.find(' ', line);
  auto t = parse_rfc3339(log.substr(line, space - line));
  if (!t)
    return std::nullopt;
  return to_unix_ms(*t);
}

/// One paycoord over `data_dir`, configured as the tests do it: the example
/// config and PAYCOORD_* overrides.
class coordinator {
public:
  coordinator(bench_run& run, const std::string& data_dir, const std::string& what)
    : metrics_port_(free_port()) {
    env_ = {{"PAYCOORD_DATA_DIR", data_dir},
            {"PAYCOORD_LISTEN__PUBLIC", "127.0.0.1:" + std::to_string(free_port())},
            {"PAYCOORD_LISTEN__ADMIN", "127.0.0.1:" + std::to_string(free_port())},
            {"PAYCOORD_LISTEN__METRICS", "127.0.0.1:" + std::to_string(metrics_port_)},
            {"PAYCOORD_WECHATPAY__BASE_URL", run.base_url},
            {"PAYCOORD_BUSINESS__CALLBACK_URL", run.business_url},
            {"PAYCOORD_WECHATPAY__RATE_LIMIT_QPS", std::to_string(run.opts.qps)}};
    log_ = run.log_file(what);
    started_wall_ms_ = wall_ms();
    started_ = steady::now();
    process_ = std::make_unique<child_process>(run.opts.bin_dir + "/paycoord",
                                               std::vector<std::string>{"--config", run.config_file},
                                               env_, log_);
  }

  /// Seconds from the start to the first /readyz 200; nullopt when it
  /// exited or `timeout_s` passed first (`why` says which).
  std::optional<double> await_ready(double timeout_s, std::string& why) {
    net::http_client_options o;
    o.connect_timeout = 200ms;
    o.timeout = 2s;
    net::http_client client{o};
    auto url = metrics_url("/readyz");
    while (seconds_since(started_) < timeout_s) {
      auto r = client.send({"GET", url, {}, {}});
      if (r && r->status == 200) {
        ready_wall_ms_ = wall_ms();
        return seconds_since(started_);
      }
      if (auto status = process_->wait(0ms)) {
        why = "paycoord exited with status " + std::to_string(*status) + " (log " + log_ + ")";
        return std::nullopt;
      }
      std::this_thread::sleep_for(2ms);
    }
    why = "paycoord not ready after " + fmt("%.0f", timeout_s) + " s (log " + log_ + ")";
    return std::nullopt;
  }

  /// SIGTERM (or another signal) and a bounded wait for the exit status.
  std::optional<int> stop(int sig, double timeout_s, double* took_s = nullptr) {
    auto t = steady::now();
    process_->signal(sig);
    auto status = process_->wait(std::chrono::milliseconds{static_cast<int64_t>(timeout_s * 1000)});
    if (took_s != nullptr)
      *took_s = seconds_since(t);
    return status;
  }

  /// The steps of the start from paycoord's own log, in ms after the fork.
  std::string phases() const {
    auto log = process_->output();
    std::string out;
    for (auto [name, event] : {std::pair{"config+keys", "starting"},
                               std::pair{"store open", "store_opened"},
                               std::pair{"first window", "timers_loaded"},
                               std::pair{"ready", "ready"}}) {
      auto t = logged_at(log, event);
      if (!out.empty())
        out += ", ";
      out += std::string{name} + " "
             + (t ? std::to_string(*t - started_wall_ms_) + " ms" : std::string{"?"});
    }
    return out;
  }

  std::string metrics_url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(metrics_port_) + path;
  }

  std::optional<testing::prometheus_text> scrape() const {
    return scrape_metrics(metrics_url("/metrics"));
  }

  pid_t pid() const {
    return process_->pid();
  }
  std::optional<int> exited() {
    return process_->wait(0ms);
  }
  const std::string& log() const {
    return log_;
  }
  int64_t ready_wall_ms() const {
    return ready_wall_ms_;
  }

private:
  uint16_t metrics_port_;
  std::map<std::string, std::string> env_;
  std::string log_;
  int64_t started_wall_ms_ = 0;
  int64_t ready_wall_ms_ = 0;
  steady::time_point started_;
  std::unique_ptr<child_process> process_;
};

// -- WeChat Pay: paysim, or nobody ----------------------------------------------------------

/// Starts paysim on free ports from config/paysim.example.json (what
/// demo::sandbox_stack writes, without a paycoord of its own: the stores
/// here are paycoord's, filled beforehand).
std::optional<std::string> start_paysim(bench_run& run) {
  auto config_dir = run.opts.source_dir + "/config";
  json sim;
  {
    std::ifstream in{config_dir + "/paysim.example.json"};
    sim = json::parse(in, nullptr, false);
  }
  if (sim.is_discarded())
    return "cannot read " + config_dir + "/paysim.example.json";
  auto wechat = free_port(), business = free_port(), control = free_port();
  auto at = [](uint16_t port) { return "127.0.0.1:" + std::to_string(port); };
  sim["listen"] = {{"wechat", at(wechat)}, {"business", at(business)}, {"control", at(control)}};
  for (auto key : {"merchant_public_key_file", "platform_private_key_file"})
    sim["wechatpay"][key] = config_dir + "/" + sim["wechatpay"][key].get<std::string>();
  auto file = run.opts.work_dir + "/paysim.json";
  std::ofstream{file} << sim.dump(2) << "\n";
  auto log = run.opts.work_dir + "/paysim-" + std::to_string(::getpid()) + ".log";
  run.paysim = std::make_unique<child_process>(run.opts.bin_dir + "/paysim",
                                               std::vector<std::string>{"--config", file},
                                               std::map<std::string, std::string>{}, log);
  net::http_client client;
  auto deadline = steady::now() + 30s;
  while (steady::now() < deadline) {
    auto r = client.send({"GET", "http://" + at(control) + "/control/report?orders=false", {}, {}});
    if (r && r->status == 200) {
      run.base_url = "http://" + at(wechat);
      run.business_url = "http://" + at(business) + sim["business"].value("path", "/orders/paid");
      return std::nullopt;
    }
    if (auto status = run.paysim->wait(0ms))
      return "paysim exited with status " + std::to_string(*status) + " (log " + log + ")";
    std::this_thread::sleep_for(50ms);
  }
  return "paysim not answering after 30 s (log " + log + ")";
}

// -- the store seen from outside paycoord ---------------------------------------------------

/// Due times of the index entries due up to `until_ms`, in order (the store
/// must not be open in paycoord).
std::optional<std::vector<int64_t>> index_due_times(const std::string& dir, int64_t until_ms) {
  store_options so;
  so.create_if_missing = false;
  auto store = order_store::open(dir, so);
  if (!store) {
    std::printf("  cannot open %s: %s\n", dir.c_str(), store.error().to_string().c_str());
    return std::nullopt;
  }
  std::vector<int64_t> dues;
  std::optional<timer_entry> after;
  for (;;) {
    auto page = (*store)->timers(after, until_ms, 100'000);
    if (!page) {
      std::printf("  index read failed: %s\n", page.error().to_string().c_str());
      return std::nullopt;
    }
    for (auto& e : *page)
      dues.push_back(e.due_ms);
    if (page->size() < 100'000)
      break;
    after = page->back();
  }
  return dues;
}

uint64_t count_before(const std::vector<int64_t>& sorted, int64_t t) {
  return static_cast<uint64_t>(std::lower_bound(sorted.begin(), sorted.end(), t) - sorted.begin());
}

// -- ready --------------------------------------------------------------------------------

void measure_ready(bench_run& run) {
  const auto& o = run.opts;
  std::printf("\n== ready: start to /readyz 200, %d runs each (store %s)\n", o.runs,
              o.data_dir.c_str());
  auto cmd = run.command("ready", " --runs " + std::to_string(o.runs));
  std::vector<double> clean, killed, stops;
  std::string why;
  // After a clean stop: the previous process exited 0 on SIGTERM (the fill
  // closed the store cleanly before the first).
  for (int i = 0; i < o.runs; ++i) {
    coordinator c{run, o.data_dir, "ready-clean"};
    auto ready = c.await_ready(o.ready_timeout_s, why);
    if (!ready) {
      run.problem(why);
      return;
    }
    clean.push_back(*ready);
    std::printf("  after clean stop #%d: %.3f s (%s)\n", i + 1, *ready, c.phases().c_str());
    sleep_s(o.hold_s);
    double took = 0;
    auto status = c.stop(SIGTERM, 120, &took);
    stops.push_back(took);
    if (status != 0)
      run.problem("SIGTERM: paycoord exited with "
                  + (status ? std::to_string(*status) : std::string{"nothing within 120 s"})
                  + ", not 0 (log " + c.log() + ")");
  }
  // After kill -9: the previous process was killed while running, `hold`
  // seconds after it became ready (timers firing, the store writing).
  {
    coordinator first{run, o.data_dir, "ready-before-kill"};
    if (!first.await_ready(o.ready_timeout_s, why)) {
      run.problem(why);
      return;
    }
    sleep_s(o.hold_s);
    first.stop(SIGKILL, 30);
  }
  for (int i = 0; i < o.runs; ++i) {
    coordinator c{run, o.data_dir, "ready-after-kill"};
    auto ready = c.await_ready(o.ready_timeout_s, why);
    if (!ready) {
      run.problem(why);
      return;
    }
    killed.push_back(*ready);
    std::printf("  after kill -9 #%d:     %.3f s (%s)\n", i + 1, *ready, c.phases().c_str());
    sleep_s(o.hold_s);
    if (i + 1 < o.runs) {
      c.stop(SIGKILL, 30);
    } else if (auto status = c.stop(SIGTERM, 120); status != 0) {
      run.problem("SIGTERM after the kill runs: exit "
                  + (status ? std::to_string(*status) : std::string{"none within 120 s"}));
    }
  }
  run.add("ready after clean stop, min/median/max", spread_of(clean), cmd);
  run.add("ready after kill -9, min/median/max", spread_of(killed), cmd);
  run.add("SIGTERM to exit 0, min/median/max", spread_of(stops), cmd);
}

// -- rss ------------------------------------------------------------------------------

struct rss_result {
  proc_memory at_ready;
  proc_memory settled;
  double settled_after_s = 0;
  double actors = 0;
  double armed = 0;
  double open_orders = 0; ///< PENDING + PAID
  double cpu_s = 0;
};

/// Ready, then settled: sampled every second for at least `settle_s`, until
/// VmRSS moved by less than 1% over the last 5 s (at most 3 × settle_s).
std::optional<rss_result> rss_of(bench_run& run, const std::string& data_dir,
                                 const std::string& what) {
  const auto& o = run.opts;
  coordinator c{run, data_dir, what};
  std::string why;
  auto ready = c.await_ready(o.ready_timeout_s, why);
  if (!ready) {
    run.problem(why);
    return std::nullopt;
  }
  rss_result r;
  auto at_ready = read_proc_memory(c.pid());
  if (!at_ready) {
    run.problem("paycoord vanished after ready (log " + c.log() + ")");
    return std::nullopt;
  }
  r.at_ready = *at_ready;
  auto t0 = steady::now();
  std::vector<uint64_t> history;
  for (;;) {
    sleep_s(1);
    auto m = read_proc_memory(c.pid());
    if (!m) {
      run.problem("paycoord exited while settling (log " + c.log() + ")");
      return std::nullopt;
    }
    r.settled = *m;
    history.push_back(m->rss);
    auto elapsed = seconds_since(t0);
    bool steady_5s = history.size() > 5
                     && std::abs(static_cast<double>(history.back())
                                 - static_cast<double>(history[history.size() - 6]))
                          < 0.01 * static_cast<double>(history.back());
    if ((elapsed >= o.settle_s && steady_5s) || elapsed >= 3 * o.settle_s)
      break;
  }
  r.settled_after_s = seconds_since(t0);
  if (auto text = c.scrape()) {
    r.actors = sample_or_zero(*text, "paycoord_order_actors");
    r.armed = sample_or_zero(*text, "paycoord_timers_armed");
    r.open_orders = sample_or_zero(*text, R"(paycoord_orders{state="PENDING"})")
                    + sample_or_zero(*text, R"(paycoord_orders{state="PAID"})");
  }
  r.cpu_s = read_cpu_seconds(c.pid()).value_or(0);
  if (auto status = c.stop(SIGTERM, 120); status != 0)
    run.problem("SIGTERM after the rss run: exit "
                + (status ? std::to_string(*status) : std::string{"none within 120 s"}));
  std::printf("  %-6s ready %.3f s; at ready VmRSS %s; after %.0f s: VmRSS %s (anon %s, file %s), "
              "VmHWM %s; %.0f open orders, %.0f order actors, %.0f timers in memory\n",
              what.c_str(), *ready, mib(r.at_ready.rss).c_str(), r.settled_after_s,
              mib(r.settled.rss).c_str(), mib(r.settled.rss_anon).c_str(),
              mib(r.settled.rss_file).c_str(), mib(r.settled.hwm).c_str(), r.open_orders,
              r.actors, r.armed);
  return r;
}

void measure_rss(bench_run& run) {
  const auto& o = run.opts;
  std::printf("\n== rss: VmRSS once ready and settled (>= %.0f s), empty store vs %s\n",
              o.settle_s, o.data_dir.c_str());
  auto cmd = run.command("rss", " --settle " + fmt("%.0f", o.settle_s));
  auto empty_dir = o.work_dir + "/empty-store";
  std::error_code ec;
  fs::remove_all(empty_dir, ec);
  auto empty = rss_of(run, empty_dir, "rss-empty");
  fs::remove_all(empty_dir, ec);
  auto filled = rss_of(run, o.data_dir, "rss-filled");
  if (!empty || !filled)
    return;
  run.add("VmRSS settled, empty store", mib(empty->settled.rss), cmd);
  run.add("VmRSS settled, filled store", mib(filled->settled.rss) + " (anon "
                                          + mib(filled->settled.rss_anon) + ", file "
                                          + mib(filled->settled.rss_file) + ")",
          cmd);
  run.add("VmHWM, filled store", mib(filled->settled.hwm), cmd);
  run.add("open orders (PENDING+PAID)", with_commas(static_cast<uint64_t>(filled->open_orders)),
          cmd);
  run.add("order actors / timers in memory, settled",
          fmt("%.0f", filled->actors) + " / " + fmt("%.0f", filled->armed), cmd);
  if (filled->open_orders > 0) {
    auto per = [&](uint64_t a, uint64_t b) {
      return (static_cast<double>(a) - static_cast<double>(b)) / filled->open_orders;
    };
    run.add("VmRSS per open order (filled - empty)",
            fmt("%.1f bytes", per(filled->settled.rss, empty->settled.rss)) + " (anon "
              + fmt("%.1f", per(filled->settled.rss_anon, empty->settled.rss_anon)) + ", file "
              + fmt("%.1f", per(filled->settled.rss_file, empty->settled.rss_file)) + ")",
            cmd);
    run.add("VmHWM per open order (filled - empty)",
            fmt("%.1f bytes", per(filled->settled.hwm, empty->settled.hwm)), cmd);
  }
}

// -- drain ----------------------------------------------------------------------------

void measure_drain(bench_run& run) {
  const auto& o = run.opts;
  std::printf("\n== drain: overdue timers fired at rate_limit_qps %lld (store %s)\n",
              static_cast<long long>(o.qps), o.data_dir.c_str());
  std::printf("  WeChat: %s\n", run.wechat_note.c_str());
  auto cmd = run.command("drain", " --drain-timeout " + fmt("%.0f", o.drain_timeout_s));
  auto scanned = steady::now();
  auto horizon = wall_ms() + static_cast<int64_t>(o.drain_timeout_s * 1000) + 120'000;
  auto dues = index_due_times(o.data_dir, horizon);
  if (!dues) {
    run.problem("cannot read the timer index of " + o.data_dir);
    return;
  }
  std::printf("  index: %s entries due within the drain's horizon (read in %.1f s)\n",
              with_commas(dues->size()).c_str(), seconds_since(scanned));
  coordinator c{run, o.data_dir, "drain"};
  std::string why;
  auto ready = c.await_ready(o.ready_timeout_s, why);
  if (!ready) {
    run.problem(why);
    return;
  }
  // Late: due more than late_after (1 s) before its turn. At ready the
  // service takes its first turn.
  auto t_ready = c.ready_wall_ms();
  auto overdue = count_before(*dues, t_ready - 1000);
  auto expected_s = static_cast<double>(overdue) / static_cast<double>(o.qps);
  std::printf("  ready after %.3f s (%s); overdue at ready: %s; expected drain %s / %lld = "
              "%.1f s\n",
              *ready, c.phases().c_str(), with_commas(overdue).c_str(),
              with_commas(overdue).c_str(), static_cast<long long>(o.qps), expected_s);
  if (overdue == 0) {
    run.problem("drain: nothing overdue in " + o.data_dir
                + " (fill it with store_fill --overdue 10m right before)");
    c.stop(SIGTERM, 120);
    return;
  }
  auto first = c.scrape();
  double late0 = first ? sample_or_zero(*first, R"(paycoord_timers_fired_total{late="true"})") : 0;
  double ontime0 = first ? sample_or_zero(*first, R"(paycoord_timers_fired_total{late="false"})")
                         : 0;
  auto t0 = steady::now();
  std::optional<double> drained_s;
  double last_late = late0, last_t = 0, late = late0, ontime = ontime0;
  double max_actors = 0, max_armed = 0;
  uint64_t max_rss = 0;
  std::optional<testing::prometheus_text> last;
  double next_report = 30;
  while (seconds_since(t0) < o.drain_timeout_s) {
    sleep_s(1);
    auto text = c.scrape();
    auto t = seconds_since(t0);
    if (!text) {
      if (c.exited()) {
        run.problem("drain: paycoord exited (log " + c.log() + ")");
        return;
      }
      continue;
    }
    last = text;
    late = sample_or_zero(*text, R"(paycoord_timers_fired_total{late="true"})");
    ontime = sample_or_zero(*text, R"(paycoord_timers_fired_total{late="false"})");
    max_actors = std::max(max_actors, sample_or_zero(*text, "paycoord_order_actors"));
    max_armed = std::max(max_armed, sample_or_zero(*text, "paycoord_timers_armed"));
    if (auto m = read_proc_memory(c.pid()))
      max_rss = std::max(max_rss, m->rss);
    if (late - late0 >= static_cast<double>(overdue)) {
      // Interpolated between the last two samples.
      auto need = static_cast<double>(overdue) - (last_late - late0);
      auto step = late - last_late;
      drained_s = last_t + (step > 0 ? need / step : 1.0) * (t - last_t);
      break;
    }
    if (t >= next_report) {
      std::printf("  %5.0f s: %s late fired (%.1f/s), %s on time; %0.f actors, %0.f timers in "
                  "memory, VmRSS %s\n",
                  t, with_commas(static_cast<uint64_t>(late - late0)).c_str(),
                  (late - late0) / t, with_commas(static_cast<uint64_t>(ontime - ontime0)).c_str(),
                  sample_or_zero(*text, "paycoord_order_actors"),
                  sample_or_zero(*text, "paycoord_timers_armed"), mib(max_rss).c_str());
      std::fflush(stdout);
      next_report += 30;
    }
    last_late = late;
    last_t = t;
  }
  auto window_s = drained_s ? *drained_s : seconds_since(t0);
  auto fired_late = late - late0;
  // What fell due on time meanwhile (entries of the index due after ready).
  auto due_meanwhile = count_before(*dues, t_ready + static_cast<int64_t>(window_s * 1000))
                       - count_before(*dues, t_ready - 1000);
  std::printf("  on-time fires during the drain: %s; index entries that fell due meanwhile: %s\n",
              with_commas(static_cast<uint64_t>(ontime - ontime0)).c_str(),
              with_commas(due_meanwhile).c_str());
  if (last) {
    std::printf("  WeChat calls (paycoord_wechat_calls_total since start):\n");
    for (auto& [name, value] : samples_with_prefix(*last, "paycoord_wechat_calls_total{"))
      if (value > 0)
        std::printf("    %s %s\n", name.c_str(), with_commas(static_cast<uint64_t>(value)).c_str());
  }
  run.add("overdue at ready", with_commas(overdue), cmd);
  run.add("expected drain (overdue / qps)", fmt("%.1f s", expected_s) + " at "
                                              + std::to_string(o.qps) + "/s", cmd);
  if (drained_s) {
    run.add("measured drain (ready to last overdue fired)",
            fmt("%.1f s", *drained_s) + " (" + fmt("%.2f", *drained_s / expected_s) + " x expected, "
              + fmt("%.1f late fires/s", static_cast<double>(overdue) / *drained_s) + ")",
            cmd);
  } else {
    auto rate = fired_late / window_s;
    run.add("measured drain", "not done in " + fmt("%.0f s", window_s) + ": "
                                + with_commas(static_cast<uint64_t>(fired_late)) + " late fired ("
                                + fmt("%.1f/s", rate) + "), projected "
                                + fmt("%.0f s", rate > 0 ? static_cast<double>(overdue) / rate : 0),
            cmd);
  }
  run.add("on-time fires during the drain",
          with_commas(static_cast<uint64_t>(ontime - ontime0)) + " (" + with_commas(due_meanwhile)
            + " index entries fell due meanwhile)",
          cmd);
  run.add("during the drain: max actors / timers / VmRSS",
          fmt("%.0f", max_actors) + " / " + fmt("%.0f", max_armed) + " / " + mib(max_rss), cmd);
  double stop_s = 0;
  auto status = c.stop(SIGTERM, 300, &stop_s);
  run.add("SIGTERM to exit, right after the drain",
          fmt("%.1f s", stop_s) + ", exit "
            + (status ? std::to_string(*status) : std::string{"none within 300 s (killed)"})
            + ", " + std::to_string(count_in_log(c.log(), "event=store_write_failed"))
            + " store_write_failed logged",
          cmd);
  if (status != 0)
    run.problem("SIGTERM after the drain: exit "
                + (status ? std::to_string(*status) : std::string{"none within 300 s"}));
}

// -- precision --------------------------------------------------------------------------------

struct metric_sample {
  double t = 0;       ///< seconds since the first due time (negative: before)
  double fired = 0;   ///< paycoord_timers_fired_total, both labels
  double late = 0;
  double actors = 0;
  double armed = 0;
  double cpu_s = 0;   ///< paycoord's CPU time so far
  double batches = 0; ///< store: synced batches, write sets, seconds in commit
  double write_sets = 0;
  double commit_s = 0;
  histogram lateness;
};

void measure_precision(bench_run& run) {
  const auto& o = run.opts;
  auto for_ms = parse_signed_duration_ms(o.precision_for);
  auto lead_ms = parse_signed_duration_ms(o.precision_lead);
  if (!for_ms || *for_ms <= 0 || !lead_ms || *lead_ms < 0) {
    run.problem("precision: --precision-for and --precision-lead take durations");
    return;
  }
  auto orders = static_cast<uint64_t>(o.precision_rate * *for_ms / 1000);
  std::printf("\n== precision: %s orders due at %lld/s for %s, from %s after the start\n",
              with_commas(orders).c_str(), static_cast<long long>(o.precision_rate),
              o.precision_for.c_str(), o.precision_lead.c_str());
  std::printf("  WeChat: %s\n", run.wechat_note.c_str());
  auto cmd = run.command("precision", " --precision-rate " + std::to_string(o.precision_rate)
                                        + " --precision-for " + o.precision_for
                                        + " --precision-lead " + o.precision_lead);
  auto dir = o.work_dir + "/precision-store";
  std::error_code ec;
  fs::remove_all(dir, ec);
  auto cfg = load_config(run.config_file, {});
  if (!cfg) {
    run.problem("config: " + cfg.error().message());
    return;
  }
  fill_plan plan;
  plan.data_dir = dir;
  plan.orders = orders;
  plan.mchid = cfg->wechatpay.mchid;
  plan.appid = cfg->wechatpay.appid;
  plan.now_ms = wall_ms();
  // Room for the fill itself (~50,000 orders/s here), then the lead.
  plan.first_due_ms = plan.now_ms + *lead_ms + 15'000 + static_cast<int64_t>(orders / 20);
  plan.spread_ms = *for_ms;
  plan.seed = o.seed + 1000;
  std::vector<std::pair<std::string, int64_t>> planned;
  planned.reserve(orders);
  auto filled = fill_store(plan, [&](const std::string& id, int64_t due) {
    planned.emplace_back(id, due);
  });
  if (!filled) {
    run.problem("precision fill: " + filled.error());
    return;
  }
  std::printf("  filled %s orders in %.1f s\n", with_commas(filled->orders).c_str(),
              filled->seconds);
  auto first_due = plan.first_due_ms;
  auto last_due = plan.first_due_ms + plan.spread_ms;
  sleep_s(static_cast<double>(first_due - *lead_ms - wall_ms()) / 1000.0);
  coordinator c{run, dir, "precision"};
  std::string why;
  auto ready = c.await_ready(o.ready_timeout_s, why);
  if (!ready) {
    run.problem(why);
    return;
  }
  std::printf("  ready %.3f s after the start; first due %.1f s after ready\n", *ready,
              static_cast<double>(first_due - c.ready_wall_ms()) / 1000.0);
  std::vector<metric_sample> samples;
  double max_actors = 0, max_armed = 0;
  uint64_t max_rss = 0;
  auto cpu0 = read_cpu_seconds(c.pid()).value_or(0);
  double cpu_window = 0;
  auto grace_ms = 10'000;
  while (wall_ms() < last_due + grace_ms) {
    sleep_s(1.0 - static_cast<double>(wall_ms() % 1000) / 1000.0); // on the second
    auto text = c.scrape();
    auto now = wall_ms();
    if (!text)
      continue;
    metric_sample s;
    s.t = static_cast<double>(now - first_due) / 1000.0;
    s.late = sample_or_zero(*text, R"(paycoord_timers_fired_total{late="true"})");
    s.fired = s.late + sample_or_zero(*text, R"(paycoord_timers_fired_total{late="false"})");
    s.lateness = read_histogram(*text, "paycoord_timer_lateness_seconds").value_or(histogram{});
    s.actors = sample_or_zero(*text, "paycoord_order_actors");
    s.armed = sample_or_zero(*text, "paycoord_timers_armed");
    s.cpu_s = read_cpu_seconds(c.pid()).value_or(0);
    s.batches = sample_or_zero(*text, "paycoord_store_sync_duration_seconds_count");
    s.commit_s = sample_or_zero(*text, "paycoord_store_sync_duration_seconds_sum");
    s.write_sets = sample_or_zero(*text, "paycoord_store_batch_write_sets_sum");
    if (!samples.empty() && s.t > -3) {
      // One line a second around the window: how the fire rate holds up.
      const auto& p = samples.back();
      auto dt = s.t - p.t;
      auto d = histogram_delta(s.lateness, p.lateness);
      auto batches = s.batches - p.batches;
      std::printf("  t=%+6.1f s  fired %6.0f/s  late %4.0f/s  lateness p50 %s p99 %s  actors %6.0f  "
                  "timers %6.0f  cpu %3.0f%%  store %3.0f syncs/s %5.0f writes/s %4.0f ms/commit\n",
                  s.t, (s.fired - p.fired) / dt, (s.late - p.late) / dt,
                  lateness_ms(histogram_quantile(d, 0.5)).c_str(),
                  lateness_ms(histogram_quantile(d, 0.99)).c_str(), s.actors, s.armed,
                  100.0 * (s.cpu_s - p.cpu_s) / dt, batches / dt, (s.write_sets - p.write_sets) / dt,
                  batches > 0 ? 1000.0 * (s.commit_s - p.commit_s) / batches : 0.0);
      std::fflush(stdout);
    }
    samples.push_back(std::move(s));
    max_actors = std::max(max_actors, sample_or_zero(*text, "paycoord_order_actors"));
    max_armed = std::max(max_armed, sample_or_zero(*text, "paycoord_timers_armed"));
    if (auto m = read_proc_memory(c.pid()))
      max_rss = std::max(max_rss, m->rss);
    if (now <= last_due)
      cpu_window = read_cpu_seconds(c.pid()).value_or(0) - cpu0;
  }
  auto wechat_calls = c.scrape();
  double stop_s = 0;
  auto status = c.stop(SIGTERM, 300, &stop_s);
  run.add("SIGTERM to exit, right after the window",
          fmt("%.1f s", stop_s) + ", exit "
            + (status ? std::to_string(*status) : std::string{"none within 300 s (killed)"})
            + ", " + std::to_string(count_in_log(c.log(), "event=store_write_failed"))
            + " store_write_failed logged",
          cmd);
  if (status != 0)
    run.problem("SIGTERM after the precision run: exit "
                + (status ? std::to_string(*status) : std::string{"none within 300 s"}));
  if (!status)
    c.stop(SIGKILL, 30); // the store's lock must be free to read it below
  // The window: from the last sample before the first due time to the last one.
  auto before = std::find_if(samples.rbegin(), samples.rend(),
                             [](const metric_sample& s) { return s.t <= 0; });
  if (before == samples.rend() || samples.empty()) {
    run.problem("precision: no metrics before the first due time (started too late?)");
    return;
  }
  const auto& s0 = *before;
  const auto& s1 = samples.back();
  auto delta = histogram_delta(s1.lateness, s0.lateness);
  std::vector<double> per_second;
  for (size_t i = 1; i < samples.size(); ++i)
    if (samples[i - 1].t >= 0 && samples[i].t <= static_cast<double>(*for_ms) / 1000.0)
      per_second.push_back((samples[i].fired - samples[i - 1].fired)
                           / (samples[i].t - samples[i - 1].t));
  std::sort(per_second.begin(), per_second.end());
  auto fired = s1.fired - s0.fired;
  if (wechat_calls) {
    std::printf("  WeChat calls (paycoord_wechat_calls_total):\n");
    for (auto& [name, value] : samples_with_prefix(*wechat_calls, "paycoord_wechat_calls_total{"))
      if (value > 0)
        std::printf("    %s %s\n", name.c_str(), with_commas(static_cast<uint64_t>(value)).c_str());
  }
  // Fire to effect, from the store: each order's first query event against
  // the due time it was filled with (the timer's lateness, plus loading the
  // order and the wechat pool's answer).
  std::vector<double> effect_all, effect_refused;
  uint64_t never_queried = 0;
  {
    auto store = order_store::open(dir);
    if (!store) {
      run.problem("precision: cannot reopen the store: " + store.error().to_string());
      return;
    }
    for (auto& [id, due] : planned) {
      auto events = (*store)->events(id, 0, 50);
      if (!events)
        continue;
      auto q = std::find_if(events->begin(), events->end(),
                            [](const order_event& e) { return e.kind == "query"; });
      if (q == events->end()) {
        ++never_queried;
        continue;
      }
      auto late_s = static_cast<double>(q->at_ms - due) / 1000.0;
      effect_all.push_back(late_s);
      auto detail = json::parse(q->detail, nullptr, false);
      if (!detail.is_discarded() && detail.value("retry", false)
          && detail.value("error", std::string{}) == "overloaded")
        effect_refused.push_back(late_s);
    }
  }
  std::sort(effect_all.begin(), effect_all.end());
  std::sort(effect_refused.begin(), effect_refused.end());
  auto q_ms = [](const std::vector<double>& v, double q) {
    return fmt("%.1f ms", sorted_quantile(v, q) * 1000.0);
  };
  run.add("planned", with_commas(orders) + " orders at " + std::to_string(o.precision_rate)
                       + "/s for " + o.precision_for,
          cmd);
  run.add("fires in the window (incl. retries' refires)",
          with_commas(static_cast<uint64_t>(fired)) + " over " + fmt("%.0f s", s1.t - s0.t) + ", "
            + with_commas(static_cast<uint64_t>(s1.late - s0.late)) + " of them late (> 1 s)",
          cmd);
  if (!per_second.empty())
    run.add("fire rate while due (per second: min / median / max)",
            fmt("%.0f", per_second.front()) + " / " + fmt("%.0f", sorted_quantile(per_second, 0.5))
              + " / " + fmt("%.0f", per_second.back()),
            cmd);
  run.add("timer lateness p50 / p99 (histogram)",
          lateness_ms(histogram_quantile(delta, 0.5)) + " / "
            + lateness_ms(histogram_quantile(delta, 0.99)),
          cmd);
  run.add("timer lateness max (histogram bucket bound)",
          "<= " + lateness_ms(histogram_max_bound(delta)), cmd);
  run.add("due to first query event p50 / p99 / max",
          q_ms(effect_all, 0.5) + " / " + q_ms(effect_all, 0.99) + " / " + q_ms(effect_all, 1.0)
            + " (" + with_commas(effect_all.size()) + " orders, " + with_commas(never_queried)
            + " without a query yet)",
          cmd);
  if (!effect_refused.empty())
    run.add("  of which refused by the wechat pool at once",
            q_ms(effect_refused, 0.5) + " / " + q_ms(effect_refused, 0.99) + " / "
              + q_ms(effect_refused, 1.0) + " (" + with_commas(effect_refused.size()) + ")",
            cmd);
  run.add("during the window: max actors / timers / VmRSS / CPU",
          fmt("%.0f", max_actors) + " / " + fmt("%.0f", max_armed) + " / " + mib(max_rss) + " / "
            + fmt("%.0f%% of one core", 100.0 * cpu_window
                                          / (static_cast<double>(*for_ms) / 1000.0
                                             + static_cast<double>(first_due - c.ready_wall_ms())
                                                 / 1000.0)),
          cmd);
  if (!o.keep)
    fs::remove_all(dir, ec);
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"scale_bench: paycoord over a store of many open orders"};
  options o;
  app.add_option("--data-dir", o.data_dir, "the filled store (or an empty one for --fill)")
    ->required();
  app.add_option("--fill", o.fill, "fill --data-dir with this many pending orders first");
  app.add_option("--spread", o.spread, "--fill: due times spread over this long");
  app.add_option("--overdue", o.overdue, "--fill: the first due time lies this long before now");
  app.add_option("--seed", o.seed, "--fill: seed");
  app.add_option("--only", o.only, "measurements, in this order: drain,ready,rss,precision");
  app.add_option("--runs", o.runs, "ready: starts per kind");
  app.add_option("--qps", o.qps, "wechatpay.rate_limit_qps (PAYCOORD_WECHATPAY__RATE_LIMIT_QPS)");
  app.add_option("--wechat", o.wechat, "paysim (answers 404 for unknown orders) or unreachable")
    ->check(CLI::IsMember({"paysim", "unreachable"}));
  app.add_option("--work-dir", o.work_dir, "logs, configs, the precision and empty stores");
  app.add_option("--bin-dir", o.bin_dir, "where paycoord and paysim are (this binary's folder)");
  app.add_option("--source-dir", o.source_dir, "the repository (config/ examples)");
  app.add_option("--hold", o.hold_s, "ready: seconds a paycoord runs before its stop or kill");
  app.add_option("--settle", o.settle_s, "rss: seconds at least between ready and the sample");
  app.add_option("--drain-timeout", o.drain_timeout_s, "drain: give up after this many seconds");
  app.add_option("--ready-timeout", o.ready_timeout_s, "any start: give up after this many seconds");
  app.add_option("--precision-rate", o.precision_rate, "precision: orders due per second");
  app.add_option("--precision-for", o.precision_for, "precision: for this long");
  app.add_option("--precision-lead", o.precision_lead, "precision: first due this long after start");
  app.add_flag("--keep", o.keep, "keep the precision store");
  CLI11_PARSE(app, argc, argv);
  bench_run run;
  run.opts = o;
  run.self = argv[0];
  auto& opts = run.opts;
  if (opts.bin_dir.empty())
    opts.bin_dir = demo::own_dir(argv[0]);
  if (opts.work_dir.empty())
    opts.work_dir = fs::path{opts.data_dir}.parent_path().string() + "/scale_bench-work";
  fs::create_directories(opts.work_dir);
  run.config_file = opts.source_dir + "/config/paycoord.example.json";

  std::printf("scale_bench: %s\n", command_line(argc, argv).c_str());
  for (auto& fact : machine_facts())
    std::printf("  %s\n", fact.c_str());

  if (opts.fill > 0) {
    auto spread_ms = parse_signed_duration_ms(opts.spread);
    auto overdue_ms = parse_signed_duration_ms(opts.overdue);
    auto cfg = load_config(run.config_file, {});
    if (!spread_ms || !overdue_ms || !cfg) {
      std::fprintf(stderr, "scale_bench: bad --spread/--overdue or config\n");
      return 1;
    }
    fill_plan plan;
    plan.data_dir = opts.data_dir;
    plan.orders = opts.fill;
    plan.mchid = cfg->wechatpay.mchid;
    plan.appid = cfg->wechatpay.appid;
    plan.now_ms = wall_ms();
    plan.first_due_ms = plan.now_ms - *overdue_ms;
    plan.spread_ms = *spread_ms;
    plan.seed = opts.seed;
    std::printf("\n== fill: %s orders, spread %s, overdue %s, seed %llu (as store_fill --data-dir "
                "%s --orders %llu --spread %s --overdue %s --seed %llu)\n",
                with_commas(opts.fill).c_str(), opts.spread.c_str(), opts.overdue.c_str(),
                static_cast<unsigned long long>(opts.seed), opts.data_dir.c_str(),
                static_cast<unsigned long long>(opts.fill), opts.spread.c_str(),
                opts.overdue.c_str(), static_cast<unsigned long long>(opts.seed));
    auto filled = fill_store(plan, {}, [](uint64_t n) {
      if (n % 1'000'000 < 4096)
        std::fprintf(stderr, "  ... %s\n", with_commas(n).c_str());
    });
    if (!filled) {
      std::fprintf(stderr, "scale_bench: %s\n", filled.error().c_str());
      return 1;
    }
    run.add("fill", with_commas(filled->orders) + " orders in " + fmt("%.1f s", filled->seconds)
                      + ", " + mib(filled->bytes_on_disk) + " on disk, "
                      + with_commas(filled->overdue_at_fill) + " overdue",
            command_line(argc, argv));
  }

  bool need_wechat = opts.selected("ready") || opts.selected("rss") || opts.selected("drain")
                     || opts.selected("precision");
  if (need_wechat && opts.wechat == "paysim") {
    if (auto failed = start_paysim(run)) {
      std::fprintf(stderr, "scale_bench: %s\n", failed->c_str());
      return 1;
    }
    run.wechat_note = "paysim at " + run.base_url
                      + ": every query gets a real signed answer (404 for the orders it never "
                        "saw, which paycoord takes as not paid: the order moves to its next "
                        "verify step), so each fire costs what it costs against WeChat";
  } else {
    run.base_url = "http://127.0.0.1:" + std::to_string(free_port());
    run.business_url = run.base_url + "/orders/paid";
    run.wechat_note = "unreachable (" + run.base_url
                      + ", connection refused): every query is retried later, so the orders "
                        "come back after a backoff instead of moving on";
  }

  for (auto section : {"drain", "ready", "rss", "precision"}) {
    if (!opts.selected(section))
      continue;
    std::printf("\n(load average before %s: %s)", section, load_average().c_str());
    std::fflush(stdout);
    if (std::string{section} == "drain")
      measure_drain(run);
    else if (std::string{section} == "ready")
      measure_ready(run);
    else if (std::string{section} == "rss")
      measure_rss(run);
    else
      measure_precision(run);
  }
  std::printf("\n(load average at the end: %s)\n", load_average().c_str());
  if (run.paysim) {
    run.paysim->signal(SIGTERM);
    run.paysim->wait(10s);
  }

  std::printf("\n== summary (logs in %s)\n\n| figure | value | command |\n| --- | --- | --- |\n",
              opts.work_dir.c_str());
  for (auto& f : run.figures)
    std::printf("| %s | %s | `%s` |\n", f.what.c_str(), f.value.c_str(), f.command.c_str());
  for (auto& p : run.problems)
    std::printf("\nPROBLEM: %s\n", p.c_str());
  return run.problems.empty() ? 0 : 2;
}
