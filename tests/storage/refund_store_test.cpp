// Refunds in the store: their records under the order
// (`r/<out_trade_no>/<out_refund_no>`), the claim of each out_refund_no for
// its order (`f/`), their counts by state, and the order's timer covering
// their deadlines.

#include "storage/order_store.hpp"

#include <limits>

#include <gtest/gtest.h>

#include "tests/temp_dir.hpp"

using namespace paycoord;
using paycoord::testing::temp_dir;

namespace {

constexpr int64_t t0 = 1'795'658'400'000;

refund_record refund(const std::string& order, const std::string& id, int64_t amount) {
  refund_record r;
  r.out_trade_no = order;
  r.out_refund_no = id;
  r.amount_refund = amount;
  r.amount_total = 100;
  r.reason = "尺码不合适"; // multi-byte, as merchants write them
  r.created_at_ms = t0;
  r.updated_at_ms = t0;
  r.action = refund_action::apply;
  r.next_due_ms = t0;
  return r;
}

order_record confirmed(const std::string& id) {
  order_record x;
  x.out_trade_no = id;
  x.state = order_state::confirmed;
  x.amount_total = 100;
  return x;
}

std::unique_ptr<order_store> open_store(const temp_dir& dir) {
  auto store = order_store::open(dir.str());
  EXPECT_TRUE(store) << store.error().to_string();
  return store ? std::move(*store) : nullptr;
}

} // namespace

TEST(refund_store, a_refund_round_trips_every_field) {
  auto r = refund("A1", "R1", 30);
  r.state = refund_state::abnormal;
  r.refund_id = "50000000382019052709732678859";
  r.succeeded_at_ms = t0 + 5;
  r.accepted_at_ms = t0 + 1;
  r.last_error_code = "SYSTEM_ERROR";
  r.last_error_message = std::string{"\xe7\xb3\xbb\xe7"} + "\xff"; // cut mid-character, and invalid
  r.action = refund_action::deliver;
  r.verify_step = 2;
  r.queries = 3;
  r.failures = 1;
  r.undelivered = {"refund.abnormal", "refund.succeeded"};
  r.delivery_attempts = 4;
  r.resolved_at_ms = t0 + 9;
  r.resolved_note = "called the customer";
  auto back = decode_refund("r/A1/R1", encode(r));
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(back->undelivered, r.undelivered);
  EXPECT_EQ(back->state, refund_state::abnormal);
  EXPECT_EQ(back->reason, r.reason);
  EXPECT_EQ(encode(*back), encode(r));
  EXPECT_FALSE(decode_refund("r/A1/R1", R"({"v":1,"out_refund_no":"R1"})"))
    << "a refund without its order";
  EXPECT_EQ(decode_refund("r/A1/R1", R"({"v":2})").error().code, store_errc::unknown_version);
}

TEST(refund_store, refunds_sit_under_their_order_and_each_number_is_claimed_once) {
  temp_dir dir;
  auto store = open_store(dir);
  auto x = confirmed("A1");
  write_set set;
  set.put(x, nullptr);
  set.put(refund("A1", "R2", 20), nullptr);
  set.put(refund("A1", "R1", 30), nullptr);
  set.put(refund("A10", "R9", 5), nullptr); // a neighbour whose id extends A1's
  ASSERT_TRUE(store->commit(set));
  auto mine = store->refunds("A1");
  ASSERT_TRUE(mine);
  ASSERT_EQ(mine->size(), 2u);
  EXPECT_EQ((*mine)[0].out_refund_no, "R1");
  EXPECT_EQ((*mine)[1].out_refund_no, "R2");
  EXPECT_EQ(store->refund_owner("R9")->value_or(""), "A10");
  EXPECT_FALSE(store->refund_owner("NOPE")->has_value());
  EXPECT_EQ(store->counts().of(refund_state::requested), 3);
}

TEST(refund_store, counts_follow_refund_states_and_the_abnormal_ones_nobody_resolved) {
  temp_dir dir;
  auto store = open_store(dir);
  auto r = refund("A1", "R1", 30);
  write_set create;
  create.put(r, nullptr);
  ASSERT_TRUE(store->commit(create));
  auto abnormal = r;
  abnormal.state = refund_state::abnormal;
  write_set parked;
  parked.put(abnormal, &r);
  ASSERT_TRUE(store->commit(parked));
  EXPECT_EQ(store->counts().of(refund_state::abnormal), 1);
  EXPECT_EQ(store->counts().refunds_unresolved, 1);
  auto resolved = abnormal;
  resolved.resolved_at_ms = t0;
  write_set handled;
  handled.put(resolved, &abnormal);
  ASSERT_TRUE(store->commit(handled));
  EXPECT_EQ(store->counts().refunds_unresolved, 0);
  EXPECT_EQ(store->counts().of(refund_state::abnormal), 1);
  store.reset();
  auto again = open_store(dir);
  EXPECT_EQ(again->counts().of(refund_state::abnormal), 1) << "persisted";
  EXPECT_EQ(again->counts().of(refund_state::requested), 0);
}

TEST(refund_store, pages_through_refunds_by_state) {
  temp_dir dir;
  auto store = open_store(dir);
  write_set set;
  for (int i = 0; i < 12; ++i) {
    auto r = refund("O" + std::to_string(i % 4), "RF" + std::to_string(i), 1);
    if (i % 3 == 0)
      r.state = refund_state::success;
    set.put(r, nullptr);
  }
  ASSERT_TRUE(store->commit(set));
  std::vector<std::string> seen;
  std::string after;
  do {
    auto page = store->scan_refunds(after, 2, refund_state::success);
    ASSERT_TRUE(page);
    for (auto& r : page->refunds)
      seen.push_back(r.out_refund_no);
    after = page->next;
  } while (!after.empty());
  EXPECT_EQ(seen.size(), 4u);
}

TEST(refund_store, an_orders_timer_covers_its_refunds_deadlines) {
  auto x = confirmed("A1");
  EXPECT_FALSE(facts_of(x).has_timer()) << "confirmed and nothing refunding";
  x.refund_due_ms = t0 + 60'000;
  EXPECT_EQ(facts_of(x).timer_due_ms, t0 + 60'000);
  auto paid = x;
  paid.state = order_state::paid;
  paid.action = next_action::forward;
  paid.next_due_ms = t0 + 1'000;
  EXPECT_EQ(facts_of(paid).timer_due_ms, t0 + 1'000) << "the earlier of the two";
  paid.next_due_ms = t0 + 90'000;
  EXPECT_EQ(facts_of(paid).timer_due_ms, t0 + 60'000);
}
