#include "storage/order_store.hpp"

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "tests/temp_dir.hpp"

using namespace paycoord;
using paycoord::testing::temp_dir;

namespace {

order_record make_order(std::string id, order_state state = order_state::pending) {
  order_record x;
  x.out_trade_no = std::move(id);
  x.state = state;
  x.description = "Monthly plan";
  x.amount_total = 100;
  x.payer_openid = "o-abc";
  x.created_at_ms = 1'795'658'400'000;
  x.updated_at_ms = x.created_at_ms;
  x.expire_at_ms = x.created_at_ms + 7'200'000;
  x.action = next_action::verify;
  x.next_due_ms = x.created_at_ms + 5000;
  return x;
}

std::unique_ptr<order_store> open_store(const temp_dir& dir) {
  auto store = order_store::open(dir.str());
  EXPECT_TRUE(store) << store.error().to_string();
  return std::move(*store);
}

} // namespace

TEST(order_store, round_trips_every_field_of_a_record) {
  temp_dir dir;
  auto store = open_store(dir);
  auto x = make_order("A2026112600001", order_state::paid);
  x.attach = "room 7";
  x.prepay_id = "wx26";
  x.transaction_id = "4200";
  x.payer_total = 90;
  x.paid_at_ms = 42;
  x.via = paid_via::query;
  x.late = true;
  x.verify_step = 3;
  x.stuck = true;
  x.parked_reason = "why";
  x.event_seq = 9;
  write_set set;
  set.orders.push_back(x);
  ASSERT_TRUE(store->commit(set));
  auto got = store->get_order("A2026112600001");
  ASSERT_TRUE(got);
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, x);
  auto missing = store->get_order("NOPE");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());
}

TEST(order_store, keeps_events_in_seq_order_per_order) {
  temp_dir dir;
  auto store = open_store(dir);
  write_set set;
  // Written out of order and interleaved with a neighbour whose id is a
  // prefix ("A1" vs "A10"): the scan must not mix them.
  for (uint64_t seq : {3, 1, 12, 2})
    set.events.emplace_back("A1", order_event{seq, 10, "query", "{}"});
  set.events.emplace_back("A10", order_event{1, 10, "created", "{}"});
  ASSERT_TRUE(store->commit(set));
  auto events = store->events("A1");
  ASSERT_TRUE(events);
  std::vector<uint64_t> seqs;
  for (auto& e : *events)
    seqs.push_back(e.seq);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{1, 2, 3, 12}));
  auto after = store->events("A1", 2, 1);
  ASSERT_TRUE(after);
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ(after->front().seq, 3u);
}

TEST(order_store, pages_through_orders_in_key_order_with_a_state_filter) {
  temp_dir dir;
  auto store = open_store(dir);
  write_set set;
  for (int i = 0; i < 25; ++i) {
    char id[16];
    std::snprintf(id, sizeof(id), "ORD%03d", i);
    set.orders.push_back(make_order(id, i % 5 == 0 ? order_state::confirmed
                                                   : order_state::pending));
  }
  ASSERT_TRUE(store->commit(set));
  std::vector<std::string> seen;
  std::string after;
  int pages = 0;
  do {
    auto page = store->scan_orders(after, 10);
    ASSERT_TRUE(page);
    for (auto& x : page->orders)
      seen.push_back(x.out_trade_no);
    after = page->next;
    ++pages;
  } while (!after.empty());
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 25u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  // Filtered: 5 confirmed orders; bounded examination yields short pages
  // with a cursor rather than an unbounded scan.
  std::vector<std::string> confirmed;
  after.clear();
  do {
    auto page = store->scan_orders(after, 10, order_filter{order_state::confirmed}, 7);
    ASSERT_TRUE(page);
    for (auto& x : page->orders) {
      EXPECT_EQ(x.state, order_state::confirmed);
      confirmed.push_back(x.out_trade_no);
    }
    after = page->next;
  } while (!after.empty());
  EXPECT_EQ(confirmed, (std::vector<std::string>{"ORD000", "ORD005", "ORD010",
                                                 "ORD015", "ORD020"}));
}

TEST(order_store, remembers_processed_notification_ids) {
  temp_dir dir;
  auto store = open_store(dir);
  write_set set;
  set.notifications.emplace_back("EV-1", "A1");
  ASSERT_TRUE(store->commit(set));
  auto hit = store->find_notification("EV-1");
  ASSERT_TRUE(hit && hit->has_value());
  EXPECT_EQ(**hit, "A1");
  auto miss = store->find_notification("EV-2");
  ASSERT_TRUE(miss);
  EXPECT_FALSE(miss->has_value());
}

TEST(order_store, corrupt_and_unknown_version_records_are_errors_naming_the_key) {
  temp_dir dir;
  auto store = open_store(dir);
  ASSERT_TRUE(store->put_raw("o/BROKEN", "\x01\x02not json"));
  ASSERT_TRUE(store->put_raw("o/FUTURE", R"({"v":99,"out_trade_no":"FUTURE"})"));
  ASSERT_TRUE(store->put_raw("o/WRONGTYPE",
                             R"({"v":1,"out_trade_no":"W","amount_total":"lots"})"));
  auto broken = store->get_order("BROKEN");
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().code, store_errc::corrupt);
  EXPECT_EQ(broken.error().key, "o/BROKEN");
  auto future = store->get_order("FUTURE");
  ASSERT_FALSE(future);
  EXPECT_EQ(future.error().code, store_errc::unknown_version);
  EXPECT_NE(future.error().to_string().find("o/FUTURE"), std::string::npos);
  auto wrong = store->get_order("WRONGTYPE");
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("amount_total"), std::string::npos);
  // Recovery skips them by key and still sees the good ones.
  write_set set;
  set.orders.push_back(make_order("GOOD"));
  ASSERT_TRUE(store->commit(set));
  std::vector<std::string> good, bad;
  store->for_each_order([&](const order_record& x) { good.push_back(x.out_trade_no); },
                        [&](const store_error& e) { bad.push_back(e.key); });
  EXPECT_EQ(good, std::vector<std::string>{"GOOD"});
  EXPECT_EQ(bad, (std::vector<std::string>{"o/BROKEN", "o/FUTURE", "o/WRONGTYPE"}));
}

TEST(order_store, refuses_a_store_of_another_schema_version) {
  temp_dir dir;
  {
    auto store = open_store(dir);
    ASSERT_TRUE(store->put_raw("m/schema", "7"));
  }
  auto again = order_store::open(dir.str());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, store_errc::unknown_version);
  EXPECT_EQ(again.error().key, "m/schema");
}

TEST(order_store, counts_batches_and_syncs) {
  temp_dir dir;
  auto store = open_store(dir);
  write_set a, b;
  a.orders.push_back(make_order("A"));
  b.orders.push_back(make_order("B"));
  ASSERT_TRUE(store->commit({&a, &b}, true));
  auto s = store->stats();
  EXPECT_EQ(s.write_sets, 2u);
  EXPECT_EQ(s.batches, 1u);
  EXPECT_EQ(s.syncs, 1u);
}

// Durability: a child process commits (synced), tells us, and is killed with
// SIGKILL at once. Whatever it was told is durable must be there.
TEST(order_store, a_synced_write_survives_sigkill_right_after_the_answer) {
  temp_dir dir;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    auto store = order_store::open(dir.str());
    if (!store)
      _exit(2);
    for (int i = 0; i < 50; ++i) {
      write_set set;
      set.orders.push_back(make_order("K" + std::to_string(i)));
      set.events.emplace_back("K" + std::to_string(i),
                              order_event{1, 1, "created", "{}"});
      if (!(*store)->commit(set, true))
        _exit(3);
      char answered = 1;
      if (write(fds[1], &answered, 1) != 1)
        _exit(4);
    }
    pause();
    _exit(0);
  }
  close(fds[1]);
  int answered = 0;
  char c;
  while (answered < 50 && read(fds[0], &c, 1) == 1)
    ++answered;
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  close(fds[0]);
  ASSERT_EQ(answered, 50);
  ASSERT_TRUE(WIFSIGNALED(status));
  auto store = open_store(dir);
  for (int i = 0; i < answered; ++i) {
    auto id = "K" + std::to_string(i);
    auto got = store->get_order(id);
    ASSERT_TRUE(got && got->has_value()) << id;
    auto events = store->events(id);
    ASSERT_TRUE(events);
    EXPECT_EQ(events->size(), 1u) << id;
  }
}
