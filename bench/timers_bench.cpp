// The timers service alone (issue 12's precision target: "timers fire
// within 100 ms of their due time at 5,000 fires a second"): a store filled
// through the storage library with orders falling due uniformly at --rate a
// second for --seconds, the real store actor and timers service on CAF's
// real scheduler, and a sink in place of the registry that notes how late
// each `timer_fired` arrives. What a fire then costs in paycoord (a WeChat
// query: one RSA signature here, one at WeChat) is not in this figure:
// scale_bench measures that end to end.
//
//   bin/timers_bench --data-dir DIR [--rate 5000] [--seconds 30] [--lead 5]
//
// DIR must not hold a store. Prints the fires, their rate and lateness
// percentiles, and the command.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <CLI/CLI.hpp>
#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "actors/store.hpp"
#include "actors/timers.hpp"
#include "bench/scale_fill.hpp"
#include "storage/order_store.hpp"

using namespace paycoord;

namespace {

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

struct sink_state {
  static inline const char* name = "timers_bench_sink";
  std::shared_ptr<const std::unordered_map<std::string, int64_t>> due;
  std::shared_ptr<std::vector<int64_t>> lateness;
  uint64_t unknown = 0;
};

caf::behavior sink(caf::stateful_actor<sink_state>* self,
                   std::shared_ptr<const std::unordered_map<std::string, int64_t>> due,
                   std::shared_ptr<std::vector<int64_t>> lateness) {
  self->state.due = std::move(due);
  self->state.lateness = std::move(lateness);
  return {
    [=](const timer_fired& t) {
      auto& st = self->state;
      auto i = st.due->find(t.out_trade_no);
      if (i == st.due->end()) {
        ++st.unknown;
        return;
      }
      st.lateness->push_back(wall_ms() - i->second);
    },
  };
}

int64_t percentile(std::vector<int64_t> v, double p) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  auto k = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  return v[k];
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"timers_bench: the timers service's precision at a fire rate"};
  std::string data_dir;
  int rate = 5000;
  int seconds = 30;
  int lead = 5;
  app.add_option("--data-dir", data_dir, "a directory that holds no store yet")->required();
  app.add_option("--rate", rate, "fires a second")->check(CLI::Range(1, 1'000'000));
  app.add_option("--seconds", seconds, "how long orders keep falling due")->check(CLI::Range(1, 3600));
  app.add_option("--lead", lead, "seconds from the fill's end to the first due time")
    ->check(CLI::Range(1, 600));
  CLI11_PARSE(app, argc, argv);

  auto orders = static_cast<uint64_t>(rate) * static_cast<uint64_t>(seconds);
  auto due = std::make_shared<std::unordered_map<std::string, int64_t>>();
  due->reserve(orders);
  bench::fill_plan plan;
  plan.data_dir = data_dir;
  plan.orders = orders;
  plan.mchid = "1900000001";
  plan.appid = "wx8888888888888888";
  plan.now_ms = wall_ms();
  plan.spread_ms = static_cast<int64_t>(seconds) * 1000;
  // The fill takes a while: the window starts `lead` seconds after it, so
  // the due times are set after the fill, by shifting a fill made for now.
  plan.first_due_ms = plan.now_ms;
  auto report = bench::fill_store(plan, [&](const std::string& id, int64_t at) { (*due)[id] = at; });
  if (!report) {
    std::fprintf(stderr, "timers_bench: fill failed: %s\n", report.error().c_str());
    return 2;
  }
  // The store's index holds the fill's due times; the bench's clock runs
  // ahead of the wall clock by the fill's own duration less the lead, so
  // the first entry falls due `lead` seconds after the service starts.
  auto started_ms = wall_ms();
  int64_t shift = started_ms - plan.first_due_ms + static_cast<int64_t>(lead) * 1000;
  auto clock = [shift] { return wall_ms() - shift; };
  for (auto& [id, at] : *due)
    at += shift; // in wall-clock terms

  caf::actor_system_config cfg;
  register_message_types(cfg);
  cfg.set("scheduler.max-threads", 2);
  caf::actor_system sys{cfg};
  auto db = order_store::open(data_dir);
  if (!db) {
    std::fprintf(stderr, "timers_bench: open failed: %s\n", db.error().to_string().c_str());
    return 2;
  }
  std::shared_ptr<order_store> store_db{std::move(*db)};
  auto store = sys.spawn<caf::detached>(store_actor, store_db, std::shared_ptr<metrics>{},
                                        store_actor_options{0});
  auto lateness = std::make_shared<std::vector<int64_t>>();
  lateness->reserve(orders);
  auto target = sys.spawn(sink, due, lateness);
  timers_options opts;
  opts.now_ms = clock;
  opts.store = store;
  opts.late_fires_per_s = rate / 2;
  auto timers = sys.spawn(timers_actor, target, opts);
  std::this_thread::sleep_for(std::chrono::seconds{lead + seconds + 3});
  caf::anon_send_exit(timers, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(target, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
  sys.await_all_actors_done();

  auto fired = lateness->size();
  std::printf("timers_bench: %llu orders due at %d/s over %d s (fill %.1f s)\n",
              static_cast<unsigned long long>(orders), rate, seconds, report->seconds);
  std::printf("  fired %zu (%.1f%%), %.0f/s over the window\n", fired,
              100.0 * static_cast<double>(fired) / static_cast<double>(orders),
              static_cast<double>(fired) / seconds);
  std::printf("  lateness ms: p50 %lld  p99 %lld  p99.9 %lld  max %lld  (min %lld)\n",
              static_cast<long long>(percentile(*lateness, 0.5)),
              static_cast<long long>(percentile(*lateness, 0.99)),
              static_cast<long long>(percentile(*lateness, 0.999)),
              static_cast<long long>(percentile(*lateness, 1.0)),
              static_cast<long long>(percentile(*lateness, 0.0)));
  auto within = std::count_if(lateness->begin(), lateness->end(), [](int64_t x) { return x <= 100; });
  std::printf("  within 100 ms: %.2f%%\n",
              fired == 0 ? 0.0 : 100.0 * static_cast<double>(within) / static_cast<double>(fired));
  std::printf("  command: bin/timers_bench --data-dir %s --rate %d --seconds %d --lead %d\n",
              data_dir.c_str(), rate, seconds, lead);
  return 0;
}
