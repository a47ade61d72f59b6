#include "actors/order_machine.hpp"

#include <gtest/gtest.h>

#include "tests/actors/actor_fixture.hpp"

using namespace paycoord;
using namespace paycoord::testing;
using namespace std::chrono_literals;

namespace {

constexpr int64_t t0 = test_t0;

order_record record_in(order_state s) {
  auto m = test_machine();
  auto x = m.create(new_order("A1"), t0).record;
  x.state = s;
  if (s == order_state::paid) {
    x.action = next_action::forward;
    x.next_due_ms = t0;
  } else if (s != order_state::pending) {
    x.action = next_action::none;
    x.next_due_ms = 0;
  }
  return x;
}

enum class input {
  prepay,
  notify_payment,
  notify_refund,
  timer,
  query_success,
  query_notpay,
  close_ok,
  forward_ack,
  forward_fail,
  operator_verify,
  operator_forward,
};

const char* name(input i) {
  static const char* names[] = {"prepay",      "notify_payment",
                                "notify_refund", "timer",
                                "query_success", "query_notpay",
                                "close_ok",     "forward_ack",
                                "forward_fail", "operator_verify",
                                "operator_forward"};
  return names[static_cast<int>(i)];
}

order_decision feed(const order_machine& m, const order_record& x, input i) {
  auto now = t0 + 10'000;
  switch (i) {
    case input::prepay:
      return m.on_prepay(x, call_result{true, false, 200, "wx1", ""}, now);
    case input::notify_payment:
      return m.on_notify(x, payment_notification("A1"), now);
    case input::notify_refund: {
      verified_notification n;
      n.notification_id = "EV-R";
      n.event_type = "REFUND.SUCCESS";
      n.fact.out_trade_no = "A1";
      n.plaintext = R"({"refund_status":"SUCCESS"})";
      return m.on_notify(x, n, now);
    }
    case input::timer:
      return m.on_timer(x, now);
    case input::query_success:
      return m.on_query(x, paid("A1"), now);
    case input::query_notpay:
      return m.on_query(x, trade("NOTPAY"), now);
    case input::close_ok:
      return m.on_close(x, call_result{true, false, 204, "", ""}, now);
    case input::forward_ack:
      return m.on_forward(x, forward_result{true, 200, "", 3}, now);
    case input::forward_fail:
      return m.on_forward(x, forward_result{false, 503, "down", 3}, now);
    case input::operator_verify:
      return m.on_operator_verify(x, now);
    case input::operator_forward:
      return m.on_operator_forward(x, now);
  }
  return {};
}

struct row {
  order_state state;
  input in;
  bool legal;
  order_state next;
};

using S = order_state;
using I = input;

// Every (state, input) pair. Illegal pairs are refused and change nothing.
const std::vector<row> table = {
  // PENDING: verify schedule armed.
  {S::pending, I::prepay, true, S::pending},
  {S::pending, I::notify_payment, true, S::paid},
  {S::pending, I::notify_refund, true, S::pending},
  {S::pending, I::timer, true, S::pending},
  {S::pending, I::query_success, true, S::paid},
  {S::pending, I::query_notpay, true, S::pending},
  {S::pending, I::close_ok, false, S::pending}, // not closing
  {S::pending, I::forward_ack, false, S::pending},
  {S::pending, I::forward_fail, false, S::pending},
  {S::pending, I::operator_verify, true, S::pending},
  {S::pending, I::operator_forward, false, S::pending},
  // PAID: forwarding.
  {S::paid, I::prepay, false, S::paid},
  {S::paid, I::notify_payment, true, S::paid}, // duplicate
  {S::paid, I::notify_refund, true, S::paid},
  {S::paid, I::timer, true, S::paid},
  {S::paid, I::query_success, true, S::paid},
  {S::paid, I::query_notpay, true, S::paid}, // stale result, ignored
  {S::paid, I::close_ok, false, S::paid},
  {S::paid, I::forward_ack, true, S::confirmed},
  {S::paid, I::forward_fail, true, S::paid},
  {S::paid, I::operator_verify, false, S::paid},
  {S::paid, I::operator_forward, true, S::paid},
  // CONFIRMED: terminal.
  {S::confirmed, I::prepay, false, S::confirmed},
  {S::confirmed, I::notify_payment, true, S::confirmed},
  {S::confirmed, I::notify_refund, true, S::confirmed},
  {S::confirmed, I::timer, false, S::confirmed},
  {S::confirmed, I::query_success, true, S::confirmed},
  {S::confirmed, I::query_notpay, true, S::confirmed},
  {S::confirmed, I::close_ok, false, S::confirmed},
  {S::confirmed, I::forward_ack, true, S::confirmed}, // a second ack
  {S::confirmed, I::forward_fail, true, S::confirmed},
  {S::confirmed, I::operator_verify, false, S::confirmed},
  {S::confirmed, I::operator_forward, false, S::confirmed},
  // CLOSED: terminal, but a verified payment is never dropped.
  {S::closed, I::prepay, false, S::closed},
  {S::closed, I::notify_payment, true, S::paid},
  {S::closed, I::notify_refund, true, S::closed},
  {S::closed, I::timer, false, S::closed},
  {S::closed, I::query_success, true, S::paid},
  {S::closed, I::query_notpay, true, S::closed},
  {S::closed, I::close_ok, false, S::closed},
  {S::closed, I::forward_ack, false, S::closed},
  {S::closed, I::forward_fail, false, S::closed},
  {S::closed, I::operator_verify, true, S::closed},
  {S::closed, I::operator_forward, false, S::closed},
};

// The parked states share one row set: facts are recorded, nothing moves.
std::vector<row> parked_rows(S s) {
  return {
    {s, I::prepay, false, s},         {s, I::notify_payment, true, s},
    {s, I::notify_refund, true, s},   {s, I::timer, false, s},
    {s, I::query_success, true, s},   {s, I::query_notpay, true, s},
    {s, I::close_ok, false, s},       {s, I::forward_ack, false, s},
    {s, I::forward_fail, false, s},   {s, I::operator_verify, false, s},
    {s, I::operator_forward, false, s},
  };
}

} // namespace

TEST(order_machine, every_state_and_input_pair_follows_the_table) {
  auto m = test_machine();
  auto rows = table;
  for (auto s : {S::anomaly, S::orphan, S::faulted})
    for (auto& r : parked_rows(s))
      rows.push_back(r);
  ASSERT_EQ(rows.size(), 7u * 11u) << "the table must cover every pair";
  for (auto& r : rows) {
    auto x = record_in(r.state);
    auto d = feed(m, x, r.in);
    SCOPED_TRACE(std::string{to_string(r.state)} + " x " + name(r.in));
    EXPECT_EQ(d.legal, r.legal);
    EXPECT_EQ(d.record.state, r.next);
    if (!d.legal) {
      EXPECT_FALSE(d.persist);
      EXPECT_FALSE(d.refusal.empty());
      EXPECT_EQ(d.record, x) << "a refused input must not change the record";
      EXPECT_EQ(d.effect, order_effect::none);
    }
    if (d.record.state == S::paid && r.state != S::paid) {
      EXPECT_EQ(d.effect, order_effect::forward);
      EXPECT_EQ(d.record.action, next_action::forward);
      EXPECT_EQ(d.record.late, r.state == S::closed);
    }
    // Events are numbered consecutively after the record's last one.
    for (size_t i = 0; i < d.events.size(); ++i)
      EXPECT_EQ(d.events[i].seq, x.event_seq + i + 1);
    EXPECT_EQ(d.record.event_seq, x.event_seq + d.events.size());
  }
}

TEST(order_machine, a_duplicate_payment_writes_nothing) {
  auto m = test_machine();
  for (auto s : {S::paid, S::confirmed}) {
    auto d = m.on_notify(record_in(s), payment_notification("A1"), t0);
    EXPECT_FALSE(d.persist);
    EXPECT_EQ(d.effect, order_effect::none);
  }
}

TEST(order_machine, a_mismatched_amount_is_an_anomaly_never_a_payment) {
  auto m = test_machine();
  auto d = m.on_notify(record_in(S::pending), payment_notification("A1", 1),
                       t0);
  EXPECT_EQ(d.record.state, S::anomaly);
  EXPECT_EQ(d.effect, order_effect::none);
  EXPECT_EQ(d.record.action, next_action::none);
  EXPECT_NE(d.record.parked_reason.find("paid 1 CNY"), std::string::npos);
  auto q = m.on_query(record_in(S::pending), paid("A1", 99), t0);
  EXPECT_EQ(q.record.state, S::anomaly);
  auto currency = payment_notification("A1");
  currency.fact.currency = "USD";
  EXPECT_EQ(m.on_notify(record_in(S::pending), currency, t0).record.state,
            S::anomaly);
}

TEST(order_machine, verify_schedule_counts_from_creation_then_repeats) {
  auto m = test_machine();
  auto x = m.create(new_order("A1"), t0).record;
  EXPECT_EQ(x.action, next_action::verify);
  EXPECT_EQ(x.next_due_ms, t0 + 5'000);
  // NOTPAY walks the schedule: 30 s, 60 s, then every 10 min from the last
  // query, until the expiry (1 h) takes over.
  std::vector<int64_t> dues;
  auto now = t0 + 5'000;
  for (int i = 0; i < 8; ++i) {
    x = m.on_query(x, trade("NOTPAY"), now).record;
    dues.push_back(x.next_due_ms - t0);
    now = x.next_due_ms;
    if (x.action != next_action::verify)
      break;
  }
  EXPECT_EQ(dues, (std::vector<int64_t>{30'000, 60'000, 660'000, 1'260'000,
                                        1'860'000, 2'460'000, 3'060'000,
                                        3'600'000}));
  EXPECT_EQ(x.action, next_action::expire_query);
  EXPECT_EQ(x.queries, 8u);
}

TEST(order_machine, one_late_answer_covers_every_step_already_due) {
  // paycoord was down from 4 s to 70 s after creation: the steps at 5 s,
  // 30 s and 60 s are all overdue. One NOTPAY answers for all of them; the
  // next query waits for the next future step instead of firing at once.
  auto m = test_machine();
  auto x = m.create(new_order("A1"), t0).record;
  x = m.on_query(x, trade("NOTPAY"), t0 + 70'000).record;
  EXPECT_EQ(x.action, next_action::verify);
  EXPECT_EQ(x.verify_step, 3u);
  EXPECT_EQ(x.next_due_ms, t0 + 70'000 + 600'000) << "verify_every from this query";
  EXPECT_EQ(x.queries, 1u);
}

TEST(order_machine, userpaying_and_errors_retry_without_losing_the_schedule) {
  auto m = test_machine();
  auto x = m.create(new_order("A1"), t0).record;
  auto now = t0 + 5'000;
  auto y = m.on_query(x, trade("USERPAYING"), now).record;
  EXPECT_EQ(y.verify_step, 0u);
  EXPECT_EQ(y.next_due_ms, now + 5'000);
  query_result busy;
  busy.outcome = query_outcome::retry_later;
  busy.status = 429;
  y = m.on_query(x, busy, now).record;
  EXPECT_EQ(y.verify_step, 0u);
  EXPECT_EQ(y.action, next_action::verify);
  EXPECT_EQ(y.next_due_ms, now + 3'750) << "5 s with jitter in [2.5 s, 5 s] (uniform = 0.5)";
  EXPECT_EQ(y.query_failures, 1u);
  query_result unknown;
  unknown.outcome = query_outcome::not_found;
  unknown.status = 404;
  y = m.on_query(y, unknown, now).record;
  EXPECT_EQ(y.verify_step, 1u) << "404 is 'not paid': next step";
  EXPECT_EQ(y.query_failures, 0u) << "an answer ends the run of failures";
}

TEST(order_machine, queries_without_an_answer_back_off_so_an_outage_is_no_herd) {
  // WeChat throttles or fails for a while: every order asks again later and
  // later (5 s doubling, capped at 5 min), not every 5 s.
  auto m = test_machine();
  auto x = m.create(new_order("A1"), t0).record;
  query_result busy;
  busy.outcome = query_outcome::retry_later;
  busy.status = 503;
  auto now = t0 + 5'000;
  std::vector<int64_t> delays;
  for (int i = 0; i < 9; ++i) {
    x = m.on_query(x, busy, now).record;
    delays.push_back(x.next_due_ms - now);
    now = x.next_due_ms;
  }
  // Ceilings 5, 10, 20, 40, 80, 160, 300, 300, 300 s; uniform 0.5 -> 3/4.
  EXPECT_EQ(delays, (std::vector<int64_t>{3'750, 7'500, 15'000, 30'000, 60'000, 120'000, 225'000,
                                          225'000, 225'000}));
  EXPECT_EQ(x.verify_step, 0u) << "the schedule position is kept";
  EXPECT_EQ(x.queries, 9u);
  EXPECT_EQ(m.query_retry_ms(1), 3'750);
}

TEST(order_machine, expiry_queries_closes_confirms_and_ends_closed) {
  auto m = test_machine();
  auto x = m.create(new_order("A1"), t0).record;
  x.action = next_action::expire_query;
  x.next_due_ms = x.expire_at_ms;
  auto now = x.expire_at_ms;
  EXPECT_EQ(m.on_timer(x, now).effect, order_effect::query);
  x = m.on_query(x, trade("NOTPAY"), now).record;
  EXPECT_EQ(x.action, next_action::close);
  EXPECT_EQ(x.next_due_ms, now);
  EXPECT_EQ(m.on_timer(x, now).effect, order_effect::close);
  x = m.on_close(x, call_result{true, false, 204, "", ""}, now).record;
  EXPECT_TRUE(x.closed_at_wechat);
  EXPECT_EQ(x.action, next_action::close_confirm);
  auto paid_late = m.on_query(x, paid("A1"), now);
  EXPECT_EQ(paid_late.record.state, S::paid);
  EXPECT_TRUE(paid_late.record.late) << "paid in the last second: late";
  auto closed = m.on_query(x, trade("CLOSED"), now);
  EXPECT_EQ(closed.record.state, S::closed);
  EXPECT_EQ(closed.record.action, next_action::none);
}

TEST(order_machine, close_waits_for_close_not_before) {
  auto m = test_machine();
  auto req = new_order("A1");
  req.requested_expire_at_ms = t0 + 60'000; // expires after a minute
  auto x = m.create(req, t0).record;
  x.action = next_action::expire_query;
  x = m.on_query(x, trade("NOTPAY"), t0 + 60'000).record;
  EXPECT_EQ(x.action, next_action::close);
  EXPECT_EQ(x.next_due_ms, t0 + 5 * 60'000) << "never sooner than 5 min";
}

TEST(order_machine, forward_backoff_doubles_with_full_jitter_and_flags_stuck) {
  auto m = test_machine(); // uniform() = 0.5
  EXPECT_EQ(m.forward_backoff_ms(1), 500);
  EXPECT_EQ(m.forward_backoff_ms(2), 1000);
  EXPECT_EQ(m.forward_backoff_ms(3), 2000);
  EXPECT_EQ(m.forward_backoff_ms(4), 4000);
  EXPECT_EQ(m.forward_backoff_ms(9), 4000) << "capped at 8 s";
  auto x = record_in(S::paid);
  auto now = t0;
  for (int i = 0; i < 40 && !x.stuck; ++i) {
    x = m.on_forward(x, forward_result{false, 503, "down", 1}, now).record;
    EXPECT_EQ(x.state, S::paid) << "never gives up";
    now = x.next_due_ms;
  }
  EXPECT_TRUE(x.stuck);
  EXPECT_GE(now - x.first_forward_failure_ms, 30'000);
  auto done = m.on_forward(x, forward_result{true, 200, "", 1}, now).record;
  EXPECT_EQ(done.state, S::confirmed);
  EXPECT_FALSE(done.stuck);
}

TEST(order_machine, query_refund_parks_the_order_for_an_operator) {
  auto m = test_machine();
  auto d = m.on_query(record_in(S::pending), trade("REFUND"), t0);
  EXPECT_EQ(d.record.state, S::anomaly);
}

TEST(order_machine, same_order_compares_by_value) {
  auto m = test_machine();
  auto x = m.create(new_order("A1"), t0).record;
  EXPECT_TRUE(order_machine::same_order(x, new_order("A1")));
  auto explicit_cny = new_order("A1");
  explicit_cny.currency = "CNY";
  EXPECT_TRUE(order_machine::same_order(x, explicit_cny));
  auto other = new_order("A1", 200);
  EXPECT_FALSE(order_machine::same_order(x, other));
  auto attach = new_order("A1");
  attach.attach = "x";
  EXPECT_FALSE(order_machine::same_order(x, attach));
}
