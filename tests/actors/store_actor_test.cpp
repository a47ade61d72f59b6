// Group commit in the store actor.

#include <thread>

#include <gtest/gtest.h>

#include "tests/actors/actor_fixture.hpp"

using namespace paycoord;
using namespace paycoord::testing;

namespace {

write_set one_order(int i) {
  write_set set;
  order_record x;
  x.out_trade_no = "G" + std::to_string(i);
  set.orders.push_back(x);
  set.events.emplace_back(x.out_trade_no, order_event{1, 1, "created", "{}"});
  return set;
}

class store_actor_test : public actor_fixture {};

} // namespace

TEST_F(store_actor_test, writes_that_arrive_together_share_one_sync) {
  constexpr int writers = 64;
  auto answered = std::make_shared<int>(0);
  for (int i = 0; i < writers; ++i)
    sys->spawn([store = store, answered, i](caf::event_based_actor* self) {
      self->request(store, caf::infinite, write_atom_v, one_order(i))
        .then([=](bool) { ++*answered; }, [](caf::error&) {});
    });
  run();
  EXPECT_EQ(*answered, writers);
  auto stats = db->stats();
  EXPECT_EQ(stats.write_sets, static_cast<uint64_t>(writers));
  EXPECT_LT(stats.syncs, static_cast<uint64_t>(writers));
  EXPECT_EQ(stats.syncs, stats.batches);
  for (int i = 0; i < writers; ++i) {
    auto x = db->get_order("G" + std::to_string(i));
    ASSERT_TRUE(x && x->has_value()) << i;
  }
}

// The same with real threads and a detached store actor, as in production.
TEST(store_actor_threads, concurrent_writers_get_fewer_syncs_than_writes) {
  temp_dir dir;
  auto opened = order_store::open(dir.str());
  ASSERT_TRUE(opened);
  std::shared_ptr<order_store> db{std::move(*opened)};
  caf::actor_system_config cfg;
  register_message_types(cfg);
  cfg.set("scheduler.max-threads", size_t{2});
  caf::actor_system sys{cfg};
  auto store = sys.spawn<caf::detached>(store_actor, db, std::shared_ptr<metrics>{});
  constexpr int threads = 8, per_thread = 40;
  std::atomic<int> ok{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      caf::scoped_actor self{sys};
      for (int i = 0; i < per_thread; ++i)
        self->request(store, caf::infinite, write_atom_v,
                      one_order(t * per_thread + i))
          .receive([&](bool) { ++ok; }, [](caf::error&) {});
    });
  for (auto& th : pool)
    th.join();
  EXPECT_EQ(ok.load(), threads * per_thread);
  auto stats = db->stats();
  EXPECT_EQ(stats.write_sets, static_cast<uint64_t>(threads * per_thread));
  EXPECT_LT(stats.syncs, stats.write_sets);
  for (int i = 0; i < threads * per_thread; ++i)
    ASSERT_TRUE(db->get_order("G" + std::to_string(i))->has_value()) << i;
  caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
}
