// Fills an order store with pending orders, straight through the storage
// library (no paycoord process), for the scale benchmarks: what does a store
// of ten million open orders cost to open, to hold and to drain?
//
//   build/bin/store_fill --data-dir /work/scale-data/m1 --orders 1000000
//     [--spread 2h] [--overdue 10m] [--seed 1]
//
// Each order is what paycoord writes for a create whose prepay succeeded
// (order_machine::create and on_prepay with the example config's mchid and
// appid and the default schedule), then given one due time: uniform over
// [now - overdue, now - overdue + spread]. `--overdue 10m` is ten minutes of
// downtime: about orders * 10 / 120 of a 2 h spread are overdue at once.
// Creation times are spread too (before now and the due time, open until
// after it), so that the orders' later verify steps do not fall due at one
// instant.
// Batches of a few thousand orders are written unsynced, the last one
// synced.

#include <chrono>
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "bench/scale_fill.hpp"
#include "common/time.hpp"
#include "config/config.hpp"

using namespace paycoord;
using namespace paycoord::bench;

int main(int argc, char** argv) {
  CLI::App app{"store_fill: a store of pending orders for the scale benchmarks"};
  std::string data_dir;
  uint64_t orders = 0;
  std::string spread = "2h";
  std::string overdue = "0";
  uint64_t seed = 1;
  size_t batch = 4096;
  std::string config_file = std::string{PAYCOORD_DEFAULT_SOURCE_DIR}
                            + "/config/paycoord.example.json";
  app.add_option("--data-dir", data_dir, "a new (empty or missing) store directory")->required();
  app.add_option("--orders", orders, "pending orders to write")->required();
  app.add_option("--spread", spread, "due times spread over this long (2h)");
  app.add_option("--overdue", overdue,
                 "the earliest due time lies this long before now (10m: ten minutes of "
                 "downtime; negative: in the future, -20s)");
  app.add_option("--seed", seed, "ids, amounts and due times (same seed, same store)");
  app.add_option("--batch", batch, "orders per LevelDB batch");
  app.add_option("--config", config_file, "mchid and appid come from this paycoord config");
  CLI11_PARSE(app, argc, argv);

  auto spread_ms = parse_signed_duration_ms(spread);
  auto overdue_ms = parse_signed_duration_ms(overdue);
  if (!spread_ms || *spread_ms <= 0 || !overdue_ms) {
    std::cerr << "store_fill: --spread and --overdue take durations (10m, 2h, -20s)\n";
    return 1;
  }
  auto cfg = load_config(config_file, {});
  if (!cfg) {
    std::cerr << "store_fill: config error: " << cfg.error().message() << "\n";
    return 1;
  }
  fill_plan plan;
  plan.data_dir = data_dir;
  plan.orders = orders;
  plan.mchid = cfg->wechatpay.mchid;
  plan.appid = cfg->wechatpay.appid;
  plan.now_ms = to_unix_ms(wall_clock::now());
  plan.first_due_ms = plan.now_ms - *overdue_ms;
  plan.spread_ms = *spread_ms;
  plan.seed = seed;
  plan.batch_orders = batch;
  auto report = fill_store(plan, {}, [&](uint64_t n) {
    std::fprintf(stderr, "store_fill: %s of %s orders\n", with_commas(n).c_str(),
                 with_commas(orders).c_str());
  });
  if (!report) {
    std::cerr << "store_fill: " << report.error() << "\n";
    return 1;
  }
  auto& r = *report;
  auto rel = [&](int64_t ms) { return static_cast<double>(ms - plan.now_ms) / 1000.0; };
  std::printf("store_fill: wrote %s PENDING orders (%s events, %s batches, the last synced) "
              "into %s\n",
              with_commas(r.orders).c_str(), with_commas(r.events).c_str(),
              with_commas(r.batches).c_str(), data_dir.c_str());
  std::printf("  filled at       %s (unix ms %lld), mchid %s, appid %s, default schedule\n",
              format_rfc3339(from_unix_ms(plan.now_ms), 0).c_str(),
              static_cast<long long>(plan.now_ms), plan.mchid.c_str(), plan.appid.c_str());
  std::printf("  due             %+.1f s .. %+.1f s from then (uniform over %s, the first %s "
              "before the fill)\n",
              rel(r.min_due_ms), rel(r.max_due_ms), format_duration(duration{*spread_ms}).c_str(),
              overdue.c_str());
  std::printf("  overdue at fill %s (%.2f%%)\n", with_commas(r.overdue_at_fill).c_str(),
              r.orders ? 100.0 * static_cast<double>(r.overdue_at_fill)
                           / static_cast<double>(r.orders)
                       : 0.0);
  std::printf("  took            %.1f s (%.0f orders/s), close %.1f s\n", r.seconds,
              r.seconds > 0 ? static_cast<double>(r.orders) / r.seconds : 0.0, r.close_seconds);
  std::printf("  on disk         %.1f MiB (%.0f bytes/order)\n",
              static_cast<double>(r.bytes_on_disk) / (1024.0 * 1024.0),
              r.orders ? static_cast<double>(r.bytes_on_disk) / static_cast<double>(r.orders)
                       : 0.0);
  std::printf("  command         %s\n", command_line(argc, argv).c_str());
  return 0;
}
