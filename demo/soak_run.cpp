#include "demo/soak_run.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "common/time.hpp"
#include "demo/customer_driver.hpp"
#include "demo/demo_config.hpp"
#include "demo/demo_run.hpp"
#include "demo/json_call.hpp"
#include "demo/order_log.hpp"
#include "demo/progress_view.hpp"
#include "demo/reconciliation.hpp"
#include "demo/run_dir.hpp"
#include "demo/sandbox_stack.hpp"
#include "demo/scenario.hpp"
#include "demo/sim_report.hpp"
#include "demo/soak_report.hpp"
#include "demo/state_watcher.hpp"
#include "demo/text_format.hpp"

namespace paycoord::demo {

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using header_list = std::vector<std::pair<std::string, std::string>>;

/// Before each kill the store's sync time is measured over this window.
constexpr auto busy_window = 300ms;
/// An aimed kill waits at most this long for a create to be out, looking
/// this often (a create is out for a few milliseconds).
constexpr auto aim_limit = 1s;
constexpr auto aim_poll = 200us;
/// A timer due longer ago than this at the audit (run time; 30 minutes of
/// real time at the default compression) is one that does not fire.
constexpr int64_t timer_lateness_ms = 30'000;
/// An order that fails the timer rule is read again this often, this long
/// apart, before it counts: a timer that fired a moment ago leaves the order
/// unarmed until the actor takes the message.
constexpr int timer_rereads = 3;
constexpr auto timer_reread_pause = 500ms;
constexpr auto line_every = 5.0; // seconds between progress lines
constexpr int audit_threads = 4;
/// Evidence files written for failing orders (the ids are all in soak.json).
constexpr std::size_t max_evidence = 50;

// Faults on top of the demo's (lost, duplicated, reordered and probe-signed
// notifications): the business server flaps and refuses some callbacks, and
// WeChat answers some queries 500.
constexpr double business_error_rate = 0.05;
constexpr double query_error_rate = 0.02;

int64_t now_ms() {
  return to_unix_ms(wall_clock::now());
}

double seconds_between(steady::time_point from, steady::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

/// Sleeps until `until` in short steps; false when `stop` came first.
bool sleep_until(steady::time_point until, const std::atomic<bool>& stop) {
  while (steady::now() < until) {
    if (stop)
      return false;
    std::this_thread::sleep_for(std::min<steady::duration>(50ms, until - steady::now()));
  }
  return !stop;
}

// -- faults --------------------------------------------------------------------

/// The business server's down windows over `span` from paysim's start: up
/// 3–10 s, down 0.5–3 s, drawn from the seed.
json flapping_windows(uint64_t seed, duration span) {
  std::mt19937_64 rng{seed ^ 0x666c6170ULL}; // its own stream: "flap"
  std::uniform_int_distribution<int64_t> up{3'000, 10'000};
  std::uniform_int_distribution<int64_t> down{500, 3'000};
  json windows = json::array();
  for (int64_t t = up(rng); t < span.count(); t += up(rng)) {
    auto end = t + down(rng);
    windows.push_back({format_duration(duration{t}), format_duration(duration{end})});
    t = end;
  }
  return windows;
}

json soak_paysim_patch(const soak_options& opts, duration load_span) {
  auto patch = paysim_patch(opts.run);
  patch.merge_patch({{"faults",
                      {{"business",
                        {{"down", flapping_windows(opts.run.seed, load_span)},
                         {"error_rate", business_error_rate}}},
                       {"wechat", {{"query_error_rate", query_error_rate}}}}}});
  return patch;
}

// -- paycoord's store metrics ------------------------------------------------------

struct store_metrics {
  bool ok = false;
  double sync_seconds = 0;
  int64_t batches = 0;
};

/// The value of the unlabelled sample `name` in Prometheus text; 0 if absent.
double metric_value(const std::string& text, const std::string& name) {
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line))
    if (line.size() > name.size() && line.compare(0, name.size(), name) == 0
        && line[name.size()] == ' ')
      return std::strtod(line.c_str() + name.size() + 1, nullptr);
  return 0;
}

store_metrics scrape_store(net::http_client& client, const sandbox_stack& stack) {
  auto r = client.send({"GET", stack.metrics_url("/metrics"), {}, ""});
  if (!r || r->status != 200)
    return {};
  return {true, metric_value(r->body, "paycoord_store_sync_duration_seconds_sum"),
          static_cast<int64_t>(metric_value(r->body, "paycoord_store_batches_total"))};
}

// -- the kills -----------------------------------------------------------------------

/// What the kill thread did. Thread-safe.
struct kill_log {
  std::atomic<int> restarts{0};
  std::atomic<bool> paycoord_down{false};
  std::atomic<bool> failed{false};
  std::mutex mutex;
  // guarded by mutex
  std::vector<kill_sample> samples;
  std::string restart_error;
};

/// Waits (at most `aim_limit`) until a POST /v1/orders is out; its calls,
/// or none when the wait ran out.
std::vector<create_call> await_create_out(const customer_driver& driver) {
  auto until = steady::now() + aim_limit;
  for (;;) {
    auto out = driver.creates_in_flight();
    if (!out.empty() || steady::now() >= until)
      return out;
    std::this_thread::sleep_for(aim_poll);
  }
}

std::string read_text_file(const std::string& file) {
  std::ifstream in{file};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// Kills paycoord after a seeded uptime, restarts it over the same store
/// and waits for /readyz, until `stop`. Half the kills (a seeded coin) are
/// aimed at the next create out. Sampled just before each kill: the creates
/// out and the store's recent sync time; just after the restart: what
/// LevelDB's open recovered.
void play_kills(const soak_options& opts, sandbox_stack& stack, const customer_driver& driver,
                steady::time_point start, const std::atomic<bool>& stop, kill_log& kills) {
  std::mt19937_64 rng{opts.run.seed ^ 0x6b696c6cULL}; // its own stream: "kill"
  std::uniform_real_distribution<double> uptime_s{opts.kill_gap_min_s, opts.kill_gap_max_s};
  std::bernoulli_distribution aimed{0.5};
  auto client = make_demo_client();
  auto ready_at = steady::now();
  for (;;) {
    auto kill_at = ready_at + std::chrono::duration_cast<steady::duration>(
                                std::chrono::duration<double>(uptime_s(rng)));
    kill_sample k;
    k.aimed = aimed(rng);
    if (!sleep_until(kill_at - busy_window, stop))
      return;
    auto before = scrape_store(client, stack);
    auto before_at = steady::now();
    if (!sleep_until(kill_at, stop))
      return;
    auto last = scrape_store(client, stack);
    auto last_at = steady::now();
    k.creates_out = k.aimed ? await_create_out(driver) : driver.creates_in_flight();
    auto killed_at = steady::now();
    k.at_s = seconds_between(start, killed_at);
    k.uptime_s = seconds_between(ready_at, killed_at);
    if (before.ok && last.ok && last_at > before_at) {
      k.store_busy_share = std::clamp(
        (last.sync_seconds - before.sync_seconds) / seconds_between(before_at, last_at), 0.0, 1.0);
      k.store_batches = last.batches;
    }
    kills.paycoord_down = true;
    auto failed = stack.kill_and_restart_paycoord();
    ready_at = steady::now();
    k.downtime_ms = seconds_between(killed_at, ready_at) * 1000.0;
    // LevelDB rewrites data/LOG at every open: read it before the next.
    k.recovery = parse_recovery("", read_text_file(stack.data_dir() + "/LOG"));
    {
      std::lock_guard guard{kills.mutex};
      kills.samples.push_back(std::move(k));
      if (failed)
        kills.restart_error = *failed;
    }
    kills.restarts = stack.paycoord_starts() - 1;
    if (failed) {
      kills.failed = true;
      return;
    }
    kills.paycoord_down = false;
  }
}

// -- the run -------------------------------------------------------------------------

struct played_run {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  double load_s = 0;
  double drain_s = 0;
  bool interrupted = false;
  /// Every paid order was seen CONFIRMED before the drain limit.
  bool drained = false;
};

/// Customers, kills and the watcher on their threads, a progress line every
/// few seconds on this one; after the load a drain without kills until
/// every paid order was seen CONFIRMED (or the limit).
played_run play(const soak_options& opts, const scenario& script, sandbox_stack& stack,
                order_log& log, state_watcher& watcher, kill_log& kills,
                const std::atomic<bool>& interrupt) {
  played_run out;
  std::atomic<bool> stop{false};
  std::atomic<bool> stop_kills{false};
  std::atomic<bool> customers_done{false};
  auto start = steady::now();
  out.start_ms = now_ms();
  customer_driver driver{script,
                         {stack.public_url("/v1/orders"), stack.control_url("/control/orders")},
                         log,
                         opts.run.clients,
                         start,
                         stop};
  std::thread customers{[&] {
    driver.run();
    customers_done = true;
  }};
  std::thread killer{[&] { play_kills(opts, stack, driver, start, stop_kills, kills); }};
  watcher.start();

  auto sim_client = make_demo_client();
  std::optional<steady::time_point> drain_from;
  double last_line_s = -line_every;
  progress_snapshot snap;
  snap.orders = static_cast<int>(script.customers.size());
  for (;;) {
    auto now = steady::now();
    snap.elapsed_s = seconds_between(start, now);
    if (customers_done && !drain_from) {
      // The load is over: the last kill's restart finishes, then no more.
      stop_kills = true;
      killer.join();
      drain_from = steady::now();
      out.load_s = seconds_between(start, *drain_from);
    }
    bool drained = drain_from && log.paid_unconfirmed().empty();
    bool out_of_time =
      drain_from && seconds_between(*drain_from, steady::now()) > opts.drain_limit_s;
    if (snap.elapsed_s - last_line_s >= line_every || drained || out_of_time || interrupt
        || kills.failed) {
      last_line_s = snap.elapsed_s;
      snap.counts = log.counts();
      snap.sim = fetch_sim_totals(sim_client, stack);
      snap.paycoord_down = kills.paycoord_down;
      snap.phase = format_text("%s, %d restarts", drain_from ? "drain" : "load",
                               kills.restarts.load());
      std::printf("%s\n", render_line(snap).c_str());
      std::fflush(stdout);
    }
    if (interrupt || kills.failed || drained || out_of_time) {
      out.drained = drained;
      break;
    }
    std::this_thread::sleep_for(250ms);
  }
  out.interrupted = interrupt;
  out.end_ms = now_ms();
  stop = true;
  stop_kills = true;
  customers.join();
  if (killer.joinable())
    killer.join();
  if (drain_from)
    out.drain_s = seconds_between(*drain_from, steady::now());
  else
    out.load_s = seconds_between(start, steady::now());
  watcher.stop();
  // A kept-alive connection would make paysim's graceful stop wait for it.
  sim_client.close_idle_connections();
  return out;
}

// -- the audit -----------------------------------------------------------------------

header_list admin_headers(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

int64_t time_ms_or_zero(const json& v) {
  if (!v.is_string())
    return 0;
  auto at = parse_rfc3339(v.get<std::string>());
  return at ? to_unix_ms(*at) : 0;
}

/// Every page of the admin listing into `stored`; returns the pages that
/// failed (the listing stops at the first).
int64_t list_all_orders(const sandbox_stack& stack, const std::string& token,
                        std::map<std::string, stored_order>& stored) {
  auto client = make_demo_client();
  std::string after;
  for (int page = 0; page < 100'000; ++page) {
    auto r = call_json(client, "GET",
                       stack.admin_url("/admin/api/orders?limit=500"
                                       + (after.empty() ? "" : "&after=" + after)),
                       nullptr, admin_headers(token));
    if (r.status != 200 || !r.body.is_object()) {
      std::fprintf(stderr, "paysoak: the admin listing after '%s' answered %d\n", after.c_str(),
                   r.status);
      return 1;
    }
    for (auto& x : r.body.value("orders", json::array())) {
      auto& s = stored[x.value("out_trade_no", "")];
      s.listed = true;
      s.state = x.value("state", "");
    }
    auto next = r.body.value("next", json{});
    if (!next.is_string())
      break;
    after = next.get<std::string>();
  }
  return 0;
}

/// `GET /admin/api/orders/{id}` into `out`; the answer's body, as read.
json read_detail(net::http_client& client, const sandbox_stack& stack, const std::string& token,
                 const std::string& id, stored_order& out) {
  auto r = call_json(client, "GET", stack.admin_url("/admin/api/orders/" + id), nullptr,
                     admin_headers(token));
  out.detail_status = r.status;
  if (r.status != 200)
    return r.body;
  if (!r.body.is_object() || !r.body.value("record", json{}).is_object()) {
    out.detail_status = 0; // a 200 without a readable record is no answer
    return r.body;
  }
  const auto& record = r.body["record"];
  out.state = record.value("state", "");
  out.amount_total = record.value("amount_total", int64_t{0});
  auto events = r.body.value("events", json::array());
  auto total = r.body.value("events_total", uint64_t{0});
  bool truncated = r.body.value("events_truncated", false);
  // The newest events, contiguous up to the record's last sequence number.
  uint64_t seq = truncated ? total - events.size() + 1 : 1;
  bool complete = total > 0 && (truncated || events.size() == total);
  for (auto& e : events)
    complete = complete && e.value("seq", uint64_t{0}) == seq++;
  out.events_complete = complete;
  auto actor = r.body.value("actor", json::object());
  out.actor_alive = actor.value("alive", false);
  out.passivated = actor.value("passivated", false);
  out.in_flight = actor.value("in_flight", false);
  auto action = actor.value("next_action", json{});
  out.next_action = action.is_string() ? action.get<std::string>() : "";
  out.next_due_ms = time_ms_or_zero(actor.value("next_due", json{}));
  return r.body;
}

/// Reads the detail of every id in `ids` (each already a key of `stored`)
/// from a few threads at once.
void read_details(const sandbox_stack& stack, const std::string& token,
                  const std::vector<std::string>& ids,
                  std::map<std::string, stored_order>& stored) {
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < audit_threads; ++t)
    readers.emplace_back([&] {
      auto client = make_demo_client();
      // Each thread writes only the entries it took; the map's shape is fixed.
      for (auto i = next.fetch_add(1); i < ids.size(); i = next.fetch_add(1))
        read_detail(client, stack, token, ids[i], stored.at(ids[i]));
    });
  for (auto& r : readers)
    r.join();
}

bool fails_timer_rule(const stored_order& x, int64_t at_ms) {
  if (x.detail_status != 200 || (x.state != "PENDING" && x.state != "PAID"))
    return false;
  return timer_of(x, at_ms, timer_lateness_ms) != timer_status::armed;
}

struct audit_result {
  store_audit audit;
  std::map<std::string, stored_order> stored;
};

/// What paycoord's store holds against what it must hold, through the admin
/// API, after the drain.
audit_result audit(const sandbox_stack& stack, const std::string& token, const scenario& script,
                   const std::vector<order_trace>& traces, const sim_report& sim) {
  audit_result out;
  auto listing_errors = list_all_orders(stack, token, out.stored);
  std::vector<expected_order> expected;
  for (std::size_t i = 0; i < script.customers.size(); ++i)
    if (traces[i].created_ms != 0)
      expected.push_back({script.customers[i].out_trade_no, script.customers[i].amount});
  std::map<std::string, bool> is_expected;
  for (auto& e : expected)
    is_expected[e.out_trade_no] = true;
  // A prepay at WeChat comes after the order's synced write.
  for (auto& [id, row] : sim.rows)
    if (!id.empty() && !is_expected.count(id) && row.value("known_to_wechat", false)) {
      auto amount = row.value("amount", json{});
      expected.push_back({id, amount.is_number_integer() ? amount.get<int64_t>() : 0});
    }
  for (auto& e : expected)
    out.stored[e.out_trade_no]; // read its detail even when the listing missed it
  std::vector<std::string> ids;
  for (auto& [id, x] : out.stored)
    ids.push_back(id);
  read_details(stack, token, ids, out.stored);

  for (int reread = 0; reread < timer_rereads; ++reread) {
    std::vector<std::string> again;
    auto at = now_ms();
    for (auto& [id, x] : out.stored)
      if (fails_timer_rule(x, at))
        again.push_back(id);
    if (again.empty())
      break;
    std::this_thread::sleep_for(timer_reread_pause);
    read_details(stack, token, again, out.stored);
  }

  auto client = make_demo_client();
  auto summary = call_json(client, "GET", stack.admin_url("/admin/api/summary"), nullptr,
                           admin_headers(token));
  // No summary is an unreadable store as far as anyone can tell.
  int64_t unreadable = summary.status == 200 && summary.body.is_object()
                         ? summary.body.value("unreadable_records", int64_t{0})
                         : 1;
  out.audit = audit_store(expected, out.stored, listing_errors, unreadable, now_ms(),
                          timer_lateness_ms);
  return out;
}

// -- evidence and the report ---------------------------------------------------------

/// The ids of paid orders not confirmed and delivered, and of unpaid ones
/// delivered or marked paid.
std::vector<std::string> reconciliation_failures(const std::vector<order_outcome>& outcomes) {
  std::vector<std::string> ids;
  for (auto& o : outcomes) {
    bool charged = o.wechat_state == "SUCCESS" || o.wechat_state == "REFUND";
    bool delivered = o.deliveries > 0 && o.first_delivery_ms != 0;
    bool paycoord_paid = o.paycoord_state == "PAID" || o.paycoord_state == "CONFIRMED";
    if (charged ? !(delivered && o.paycoord_state == "CONFIRMED")
                : (o.deliveries > 0 || paycoord_paid))
      ids.push_back(o.out_trade_no);
  }
  return ids;
}

/// One file per failing order in `<run>/evidence/`: the admin API's detail
/// (record, events, actor), paysim's row and what the customer saw.
void write_evidence(const sandbox_stack& stack, const std::string& token, const std::string& dir,
                    const std::vector<std::string>& ids, const sim_report& sim,
                    const scenario& script, const std::vector<order_trace>& traces) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  auto client = make_demo_client();
  for (std::size_t n = 0; n < ids.size() && n < max_evidence; ++n) {
    const auto& id = ids[n];
    stored_order ignored;
    json doc{{"out_trade_no", id},
             {"admin_detail", read_detail(client, stack, token, id, ignored)},
             {"admin_detail_status", ignored.detail_status}};
    if (auto row = sim.rows.find(id); row != sim.rows.end())
      doc["paysim"] = row->second;
    for (std::size_t i = 0; i < script.customers.size(); ++i)
      if (script.customers[i].out_trade_no == id) {
        const auto& t = traces[i];
        doc["customer"] = {{"pays", script.customers[i].pays},
                           {"amount", script.customers[i].amount},
                           {"notification_lost", script.customers[i].notification_lost},
                           {"created_ms", t.created_ms},
                           {"create_attempts", t.create_attempts},
                           {"create_status", t.create_status},
                           {"create_failed", t.create_failed},
                           {"paid_ms", t.paid_ms},
                           {"last_state_seen", t.state}};
      }
    write_text_file(dir + "/" + id + ".json", doc.dump(2) + "\n");
  }
}

json faults_json(const json& totals) {
  return {{"notifications_lost", json_int(totals, "notifications", "dropped")},
          {"notifications_duplicated", json_int(totals, "notifications", "duplicated")},
          {"notification_probes", json_int(totals, "notifications", "probes")},
          {"notify_attempts", json_int(totals, "notifications", "attempts")},
          {"business_down_rejections", json_int(totals, "business", "down_rejections")},
          {"business_errors", json_int(totals, "business", "error_rejections")},
          {"query_errors", json_int(totals, "wechat", "query_errors")},
          {"queries", json_int(totals, "wechat", "queries")}};
}

void print_plan(const soak_options& opts, const scenario& script, const json& windows,
                const std::string& dir) {
  std::printf("paysoak: %.1f min of load, %zu customers at %.0f/s (seed %llu), %.0f%% of "
              "notifications lost, 10%% duplicated, 3%% probe-signed; business server down "
              "%zu times, %.0f%% of callbacks answered 500, %.0f%% of queries 500\n",
              opts.minutes, script.customers.size(), opts.rate,
              static_cast<unsigned long long>(opts.run.seed), opts.run.lost_pct, windows.size(),
              business_error_rate * 100, query_error_rate * 100);
  std::printf("paysoak: paycoord killed with SIGKILL after %.1f-%.1f s of uptime (uniform, "
              "seeded), restarted over the same store; then a drain of at most %.0f s; every "
              "schedule compressed %dx; run directory %s\n",
              opts.kill_gap_min_s, opts.kill_gap_max_s, opts.drain_limit_s, opts.run.compression,
              dir.c_str());
  std::fflush(stdout);
}

} // namespace

int run_soak(const soak_options& opts, const std::atomic<bool>& interrupt) {
  auto wall_start = steady::now();
  run_dir dir;
  if (auto failed = prepare_run_dir(opts.run.data_dir, "paysoak-", dir)) {
    std::fprintf(stderr, "paysoak: %s\n", failed->c_str());
    return demo_setup_failed;
  }
  auto customers = opts.run;
  customers.arrival_rate = opts.rate;
  customers.orders = std::max(1, static_cast<int>(std::lround(opts.rate * opts.minutes * 60)));
  customers.crash = false; // the soak kills on its own clock
  customers.refund_pct = 0; // the soak audits payments; refunds are paydemo's
  auto script = make_scenario(customers);
  auto example = read_json_file(opts.run.source_dir + "/config/paycoord.example.json");
  if (!example.is_object()) {
    std::fprintf(stderr, "paysoak: cannot read %s/config/paycoord.example.json (--source-dir)\n",
                 opts.run.source_dir.c_str());
    return demo_setup_failed;
  }
  stack_options configs;
  configs.bin_dir = opts.run.bin_dir;
  configs.source_dir = opts.run.source_dir;
  configs.run_dir = dir.path;
  configs.paycoord_patch = paycoord_patch(example.value("schedule", json::object()), customers);
  configs.paysim_patch = soak_paysim_patch(opts, script.arrival_span);
  auto token = example.value("admin", json::object()).value("token", "");
  sandbox_stack stack{configs};
  print_plan(opts, script, configs.paysim_patch["faults"]["business"]["down"], dir.path);
  if (auto failed = stack.start()) {
    std::fprintf(stderr, "paysoak: cannot start: %s\n", failed->c_str());
    return demo_setup_failed;
  }

  order_log log{script.customers.size()};
  state_watcher watcher{script, stack.public_url("/v1/orders"), log};
  kill_log kills;
  auto played = play(opts, script, stack, log, watcher, kills, interrupt);
  if (played.interrupted) {
    stack.stop();
    std::printf("paysoak: interrupted; files in %s\n", dir.path.c_str());
    return demo_interrupted;
  }
  if (kills.failed) {
    std::lock_guard guard{kills.mutex};
    std::printf("\nFAIL: paycoord did not come back after kill -9 number %zu: %s\nstore and logs "
                "kept in %s\n",
                kills.samples.size(), kills.restart_error.c_str(), dir.path.c_str());
    stack.stop();
    return demo_invariant_failed;
  }
  if (!played.drained)
    std::printf("paysoak: the drain ended after %.0f s with paid orders not yet seen CONFIRMED\n",
                played.drain_s);

  // The final word: paycoord's state of every order not seen CONFIRMED,
  // paysim's record of everything, and the store read back.
  std::vector<std::size_t> unsettled;
  auto traces = log.snapshot();
  for (std::size_t i = 0; i < traces.size(); ++i)
    if (traces[i].state != "CONFIRMED")
      unsettled.push_back(i);
  watcher.read_states(unsettled, audit_threads);
  traces = log.snapshot();
  auto sim = fetch_sim_report(stack);
  auto outcomes = merge_outcomes(script, traces, sim);
  run_facts facts;
  facts.start_ms = played.start_ms;
  facts.end_ms = played.end_ms;
  facts.compression = opts.run.compression;
  auto reconciled = reconcile(outcomes, facts, parse_sim_totals(sim.totals), duration{0});
  std::printf("paysoak: auditing the store through the admin API (%zu orders)\n", sim.rows.size());
  std::fflush(stdout);
  auto audited = audit(stack, token, script, traces, sim);
  // Evidence while paycoord still runs: the admin API's view of each failure.
  auto failing = reconciliation_failures(outcomes);
  for (auto& id : audited.audit.failing)
    if (std::find(failing.begin(), failing.end(), id) == failing.end())
      failing.push_back(id);
  if (!failing.empty())
    write_evidence(stack, token, dir.path + "/evidence", failing, sim, script, traces);
  auto final_metrics = [&] {
    auto client = make_demo_client();
    return scrape_store(client, stack);
  }();

  auto status = stack.stop();
  kill_summary kill_counts;
  {
    std::lock_guard guard{kills.mutex};
    // Sample i was followed by start i + 2; its log is complete now.
    for (std::size_t i = 0; i < kills.samples.size(); ++i) {
      auto scan = parse_recovery(read_text_file(stack.paycoord_log(static_cast<int>(i) + 2)), "");
      auto& r = kills.samples[i].recovery;
      r.audited = scan.audited;
      r.active = scan.active;
      r.unreadable = scan.unreadable;
    }
    kill_counts = summarize_kills(kills.samples, traces);
  }
  auto invariants = soak_invariants(reconciled, audited.audit, kill_counts);
  bool ok = std::all_of(invariants.begin(), invariants.end(),
                        [](const invariant_check& c) { return c.ok(); });

  json checks = json::array();
  for (auto& c : invariants)
    checks.push_back({{"name", c.name},
                      {"description", c.description},
                      {"value", c.value},
                      {"expected", c.expected},
                      {"ok", c.ok()}});
  json doc{
    {"ok", ok},
    {"invariants", checks},
    {"run",
     {{"minutes", opts.minutes},
      {"rate", opts.rate},
      {"seed", opts.run.seed},
      {"lost_pct", opts.run.lost_pct},
      {"compression", opts.run.compression},
      {"kill_gap_s", {opts.kill_gap_min_s, opts.kill_gap_max_s}},
      {"started_at", format_rfc3339(from_unix_ms(played.start_ms))},
      {"run_dir", dir.path},
      {"load_s", played.load_s},
      {"drain_s", played.drain_s},
      {"drained", played.drained},
      {"paycoord_starts", stack.paycoord_starts()},
      {"last_process_store_batches", final_metrics.batches}}},
    {"kills", to_json(kill_counts)},
    {"counts",
     {{"orders", reconciled.orders},
      {"created", reconciled.created},
      {"paid_at_wechat", reconciled.paid_at_wechat},
      {"confirmed_at_business", reconciled.confirmed_at_business},
      {"confirmed_at_paycoord", reconciled.confirmed_at_paycoord},
      {"unpaid", reconciled.unpaid},
      {"closed", reconciled.closed},
      {"deliveries", reconciled.deliveries},
      {"distinct_keys", reconciled.sim.distinct_keys}}},
    {"faults", faults_json(sim.totals)},
    {"store", to_json(audited.audit)},
    {"failing_orders", failing},
  };
  doc["run"]["wall_s"] = seconds_between(wall_start, steady::now());
  write_text_file(dir.path + "/soak.json", doc.dump(2) + "\n");

  std::fputs(render_soak_text(doc).c_str(), stdout);
  if (ok) {
    std::printf("\nPASS: %lld kill -9 restarts; every paid order CONFIRMED and delivered, nothing "
                "unpaid delivered, every record read back, every open order armed.\n",
                static_cast<long long>(kill_counts.kills));
  } else {
    std::printf("\nFAIL: an invariant failed (above); %zu orders behind it", failing.size());
    for (std::size_t i = 0; i < failing.size() && i < 10; ++i)
      std::printf("%s %s", i == 0 ? ":" : ",", failing[i].c_str());
    std::printf("\nevidence: %s/evidence/\n", dir.path.c_str());
  }
  if (status != 0)
    std::printf("note: paycoord's graceful stop ended with status %d\n", status.value_or(-1));
  std::printf("report: %s/soak.json\n", dir.path.c_str());
  if (ok && dir.temporary && !opts.run.keep) {
    remove_store_and_logs(dir);
    std::printf("(the store and logs were removed; --keep keeps them)\n");
  } else {
    std::printf("store and logs kept in %s\n", dir.path.c_str());
  }
  return ok ? demo_passed : demo_invariant_failed;
}

} // namespace paycoord::demo
