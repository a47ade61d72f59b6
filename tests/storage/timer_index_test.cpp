// The store's timer index (`t/<due>/<id>`) and per-state counters: written
// in the same batch as the records, so that after a crash at any byte of a
// batch every active order has exactly one index entry and the counts agree
// with the records; built by the migration from schema 1; checked and
// repaired by the audit.

#include "storage/order_store.hpp"

#include <limits>
#include <map>

#include <leveldb/db.h>
#include <leveldb/write_batch.h>
#include <gtest/gtest.h>

#include "tests/storage/failing_env.hpp"
#include "tests/temp_dir.hpp"

using namespace paycoord;
using paycoord::testing::failing_env;
using paycoord::testing::temp_dir;

namespace {

constexpr int64_t t0 = 1'795'658'400'000;
constexpr int64_t forever = std::numeric_limits<int64_t>::max();

order_record pending(const std::string& id, int64_t due) {
  order_record x;
  x.out_trade_no = id;
  x.state = order_state::pending;
  x.description = "Monthly plan";
  x.amount_total = 100;
  x.created_at_ms = t0;
  x.action = next_action::verify;
  x.next_due_ms = due;
  return x;
}

order_record moved(order_record x, order_state s, int64_t due) {
  x.state = s;
  x.action = is_active(s) ? next_action::forward : next_action::none;
  x.next_due_ms = due;
  return x;
}

std::unique_ptr<order_store> open_store(const temp_dir& dir, leveldb::Env* env = nullptr) {
  store_options opts;
  opts.env = env;
  auto store = order_store::open(dir.str(), opts);
  EXPECT_TRUE(store) << store.error().to_string();
  return store ? std::move(*store) : nullptr;
}

std::vector<timer_entry> whole_index(const order_store& store) {
  auto all = store.timers(std::nullopt, forever, 1'000'000);
  EXPECT_TRUE(all) << all.error().to_string();
  return all ? *all : std::vector<timer_entry>{};
}

/// The invariant: every order that needs a timer has exactly one index
/// entry, at the due time its record names; no other entry exists; the
/// persisted counts equal a count of the records.
void expect_index_and_counts_agree(const order_store& store, const std::string& where) {
  std::map<std::string, int64_t> want;
  order_counts recount;
  store.for_each_order(
    [&](const order_record& x) {
      auto f = facts_of(x);
      recount.moved(std::nullopt, f);
      if (f.has_timer())
        want[x.out_trade_no] = f.timer_due_ms;
    },
    [&](const store_error& e) { ADD_FAILURE() << where << ": " << e.to_string(); });
  std::map<std::string, std::vector<int64_t>> got;
  for (auto& e : whole_index(store))
    got[e.out_trade_no].push_back(e.due_ms);
  for (auto& [id, due] : want)
    EXPECT_EQ(got[id], std::vector<int64_t>{due}) << where << ": " << id;
  for (auto& [id, dues] : got)
    EXPECT_TRUE(want.count(id)) << where << ": an entry for " << id << " that needs none";
  EXPECT_EQ(store.counts(), recount) << where;
}

} // namespace

TEST(timer_index, moves_with_every_record_in_the_same_batch) {
  temp_dir dir;
  auto store = open_store(dir);
  auto a = pending("A", t0 + 5'000);
  auto b = pending("B", t0 + 1'000);
  auto c = pending("C", t0 + 1'000);
  write_set create;
  create.put(a, nullptr);
  create.put(b, nullptr);
  create.put(c, nullptr);
  ASSERT_TRUE(store->commit(create));
  EXPECT_EQ(whole_index(*store), (std::vector<timer_entry>{
                                   {t0 + 1'000, "B"}, {t0 + 1'000, "C"}, {t0 + 5'000, "A"}}))
    << "due order, then id";

  // A re-armed, B paid and then confirmed, C closed.
  write_set next;
  auto a2 = a;
  a2.next_due_ms = t0 + 30'000;
  next.put(a2, &a);
  auto b2 = moved(b, order_state::paid, t0 + 2'000);
  next.put(b2, &b);
  auto c2 = moved(c, order_state::closed, 0);
  next.put(c2, &c);
  ASSERT_TRUE(store->commit(next));
  EXPECT_EQ(whole_index(*store),
            (std::vector<timer_entry>{{t0 + 2'000, "B"}, {t0 + 30'000, "A"}}));
  write_set done;
  done.put(moved(b2, order_state::confirmed, 0), &b2);
  ASSERT_TRUE(store->commit(done));
  EXPECT_EQ(whole_index(*store), (std::vector<timer_entry>{{t0 + 30'000, "A"}}));
  expect_index_and_counts_agree(*store, "after the writes");
  EXPECT_EQ(store->counts().of(order_state::pending), 1);
  EXPECT_EQ(store->counts().of(order_state::confirmed), 1);
  EXPECT_EQ(store->counts().of(order_state::closed), 1);
}

TEST(timer_index, pages_by_due_time_after_a_cursor) {
  temp_dir dir;
  auto store = open_store(dir);
  write_set set;
  for (int i = 0; i < 10; ++i)
    set.put(pending("P" + std::to_string(i), t0 + 1'000 * (i / 2)), nullptr);
  ASSERT_TRUE(store->commit(set));
  auto first = store->timers(std::nullopt, t0 + 2'000, 4);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->size(), 4u);
  EXPECT_EQ(first->back(), (timer_entry{t0 + 1'000, "P3"}));
  auto rest = store->timers(first->back(), t0 + 2'000, 100);
  ASSERT_TRUE(rest);
  EXPECT_EQ(*rest, (std::vector<timer_entry>{{t0 + 2'000, "P4"}, {t0 + 2'000, "P5"}}))
    << "after the cursor, no later than the bound";
}

TEST(timer_index, counts_are_persisted_and_read_back_without_a_scan) {
  temp_dir dir;
  {
    auto store = open_store(dir);
    write_set set;
    for (int i = 0; i < 5; ++i)
      set.put(pending("N" + std::to_string(i), t0), nullptr);
    ASSERT_TRUE(store->commit(set));
    write_set paid;
    auto x = pending("N0", t0);
    paid.put(moved(x, order_state::paid, t0 + 1), &x);
    ASSERT_TRUE(store->commit(paid));
  }
  auto store = open_store(dir);
  EXPECT_EQ(store->counts().of(order_state::pending), 4);
  EXPECT_EQ(store->counts().of(order_state::paid), 1);
  EXPECT_EQ(store->last_migration().from_schema, 0);
  EXPECT_FALSE(store->last_migration().recounted);
}

// The index invariant after a crash at any point of a batch: the log write
// of the batch is cut at every byte offset (a full disk, then the process
// dies without reopening), and the store opened again afterwards agrees
// with itself whatever made it to the disk.
TEST(timer_index, agrees_with_the_records_after_a_crash_at_any_byte_of_a_batch) {
  static failing_env env; // outlives every store over it
  auto a = pending("A", t0 + 5'000);
  auto b = pending("B", t0 + 1'000);
  auto c = pending("C", t0 + 1'000);
  write_set base;
  base.put(a, nullptr);
  base.put(b, nullptr);
  base.put(c, nullptr);
  write_set change;
  auto a2 = a;
  a2.next_due_ms = t0 + 30'000;
  change.put(a2, &a);
  change.put(moved(b, order_state::paid, t0 + 2'000), &b);
  change.put(moved(c, order_state::closed, 0), &c);
  change.put(pending("D", t0 + 9'000), nullptr);
  int applied = 0, refused = 0;
  // Every 13th byte until the batch lands whole twice (it is about 3 KiB).
  for (int64_t cut = 0; applied < 2 && cut < 20'000; cut += 13) {
    env.heal();
    temp_dir dir;
    {
      auto store = open_store(dir, &env);
      ASSERT_TRUE(store);
      ASSERT_TRUE(store->commit(base));
      env.space_left = cut;
      auto r = store->commit(change);
      r ? ++applied : ++refused;
    } // the process dies here: no reopen, no cut of the log's tail
    env.heal();
    auto store = open_store(dir);
    ASSERT_TRUE(store) << "cut at " << cut;
    expect_index_and_counts_agree(*store, "cut at " + std::to_string(cut));
    auto d = store->get_order("D");
    ASSERT_TRUE(d);
    auto after = whole_index(*store);
    if (d->has_value())
      EXPECT_EQ(after.size(), 3u) << "the batch landed whole: A, B, D";
    else
      EXPECT_EQ(after.size(), 3u) << "the batch is gone whole: A, B, C";
  }
  EXPECT_GT(refused, 100) << "most cuts fall inside the batch";
  EXPECT_GT(applied, 0) << "and the last ones after it";
}

// A store written by the previous version (schema 1: records, no index, no
// counts) is migrated at open: one scan writes the index and the counts.
TEST(timer_index, a_schema_1_store_is_migrated_at_open) {
  temp_dir dir;
  {
    leveldb::Options options;
    options.create_if_missing = true;
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(options, dir.str(), &raw).ok());
    std::unique_ptr<leveldb::DB> db{raw};
    leveldb::WriteBatch batch;
    for (int i = 0; i < 1'000; ++i) {
      auto x = pending("OLD" + std::to_string(i), t0 + i);
      if (i % 4 == 1)
        x = moved(x, order_state::paid, t0 + 100'000 + i);
      if (i % 4 == 2)
        x = moved(x, order_state::confirmed, 0);
      batch.Put(order_store::order_key(x.out_trade_no), encode(x));
    }
    batch.Put("o/BROKEN", "not json");
    batch.Put("m/schema", "1");
    ASSERT_TRUE(db->Write(leveldb::WriteOptions{}, &batch).ok());
  }
  {
    auto store = open_store(dir);
    ASSERT_TRUE(store);
    const auto& m = store->last_migration();
    EXPECT_EQ(m.from_schema, 1);
    EXPECT_EQ(m.orders, 1'000u);
    EXPECT_EQ(m.timers, 750u) << "pending and paid ones";
    EXPECT_EQ(m.unreadable, 1u);
    EXPECT_EQ(store->counts().of(order_state::pending), 500);
    EXPECT_EQ(store->counts().of(order_state::paid), 250);
    EXPECT_EQ(store->counts().of(order_state::confirmed), 250);
    EXPECT_EQ(whole_index(*store).size(), 750u);
  }
  auto again = open_store(dir);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->last_migration().from_schema, 0) << "once";
  EXPECT_EQ(again->counts().of(order_state::pending), 500);
}

// The audit finds what only a damaged disk or a bug could leave (a record
// without its index entry, an entry of an order that needs none or is due
// at another time) and repairs it from the record.
TEST(timer_index, the_audit_repairs_missing_and_stale_entries_from_the_records) {
  temp_dir dir;
  auto store = open_store(dir);
  write_set set;
  for (int i = 0; i < 50; ++i)
    set.put(pending("G" + std::to_string(i), t0 + i), nullptr);
  ASSERT_TRUE(store->commit(set));
  // Planted behind the store's back.
  ASSERT_TRUE(store->put_raw(order_store::order_key("NOINDEX"), encode(pending("NOINDEX", t0))));
  ASSERT_TRUE(store->put_raw(order_store::timer_key(t0 + 77, "GHOST"), ""));
  ASSERT_TRUE(store->put_raw(order_store::timer_key(t0 + 99, "G3"), ""));
  ASSERT_TRUE(store->put_raw(order_store::order_key("BROKEN"), "{"));

  uint64_t unreadable = 0;
  std::vector<std::string> repaired;
  for (bool index_pass : {false, true}) {
    std::string cursor;
    do {
      auto step = index_pass ? store->audit_index(cursor, 7) : store->audit_records(cursor, 7);
      ASSERT_TRUE(step) << step.error().to_string();
      EXPECT_LE(step->examined, 7u);
      unreadable += step->unreadable;
      repaired.insert(repaired.end(), step->repaired.begin(), step->repaired.end());
      cursor = step->next;
    } while (!cursor.empty());
  }
  EXPECT_EQ(unreadable, 1u);
  ASSERT_EQ(repaired.size(), 3u);
  EXPECT_NE(repaired[0].find("missing"), std::string::npos) << repaired[0];
  auto index = whole_index(*store);
  EXPECT_EQ(index.size(), 51u);
  EXPECT_EQ(std::count(index.begin(), index.end(), timer_entry{t0 + 99, "G3"}), 0);
  EXPECT_EQ(std::count(index.begin(), index.end(), timer_entry{t0 + 77, "GHOST"}), 0);
  EXPECT_EQ(std::count(index.begin(), index.end(), timer_entry{t0, "NOINDEX"}), 1);
  auto again = store->audit_records("", 1'000);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->repaired.empty());
}

// The audit runs after an unclean stop only: the store remembers a clean
// one until the next open, which forgets it at once (synced), so a crash
// after that open reads as a crash.
TEST(timer_index, a_clean_stop_is_remembered_for_one_open) {
  temp_dir dir;
  {
    auto store = open_store(dir);
    EXPECT_TRUE(store->opened_clean()) << "a new store has nothing to audit";
    write_set set;
    set.put(pending("C1", t0), nullptr);
    ASSERT_TRUE(store->commit(set));
  } // killed: no mark
  {
    auto store = open_store(dir);
    EXPECT_FALSE(store->opened_clean());
    ASSERT_TRUE(store->mark_clean());
  }
  {
    auto store = open_store(dir);
    EXPECT_TRUE(store->opened_clean());
  } // killed right after that open
  auto store = open_store(dir);
  EXPECT_FALSE(store->opened_clean());
}
