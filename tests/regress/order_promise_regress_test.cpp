// Regressions of the ways a charged order could be lost (issue "the promise,
// proven"), at the order machine. The end-to-end versions, through paycoord
// and paysim, are tests/integration/wechat_answers_e2e_test.cpp.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "actors/order_machine.hpp"
#include "common/text.hpp"
#include "tests/actors/actor_fixture.hpp"

using namespace paycoord;
using namespace paycoord::testing;

namespace {

constexpr int64_t t0 = test_t0;

std::string seventy_chinese() {
  std::string out;
  for (int i = 0; i < 7; ++i)
    out += "系统繁忙请稍后再试啊";
  return out;
}

/// An order at its expiry, its final query due.
order_record at_expiry(const order_machine& m) {
  auto x = m.create(new_order("R1"), t0).record;
  x.action = next_action::expire_query;
  x.next_due_ms = x.expire_at_ms;
  return x;
}

query_result not_found() {
  query_result r;
  r.outcome = query_outcome::not_found;
  r.status = 404;
  return r;
}

void expect_valid_events(const order_decision& d) {
  for (auto& e : d.events) {
    EXPECT_TRUE(is_valid_utf8(e.detail)) << e.kind;
    EXPECT_FALSE(nlohmann::json::parse(e.detail, nullptr, false).is_discarded()) << e.kind;
  }
}

} // namespace

// Defect 1: WeChat's error text was cut at 200 bytes, splitting a character,
// and dump() of the event threw type_error.316: the actor crashed until
// FAULTED.
TEST(order_promise, an_error_text_cut_inside_a_character_is_kept_not_thrown) {
  auto m = test_machine();
  auto x = m.create(new_order("R1"), t0).record;
  query_result r;
  r.outcome = query_outcome::retry_later;
  r.status = 500;
  r.error = "HTTP 500 SYSTEM_ERROR: " + seventy_chinese().substr(0, 200); // mid-character
  order_decision d;
  ASSERT_NO_THROW(d = m.on_query(x, r, t0 + 5'000));
  EXPECT_EQ(d.record.state, order_state::pending);
  EXPECT_NE(d.record.action, next_action::none);
  expect_valid_events(d);
  // And the record itself survives any bytes.
  x.description = std::string("\xE7\xB3\xFF", 3);
  EXPECT_TRUE(decode_order("o/R1", encode(x)));
}

// Defect 2: a prepay that failed left WeChat not knowing the order; close
// answered 204, the confirming query 404, read as "not paid": close again,
// forever.
TEST(order_promise, an_order_wechat_never_knew_ends_closed) {
  auto m = test_machine();
  auto final_query = m.on_query(at_expiry(m), not_found(), t0 + 3'600'000);
  EXPECT_EQ(final_query.record.state, order_state::closed);

  auto x = at_expiry(m);
  x.action = next_action::close_confirm;
  x.closed_at_wechat = true;
  auto confirm = m.on_query(x, not_found(), t0 + 3'600'000);
  EXPECT_EQ(confirm.record.state, order_state::closed);
  EXPECT_EQ(confirm.record.action, next_action::none);
}

// Defect 3: a refused close (ORDERPAID: paid in the last moment) was retried
// as a close forever; the payment was never asked about.
TEST(order_promise, after_a_close_that_did_not_succeed_the_next_step_is_a_query) {
  auto m = test_machine();
  auto x = at_expiry(m);
  x.action = next_action::close;
  for (bool retryable : {false, true}) {
    call_result refused;
    refused.ok = false;
    refused.retryable = retryable;
    refused.status = retryable ? 503 : 400;
    refused.error = "ORDERPAID " + seventy_chinese();
    auto d = m.on_close(x, refused, t0 + 3'600'000);
    EXPECT_EQ(d.record.action, next_action::close_confirm) << retryable;
    EXPECT_EQ(m.on_timer(d.record, d.record.next_due_ms).effect, order_effect::query);
    // The query finds the payment: PAID, late, forwarded.
    auto paid_now = m.on_query(d.record, paid("R1"), d.record.next_due_ms);
    EXPECT_EQ(paid_now.record.state, order_state::paid);
    EXPECT_EQ(paid_now.effect, order_effect::forward);
  }
}

// Each loop of calls ends: a WeChat that accepts every close but keeps
// saying NOTPAY gets a bounded number of closes, then the order is CLOSED.
TEST(order_promise, closes_are_bounded_when_wechat_keeps_saying_notpay) {
  auto m = test_machine();
  auto x = at_expiry(m);
  int64_t now = x.next_due_ms;
  auto d = m.on_query(x, trade("NOTPAY"), now);
  int closes = 0;
  while (d.record.state == order_state::pending && closes < 20) {
    ASSERT_EQ(d.record.action, next_action::close);
    now = std::max(now, d.record.next_due_ms);
    call_result ok;
    ok.ok = true;
    ok.status = 204;
    d = m.on_close(d.record, ok, now);
    ++closes;
    d = m.on_query(d.record, trade("NOTPAY"), now);
  }
  EXPECT_EQ(d.record.state, order_state::closed);
  EXPECT_LE(closes, 10);
}

