// Defect 9 of issue "the promise, proven": FAULTED, ANOMALY and ORPHAN
// were dead ends. The ways out (CONTRACTS.md §11) at the order machine; the
// actor-level tests are in tests/actors/supervision_test.cpp.

#include <gtest/gtest.h>

#include "actors/order_machine.hpp"
#include "tests/actors/actor_fixture.hpp"

using namespace paycoord;
using namespace paycoord::testing;

namespace {

constexpr int64_t t0 = test_t0;

} // namespace

// A payment that arrives while FAULTED is
// held, and an operator's retry applies it.
TEST(order_promise, a_faulted_order_holds_a_payment_and_retry_applies_it) {
  auto m = test_machine();
  auto x = m.create(new_order("R1"), t0).record;
  auto faulted = m.fault(x, "crashed 4 times", t0 + 1'000).record;
  EXPECT_EQ(faulted.faulted_from, order_state::pending);
  auto held = m.on_notify(faulted, payment_notification("R1"), t0 + 2'000).record;
  EXPECT_EQ(held.state, order_state::faulted);
  EXPECT_EQ(held.held.transaction_id, "4200R1");
  // A redelivery of the same payment costs nothing.
  EXPECT_FALSE(m.on_notify(held, payment_notification("R1"), t0 + 3'000).persist);
  auto retried = m.on_operator_retry(held, t0 + 4'000);
  ASSERT_TRUE(retried.legal);
  EXPECT_EQ(retried.record.state, order_state::paid);
  EXPECT_EQ(retried.effect, order_effect::forward);
  EXPECT_FALSE(m.on_operator_retry(retried.record, t0 + 5'000).legal);
}

TEST(order_promise, resolve_marks_a_parked_order_handled_once) {
  auto m = test_machine();
  auto x = m.create(new_order("R1"), t0).record;
  auto anomaly = m.on_notify(x, payment_notification("R1", 1), t0 + 1'000).record;
  ASSERT_EQ(anomaly.state, order_state::anomaly);
  auto d = m.on_operator_resolve(anomaly, "refunded by hand", t0 + 2'000);
  ASSERT_TRUE(d.legal);
  EXPECT_EQ(d.record.state, order_state::anomaly);
  EXPECT_EQ(d.record.resolved_at_ms, t0 + 2'000);
  EXPECT_EQ(d.record.resolved_note, "refunded by hand");
  EXPECT_FALSE(m.on_operator_resolve(d.record, "again", t0 + 3'000).legal);
  EXPECT_FALSE(m.on_operator_resolve(x, "not parked", t0 + 3'000).legal);
}
