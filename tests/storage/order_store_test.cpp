#include "storage/order_store.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "tests/storage/failing_env.hpp"
#include "tests/temp_dir.hpp"

using namespace paycoord;
using paycoord::testing::failing_env;
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
  set.put(x, nullptr);
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
    set.put(make_order(id, i % 5 == 0 ? order_state::confirmed
                                                   : order_state::pending), nullptr);
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
  set.put(make_order("GOOD"), nullptr);
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
  a.put(make_order("A"), nullptr);
  b.put(make_order("B"), nullptr);
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
      set.put(make_order("K" + std::to_string(i)), nullptr);
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

// -- a dying disk --------------------------------------------------------------

namespace {

write_set order_set(const std::string& id) {
  write_set set;
  set.put(make_order(id), nullptr);
  set.events.emplace_back(id, order_event{1, 1, "created", "{}"});
  return set;
}

bool has_order(order_store& store, const std::string& id) {
  auto x = store.get_order(id);
  return x && x->has_value();
}

/// The newest LevelDB log file in `dir` (names are zero-padded numbers).
std::filesystem::path newest_log(const temp_dir& dir) {
  std::vector<std::filesystem::path> logs;
  for (auto& entry : std::filesystem::directory_iterator{dir.path()})
    if (entry.path().extension() == ".log")
      logs.push_back(entry.path());
  EXPECT_FALSE(logs.empty());
  std::sort(logs.begin(), logs.end());
  return logs.empty() ? std::filesystem::path{} : logs.back();
}

/// Synced commits of `first`..`last` (ids P<i>); all must succeed.
void commit_orders(order_store& store, int first, int last) {
  for (int i = first; i <= last; ++i)
    ASSERT_TRUE(store.commit(order_set("P" + std::to_string(i)))) << i;
}

} // namespace

// ENOSPC mid-record: the log gets the part of the record that fit. Once the
// disk has room again, every write acknowledged before and after is there at
// the next open (a reused handle appended after the torn record, and the
// next open refused the log).
TEST(order_store_disk, a_write_cut_short_by_a_full_disk_loses_nothing_acknowledged) {
  static failing_env env; // outlives every store over it (LevelDB keeps the Env)
  env.heal();
  temp_dir dir;
  {
    store_options opts;
    opts.env = &env;
    auto opened = order_store::open(dir.str(), opts);
    ASSERT_TRUE(opened) << opened.error().to_string();
    auto& store = **opened;
    commit_orders(store, 1, 20);
    env.space_left = 10; // the next record's header and 3 bytes fit
    auto full = store.commit(order_set("FULL1"));
    ASSERT_FALSE(full);
    EXPECT_NE(full.error().message.find(std::strerror(ENOSPC)), std::string::npos)
      << full.error().to_string();
    EXPECT_FALSE(store.commit(order_set("FULL2"))) << "nothing written while the disk is full";
    EXPECT_FALSE(store.reopen()) << "no reopen while the disk is full";
    EXPECT_TRUE(has_order(store, "P7")) << "reads go on while the disk is full";
    env.heal();
    ASSERT_TRUE(store.reopen());
    commit_orders(store, 21, 300); // enough to cross LevelDB's 32 KiB log blocks
    EXPECT_FALSE(has_order(store, "FULL1"));
  }
  auto again = order_store::open(dir.str());
  ASSERT_TRUE(again) << again.error().to_string();
  for (int i = 1; i <= 300; ++i)
    ASSERT_TRUE(has_order(**again, "P" + std::to_string(i))) << i;
  EXPECT_FALSE(has_order(**again, "FULL1"));
  EXPECT_FALSE(has_order(**again, "FULL2"));
  EXPECT_EQ((*again)->last_open_salvage().drops, 0u);
}

// EIO on fsync: LevelDB refuses every later write; the store reopens once
// the disk syncs again and nothing acknowledged is lost. The failed write is
// in the log file all the same (the page cache has it): it must not come
// back with the reopen, after its writer was told it failed.
TEST(order_store_disk, a_failed_sync_refuses_writes_until_a_reopen_after_the_disk_is_back) {
  static failing_env env;
  env.heal();
  temp_dir dir;
  {
    store_options opts;
    opts.env = &env;
    auto opened = order_store::open(dir.str(), opts);
    ASSERT_TRUE(opened);
    auto& store = **opened;
    commit_orders(store, 1, 5);
    env.failing_sync = true;
    EXPECT_FALSE(store.commit(order_set("EIO1")));
    EXPECT_FALSE(store.reopen()) << "no reopen while syncs fail";
    EXPECT_TRUE(has_order(store, "P5"));
    env.failing_sync = false;
    EXPECT_FALSE(store.commit(order_set("EIO2"))) << "not on the old handle";
    ASSERT_TRUE(store.reopen());
    EXPECT_FALSE(has_order(store, "EIO1")) << "a failed commit does not happen later";
    commit_orders(store, 6, 10);
  }
  auto again = order_store::open(dir.str());
  ASSERT_TRUE(again) << again.error().to_string();
  for (int i = 1; i <= 10; ++i)
    EXPECT_TRUE(has_order(**again, "P" + std::to_string(i))) << i;
  EXPECT_FALSE(has_order(**again, "EIO1"));
  EXPECT_FALSE(has_order(**again, "EIO2"));
}

// A crash mid-append leaves the newest log ending in a partial record. The
// store opens with every record synced before it; the torn one is gone.
TEST(order_store_disk, a_torn_log_tail_opens_with_every_synced_record) {
  temp_dir dir;
  {
    auto store = open_store(dir);
    commit_orders(*store, 1, 40);
    // The record the crash tore: written, never acknowledged.
    ASSERT_TRUE(store->commit(order_set("TORN"), false));
  }
  auto log = newest_log(dir);
  auto size = std::filesystem::file_size(log);
  std::filesystem::resize_file(log, size - 5);
  auto store = order_store::open(dir.str());
  ASSERT_TRUE(store) << store.error().to_string();
  for (int i = 1; i <= 40; ++i)
    EXPECT_TRUE(has_order(**store, "P" + std::to_string(i))) << i;
  EXPECT_FALSE(has_order(**store, "TORN"));
  EXPECT_EQ((*store)->last_open_salvage().drops, 0u) << "a partial last record is not damage";
  EXPECT_TRUE((*store)->commit(order_set("AFTER")));
}

// Bytes after the last record that look like a record but fail its checksum
// (a torn write over stale blocks): LevelDB's paranoid open refuses the log.
// The store opens anyway, with every synced record, and counts what it
// skipped.
TEST(order_store_disk, garbage_after_the_last_record_is_counted_not_fatal) {
  temp_dir dir;
  {
    auto store = open_store(dir);
    commit_orders(*store, 1, 40);
  }
  {
    // A log record header (crc, length 16, type FULL) with a wrong crc.
    std::ofstream out{newest_log(dir), std::ios::binary | std::ios::app};
    const char header[7] = {'\xde', '\xad', '\xbe', '\xef', 16, 0, 1};
    out.write(header, sizeof(header));
    out << "o/GARBAGE0000000";
  }
  auto store = order_store::open(dir.str());
  ASSERT_TRUE(store) << store.error().to_string();
  for (int i = 1; i <= 40; ++i)
    EXPECT_TRUE(has_order(**store, "P" + std::to_string(i))) << i;
  const auto& salvage = (*store)->last_open_salvage();
  EXPECT_EQ(salvage.drops, 1u);
  EXPECT_EQ(salvage.bytes, 23u);
  EXPECT_NE(salvage.first.find("checksum"), std::string::npos) << salvage.first;
  EXPECT_TRUE((*store)->commit(order_set("AFTER")));
  store->reset();
  auto clean = order_store::open(dir.str());
  ASSERT_TRUE(clean) << clean.error().to_string();
  EXPECT_EQ((*clean)->last_open_salvage().drops, 0u) << "the salvaged log was replaced";
  EXPECT_TRUE(has_order(**clean, "AFTER"));
}
