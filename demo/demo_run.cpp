#include "demo/demo_run.hpp"

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>

#include <unistd.h>

#include "common/time.hpp"
#include "demo/customer_driver.hpp"
#include "demo/demo_config.hpp"
#include "demo/json_call.hpp"
#include "demo/order_log.hpp"
#include "demo/progress_view.hpp"
#include "demo/reconciliation.hpp"
#include "demo/refund_driver.hpp"
#include "demo/refund_log.hpp"
#include "demo/report_html.hpp"
#include "demo/report_tables.hpp"
#include "demo/run_dir.hpp"
#include "demo/sandbox_stack.hpp"
#include "demo/scenario.hpp"
#include "demo/sim_report.hpp"
#include "demo/state_watcher.hpp"

namespace paycoord::demo {

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

/// After the last customer has paid, how long the run waits for the last
/// confirmations and refunds before it reports what is missing. A refund
/// comes up to 8 s after its confirmation, a second one up to 5 s after the
/// first, a fixed ABNORMAL one 10 s after it is parked and, when WeChat loses
/// the fix's notification, up to refund_verify_every (30 s) later.
constexpr auto drain_limit = 120s;
constexpr auto tick = 250ms;

int64_t now_ms() {
  return to_unix_ms(wall_clock::now());
}

/// paycoord's schedule as configured (before the demo compresses it).
void read_real_schedule(const json& schedule, run_facts& facts) {
  auto one = [&](const char* key, duration& out) {
    if (auto v = schedule.find(key); v != schedule.end() && v->is_string())
      if (auto d = parse_duration(v->get<std::string>()))
        out = *d;
  };
  facts.verify_real.clear();
  for (auto& step : schedule.value("verify", json::array()))
    if (auto d = step.is_string() ? parse_duration(step.get<std::string>()) : std::nullopt)
      facts.verify_real.push_back(*d);
  one("verify_every", facts.verify_every_real);
  one("default_expiry", facts.expiry_real);
}

/// What the fault thread did, for the live view and the report.
struct fault_state {
  std::atomic<bool> business_down{false};
  std::atomic<bool> paycoord_down{false};
  std::atomic<int64_t> kill_ms{0};
  std::atomic<int64_t> restart_ready_ms{0};
  std::atomic<int> paycoord_starts{1};
  std::mutex mutex;
  // guarded by mutex
  std::string restart_error;
};

/// Sleeps until `start + at`, in short steps; false when `stop` came first.
bool sleep_until_offset(steady::time_point start, duration at, const std::atomic<bool>& stop) {
  while (steady::now() < start + at) {
    if (stop)
      return false;
    std::this_thread::sleep_for(std::min<steady::duration>(50ms, start + at - steady::now()));
  }
  return !stop;
}

/// The business outage and the kill -9, on the scenario's clock.
void play_faults(const scenario& script, sandbox_stack& stack, steady::time_point start,
                 const std::atomic<bool>& stop, fault_state& faults) {
  auto client = make_demo_client();
  if (!sleep_until_offset(start, script.business_outage.from, stop))
    return;
  auto length = script.business_outage.to - script.business_outage.from;
  call_json(client, "POST", stack.control_url("/control/business"),
            {{"up", false}, {"for", format_duration(length)}});
  faults.business_down = true;
  if (!script.kill_at) {
    if (sleep_until_offset(start, script.business_outage.to, stop))
      faults.business_down = false;
    return;
  }
  if (!sleep_until_offset(start, script.business_outage.to, stop))
    return;
  faults.business_down = false;
  if (!sleep_until_offset(start, *script.kill_at, stop))
    return;
  faults.kill_ms = now_ms();
  faults.paycoord_down = true;
  auto failed = stack.kill_and_restart_paycoord();
  faults.paycoord_starts = stack.paycoord_starts();
  if (failed) {
    std::lock_guard guard{faults.mutex};
    faults.restart_error = *failed;
    return;
  }
  faults.restart_ready_ms = now_ms();
  faults.paycoord_down = false;
}

bool stdout_is_terminal() {
  return ::isatty(1) == 1;
}

bool color_wanted(const demo_options& opts) {
  auto no_color = std::getenv("NO_COLOR");
  return opts.color && stdout_is_terminal() && (no_color == nullptr || *no_color == '\0');
}

/// The scenario's plan, before the run.
void print_plan(const demo_options& opts, const scenario& script, const std::string& dir) {
  auto at = [](duration d) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.1f s", static_cast<double>(d.count()) / 1000.0);
    return std::string{buf};
  };
  std::size_t refunding = 0;
  for (auto& c : script.customers)
    refunding += c.refund.has_value();
  std::printf("paydemo: %d customers over %s, seed %llu, %.0f%% of WeChat notifications lost, "
              "%zu customers asking for a refund (%.0f%% of payers), "
              "business server down %s to %s, %s\n",
              opts.orders, at(script.arrival_span).c_str(),
              static_cast<unsigned long long>(opts.seed), opts.lost_pct, refunding,
              opts.refund_pct,
              at(script.business_outage.from).c_str(), at(script.business_outage.to).c_str(),
              script.kill_at ? ("paycoord kill -9 at " + at(*script.kill_at)).c_str()
                             : "no kill (--no-crash)");
  std::printf("paydemo: every schedule compressed %dx (1 s of this run = %d s of real time); "
              "run directory %s\n",
              opts.compression, opts.compression, dir.c_str());
  std::fflush(stdout);
}

/// What happened while the scenario played.
struct played_run {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  /// paysim's query count over time (for the busiest minute).
  std::vector<counter_sample> query_samples;
  bool interrupted = false;
};

/// Plays the scenario: customers, their refunds, faults and the watcher on
/// their threads, live progress on this one, until every paid order was
/// seen CONFIRMED and every refund settled (or `drain_limit` after the last
/// customer paid, or an interrupt); then reads the refunds not settled once
/// more.
played_run play(const demo_options& opts, const scenario& script, sandbox_stack& stack,
                order_log& log, refund_log& refunds, state_watcher& watcher,
                fault_state& faults, const std::atomic<bool>& interrupt) {
  played_run out;
  std::atomic<bool> stop{false};
  std::atomic<bool> customers_done{false};
  auto start = steady::now();
  out.start_ms = now_ms();
  std::thread customers{[&] {
    customer_driver driver{script,
                           {stack.public_url("/v1/orders"), stack.control_url("/control/orders")},
                           log,
                           opts.clients,
                           start,
                           stop};
    driver.run();
    customers_done = true;
  }};
  std::thread fault_thread{[&] { play_faults(script, stack, start, stop, faults); }};
  watcher.start();
  refund_driver refunders{script,
                          {stack.public_url("/v1/orders"), stack.control_url("/control/refunds")},
                          log,
                          refunds,
                          customers_done};
  refunders.start();

  progress_view view{stdout, stdout_is_terminal(), color_wanted(opts)};
  auto sim_client = make_demo_client();
  std::optional<steady::time_point> drain_deadline;
  progress_snapshot snap;
  snap.orders = opts.orders;
  for (;;) {
    snap.elapsed_s = std::chrono::duration<double>(steady::now() - start).count();
    snap.counts = log.counts();
    snap.refunds = refunds.counts();
    snap.sim = fetch_sim_totals(sim_client, stack);
    snap.business_down = faults.business_down;
    snap.paycoord_down = faults.paycoord_down;
    snap.paycoord_starts = faults.paycoord_starts;
    snap.phase = customers_done ? "waiting for the last confirmations and refunds"
                                : "customers arriving, paying, abandoning, asking for refunds";
    out.query_samples.push_back({snap.elapsed_s, snap.sim.queries});
    view.show(snap);
    if (interrupt)
      break;
    if (customers_done) {
      if (!drain_deadline)
        drain_deadline = steady::now() + drain_limit;
      if ((log.paid_unconfirmed().empty() && refunders.settled())
          || steady::now() > *drain_deadline)
        break;
    }
    std::this_thread::sleep_for(tick);
  }
  out.end_ms = now_ms();
  out.interrupted = interrupt;
  snap.phase = interrupt ? "interrupted" : "done";
  view.finish(snap);
  stop = true;
  customers.join();
  fault_thread.join();
  watcher.stop();
  refunders.stop();
  if (!interrupt)
    refunders.read_states();
  // A kept-alive connection would make paysim's graceful stop wait for it.
  sim_client.close_idle_connections();
  std::lock_guard guard{faults.mutex};
  if (!faults.restart_error.empty())
    std::fprintf(stderr, "paydemo: paycoord did not come back: %s\n",
                 faults.restart_error.c_str());
  return out;
}

/// The report document (report.json) from everything collected.
json build_report(const demo_options& opts, const scenario& script, const json& real_schedule,
                  const stack_options& configs, const played_run& played,
                  const fault_state& faults, const std::vector<order_outcome>& outcomes,
                  const std::vector<refund_outcome>& refunds, const json& sim_totals_json,
                  const std::string& run_path) {
  run_facts facts;
  facts.start_ms = played.start_ms;
  facts.end_ms = played.end_ms;
  if (faults.kill_ms != 0)
    facts.kill_ms = faults.kill_ms.load();
  if (faults.restart_ready_ms != 0)
    facts.restart_ready_ms = faults.restart_ready_ms.load();
  facts.outage_from_ms = played.start_ms + script.business_outage.from.count();
  facts.outage_to_ms = played.start_ms + script.business_outage.to.count();
  facts.compression = opts.compression;
  read_real_schedule(real_schedule, facts);
  // The original design's polls run on the clock, not on the demo's start.
  std::mt19937_64 phase_rng{opts.seed ^ 0x9e3779b97f4a7c15ULL};
  auto phase = duration{std::uniform_int_distribution<int64_t>{0, 599'999}(phase_rng)};

  auto doc =
    to_json(reconcile(outcomes, facts, parse_sim_totals(sim_totals_json), phase, refunds));
  auto& run = doc["run"];
  run["orders"] = opts.orders;
  run["seed"] = opts.seed;
  run["lost_pct"] = opts.lost_pct;
  run["refund_pct"] = opts.refund_pct;
  run["crash"] = opts.crash;
  run["run_dir"] = run_path;
  run["started_at"] = format_rfc3339(from_unix_ms(played.start_ms));
  run["arrival_span_s"] = static_cast<double>(script.arrival_span.count()) / 1000.0;
  run["paycoord_starts"] = faults.paycoord_starts.load();
  run["paycoord_schedule"] = configs.paycoord_patch["schedule"];
  run["paysim_time_factor"] = configs.paysim_patch["time_factor"];
  doc["queries"]["busiest_real_minute"] =
    busiest_window(played.query_samples, 60.0 / opts.compression);
  return doc;
}

void print_verdict(bool ok, bool color) {
  auto paint = [&](const char* word, const char* code) {
    return color ? std::string{"\x1b["} + code + "m" + word + "\x1b[0m" : std::string{word};
  };
  if (ok)
    std::printf("\n%s: every order WeChat charged is confirmed at the business server; nothing "
                "unpaid was delivered; every refund is settled and none was lost.\n",
                paint("PASS", "1;32").c_str());
  else
    std::printf("\n%s: an invariant failed (see above).\n", paint("FAIL", "1;31").c_str());
}

} // namespace

int run_demo(const demo_options& opts, const std::atomic<bool>& interrupt) {
  run_dir dir;
  if (auto failed = prepare_run_dir(opts.data_dir, "paydemo-", dir)) {
    std::fprintf(stderr, "paydemo: %s\n", failed->c_str());
    return demo_setup_failed;
  }
  auto script = make_scenario(opts);
  auto example = read_json_file(opts.source_dir + "/config/paycoord.example.json");
  if (!example.is_object()) {
    std::fprintf(stderr, "paydemo: cannot read %s/config/paycoord.example.json (--source-dir)\n",
                 opts.source_dir.c_str());
    return demo_setup_failed;
  }
  auto real_schedule = example.value("schedule", json::object());
  stack_options configs;
  configs.bin_dir = opts.bin_dir;
  configs.source_dir = opts.source_dir;
  configs.run_dir = dir.path;
  configs.paycoord_patch = paycoord_patch(real_schedule, opts);
  configs.paysim_patch = paysim_patch(opts);
  sandbox_stack stack{configs};
  print_plan(opts, script, dir.path);
  if (auto failed = stack.start()) {
    std::fprintf(stderr, "paydemo: cannot start: %s\n", failed->c_str());
    return demo_setup_failed;
  }

  order_log log{script.customers.size()};
  refund_log refunds;
  state_watcher watcher{script, stack.public_url("/v1/orders"), log};
  fault_state faults;
  auto played = play(opts, script, stack, log, refunds, watcher, faults, interrupt);
  if (played.interrupted) {
    stack.stop();
    std::printf("paydemo: interrupted; files in %s\n", dir.path.c_str());
    return demo_interrupted;
  }

  // The final word: paycoord's state of every order not seen CONFIRMED, and
  // paysim's record of everything.
  std::vector<std::size_t> unsettled;
  auto traces = log.snapshot();
  for (std::size_t i = 0; i < traces.size(); ++i)
    if (traces[i].state != "CONFIRMED")
      unsettled.push_back(i);
  watcher.read_states(unsettled, 4);
  auto sim = fetch_sim_report(stack);
  auto doc = build_report(opts, script, real_schedule, configs, played, faults,
                          merge_outcomes(script, log.snapshot(), sim),
                          merge_refund_outcomes(script, refunds.snapshot(), sim), sim.totals,
                          dir.path);
  auto json_file = dir.path + "/report.json";
  auto html_file = dir.path + "/report.html";
  write_text_file(json_file, doc.dump(2) + "\n");
  write_text_file(html_file, render_html(doc));
  auto status = stack.stop();

  bool color = color_wanted(opts);
  bool ok = doc.value("ok", false);
  std::fputs(render_text(doc, color).c_str(), stdout);
  print_verdict(ok, color);
  if (status != 0)
    std::printf("note: paycoord's graceful stop ended with status %d\n", status.value_or(-1));
  std::printf("report: %s\n        %s\n", html_file.c_str(), json_file.c_str());
  if (ok && dir.temporary && !opts.keep) {
    remove_store_and_logs(dir);
    std::printf("(the store and logs were removed; --keep keeps them)\n");
  } else {
    std::printf("store and logs kept in %s\n", dir.path.c_str());
  }
  return ok ? demo_passed : demo_invariant_failed;
}

} // namespace paycoord::demo
