// Group commit in the store actor.

#include <algorithm>
#include <thread>

#include <gtest/gtest.h>

#include "tests/actors/actor_fixture.hpp"
#include "tests/storage/failing_env.hpp"

using namespace paycoord;
using namespace paycoord::testing;

namespace {

write_set one_order(int i) {
  write_set set;
  order_record x;
  x.out_trade_no = "G" + std::to_string(i);
  set.put(x, nullptr);
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
  auto store = sys.spawn<caf::detached>(store_actor, db, std::shared_ptr<metrics>{}, store_actor_options{});
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

namespace {

write_set notified(const std::string& order, const std::string& notification_id, uint64_t seq) {
  write_set set;
  order_record x;
  x.out_trade_no = order;
  x.event_seq = seq;
  set.put(x, nullptr);
  set.events.emplace_back(order, order_event{seq, 1, "notify_event", "{}"});
  set.notifications.emplace_back(notification_id, order);
  return set;
}

} // namespace

// Defect 5: `n/<id>` was written but never read, so each redelivery added a
// synced write and an event.
TEST_F(store_actor_test, a_redelivered_notification_costs_no_write) {
  auto answers = std::make_shared<std::vector<bool>>();
  auto write = [&](write_set set) {
    sys->spawn([store = store, answers, set](caf::event_based_actor* self) {
      self->request(store, caf::infinite, write_atom_v, set)
        .then([=](bool applied) { answers->push_back(applied); }, [](caf::error&) {});
    });
  };
  write(notified("N1", "EV-1", 1));
  run();
  auto after_first = db->stats();
  // Twice more: once alone, once together with a new id in one batch.
  write(notified("N1", "EV-1", 2));
  run();
  write(notified("N1", "EV-1", 2));
  write(notified("N1", "EV-2", 2));
  write(notified("N1", "EV-2", 3)); // the same id twice in one batch
  run();
  ASSERT_EQ(answers->size(), 5u);
  EXPECT_TRUE((*answers)[0]);
  EXPECT_FALSE((*answers)[1]);
  // The last three share a batch and answer in any order: one is new.
  EXPECT_EQ(std::count(answers->begin() + 2, answers->end(), true), 1);
  auto events = db->events("N1");
  ASSERT_TRUE(events);
  EXPECT_EQ(events->size(), 2u) << "one event per distinct notification";
  EXPECT_EQ(db->stats().syncs, after_first.syncs + 1) << "the lone redelivery synced nothing";
}

// Defect 4: after a failed sync LevelDB refuses every write until reopened,
// and paycoord kept saying ready.
TEST(store_actor_disk, a_failed_sync_makes_the_store_unwritable_until_it_reopens) {
  static failing_env env; // outlives the store (LevelDB keeps the Env)
  temp_dir dir;
  store_options opts;
  opts.env = &env;
  auto opened = order_store::open(dir.str(), opts);
  ASSERT_TRUE(opened);
  std::shared_ptr<order_store> db{std::move(*opened)};
  auto m = std::make_shared<paycoord::metrics>();
  caf::actor_system_config cfg;
  register_message_types(cfg);
  cfg.set("scheduler.max-threads", size_t{2});
  caf::actor_system sys{cfg};
  auto store = sys.spawn<caf::detached>(store_actor, db, m, store_actor_options{});
  caf::scoped_actor self{sys};
  auto write = [&](int i) {
    bool ok = false;
    self->request(store, caf::infinite, write_atom_v, one_order(i))
      .receive([&](bool) { ok = true; }, [](caf::error&) {});
    return ok;
  };
  ASSERT_TRUE(write(1));
  EXPECT_TRUE(m->store_writable());
  env.failing_sync = true;
  EXPECT_FALSE(write(2)) << "a failed sync is never acknowledged";
  EXPECT_FALSE(m->store_writable());
  env.failing_sync = false;
  // The store reopens LevelDB on its own (0.5 s, then doubling); until then
  // writes may still fail, never succeed without being durable.
  bool back = false;
  for (int i = 0; i < 100 && !back; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
    back = m->store_writable();
  }
  ASSERT_TRUE(back) << "the store never became writable again";
  EXPECT_TRUE(write(3));
  auto x = db->get_order("G1");
  ASSERT_TRUE(x && x->has_value()) << "what was acknowledged is still there";
  EXPECT_TRUE(db->get_order("G3")->has_value());
  caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
}
