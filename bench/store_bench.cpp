// The store against the disk's physical limit: one synced LevelDB batch
// costs one fsync, so a store that synced every write alone could do no
// more writes a second than the disk does fsyncs. Group commit lets the
// writers that arrive together share one.
//
//   build/bin/store_bench [--benchmark_filter=...]
//
// raw_fsync:        fdatasync of a 1 KiB append: the disk's own limit
// synced_commit:    order_store::commit of one write set, sync = true
// group_commit/N:   N order-actor-like writers through the detached store
//                   actor, each waiting for its answer before its next write

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include <benchmark/benchmark.h>
#include <caf/all.hpp>
#include <fcntl.h>
#include <unistd.h>

#include "actors/messages.hpp"
#include "actors/store.hpp"
#include "storage/order_store.hpp"

using namespace paycoord;

namespace {

namespace fs = std::filesystem;

/// A fresh folder under the build's working directory (the disk under test,
/// not a tmpfs /tmp), removed at the end.
struct bench_dir {
  bench_dir() {
    path = (fs::current_path() / ("store_bench." + std::to_string(::getpid()) + "."
                                  + std::to_string(counter++)))
             .string();
    fs::create_directories(path);
  }
  ~bench_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string path;
  static inline int counter = 0;
};

write_set one_order(int writer, int n) {
  write_set set;
  order_record x;
  x.out_trade_no = "B" + std::to_string(writer) + "_" + std::to_string(n);
  x.description = "Monthly plan";
  x.amount_total = 100;
  x.payer_openid = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";
  set.put(x, nullptr);
  set.events.emplace_back(x.out_trade_no, order_event{1, 1, "created", R"({"amount_total":100})"});
  return set;
}

void raw_fsync(benchmark::State& state) {
  bench_dir dir;
  auto file = dir.path + "/log";
  int fd = ::open(file.c_str(), O_CREAT | O_WRONLY | O_APPEND, 0600);
  std::string block(1024, 'x');
  for (auto _ : state) {
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())
        || ::fdatasync(fd) != 0)
      state.SkipWithError("write/fdatasync failed");
  }
  ::close(fd);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(raw_fsync)->UseRealTime();

void synced_commit(benchmark::State& state) {
  bench_dir dir;
  auto db = order_store::open(dir.path);
  if (!db) {
    state.SkipWithError("cannot open the store");
    return;
  }
  int n = 0;
  for (auto _ : state) {
    auto set = one_order(0, n++);
    if (!(*db)->commit(set, true))
      state.SkipWithError("commit failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(synced_commit)->UseRealTime();

/// Like an order actor: one write in flight, the next after its sync. (No
/// self-referencing continuation: it would keep the store actor alive.)
void write_next(caf::event_based_actor* self, caf::actor store, int writer, int n, int count,
                std::atomic<int>* done) {
  if (n == count) {
    ++*done;
    return;
  }
  self->request(store, caf::infinite, write_atom_v, one_order(writer, n))
    .then([=](bool) { write_next(self, store, writer, n + 1, count, done); },
          [](caf::error&) {});
}

void group_commit(benchmark::State& state) {
  const int writers = static_cast<int>(state.range(0));
  const int per_writer = std::max(2000 / writers, 20);
  for (auto _ : state) {
    state.PauseTiming();
    bench_dir dir;
    auto opened = order_store::open(dir.path);
    if (!opened) {
      state.SkipWithError("cannot open the store");
      return;
    }
    std::shared_ptr<order_store> db{std::move(*opened)};
    caf::actor_system_config cfg;
    register_message_types(cfg);
    {
      caf::actor_system sys{cfg};
      auto store = sys.spawn<caf::detached>(store_actor, db, std::shared_ptr<metrics>{}, store_actor_options{});
      std::atomic<int> done{0};
      state.ResumeTiming();
      auto started = std::chrono::steady_clock::now();
      for (int w = 0; w < writers; ++w)
        sys.spawn([=, &done](caf::event_based_actor* self) {
          write_next(self, store, w, 0, per_writer, &done);
        });
      while (done.load() < writers)
        std::this_thread::sleep_for(std::chrono::microseconds{200});
      auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
                       .count();
      state.PauseTiming();
      auto stats = db->stats();
      state.counters["writes_per_s"] = static_cast<double>(stats.write_sets) / seconds;
      state.counters["syncs_per_s"] = static_cast<double>(stats.syncs) / seconds;
      state.counters["writes_per_sync"]
        = static_cast<double>(stats.write_sets) / static_cast<double>(stats.syncs);
      caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
    }
    state.ResumeTiming();
  }
}
BENCHMARK(group_commit)->Arg(1)->Arg(8)->Arg(64)->Arg(512)->Iterations(1)->UseRealTime()
  ->Unit(benchmark::kMillisecond);

} // namespace

BENCHMARK_MAIN();
