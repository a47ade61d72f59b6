// What WeChat answers that is easy to get wrong (wechatpay-v3.md §8), end to
// end: paycoord and paysim as real processes on loopback, compressed
// schedules (verify at 1 s, 2 s, 3 s, then every 2 s). Each test first checks
// that paysim plays its part of the scenario (the long message is set, the
// prepay failed, the close was refused), then what paycoord makes of it.

#include <set>
#include <string>

#include "tests/integration/e2e_fixture.hpp"

using namespace paycoord::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

class wechat_answers_e2e : public e2e_fixture {
protected:
  /// `id`'s state now, noted among the states seen.
  std::string note_state(const std::string& id) {
    auto now = state_of(id);
    seen_.insert(now);
    return now;
  }

  /// Waits for `state` at most `timeout`, noting every state seen on the way.
  bool await_state_noting(const std::string& id, const std::string& state,
                          std::chrono::milliseconds timeout) {
    return await([&] { return note_state(id) == state; }, timeout);
  }

  bool seen(const std::string& state) const {
    return seen_.contains(state);
  }

  std::string seen_states() const {
    std::string all;
    for (auto& s : seen_)
      all += (all.empty() ? "" : ", ") + s;
    return all;
  }

  /// paysim's WeChat counters for `id` (queries + closes + prepays), or, when
  /// paysim has no row, its totals.
  int64_t wechat_calls(const std::string& id) {
    auto row = sim_order(id);
    if (!row.is_null())
      return row.value("queries", 0) + row.value("closes", 0) + row.value("prepays", 0);
    auto w = report(false)["totals"]["wechat"];
    return w.value("queries", 0) + w.value("closes", 0) + w.value("prepays", 0);
  }

  /// Expects no WeChat call for `id` during `quiet` (sampled at both ends).
  void expect_calls_stopped(const std::string& id, std::chrono::milliseconds quiet) {
    auto before = wechat_calls(id);
    std::this_thread::sleep_for(quiet);
    auto after = wechat_calls(id);
    EXPECT_EQ(after, before) << "paycoord still calls WeChat for " << id << ": " << before
                             << " -> " << after << " calls in " << quiet.count()
                             << " ms; row " << sim_order(id).dump();
  }

private:
  std::set<std::string> seen_;
};

int deliveries(const json& row) {
  return row["business"].value("deliveries", 0);
}

/// 70 Chinese characters, 210 UTF-8 bytes: a cut at 200 bytes splits one.
std::string long_chinese_message() {
  const std::string phrase = "系统繁忙请稍后再试"; // 9 characters of 3 bytes
  std::string text;
  for (size_t i = 0; i < 70; ++i)
    text += phrase.substr((i % 9) * 3, 3);
  return text;
}

} // namespace

TEST_F(wechat_answers_e2e, a_long_chinese_error_message_does_not_fault_the_order) {
  const auto message = long_chinese_message();
  ASSERT_EQ(message.size(), 210u);
  faults = {{"wechat", {{"query_error_rate", 1.0}, {"error_message", message}}}};
  start();
  ASSERT_EQ(report(false)["faults"]["wechat"]["error_message"], message);
  ASSERT_EQ(create_order("LONGMSG001"), 201);

  // The verify steps at 1 s, 2 s, 3 s (and any retries) all fail, each
  // answered 500 SYSTEM_ERROR with the long message.
  auto query_errors = [&] {
    return report(false)["totals"]["wechat"].value("query_errors", 0);
  };
  EXPECT_TRUE(await(
    [&] {
      note_state("LONGMSG001");
      return query_errors() >= 3;
    },
    8s))
    << "paysim answered " << query_errors() << " queries with an error";
  EXPECT_GE(query_errors(), 3);
  EXPECT_FALSE(seen("FAULTED")) << "states seen: " << seen_states();

  ASSERT_EQ(control_post("/control/faults", {{"wechat", {{"query_error_rate", 0}}}}), 200);
  ASSERT_EQ(pay("LONGMSG001", {{"drop_notification", true}}), 200);
  EXPECT_TRUE(await_state_noting("LONGMSG001", "CONFIRMED", 8s))
    << "state " << state_of("LONGMSG001") << "; states seen: " << seen_states();
  EXPECT_FALSE(seen("FAULTED")) << "states seen: " << seen_states();

  std::this_thread::sleep_for(300ms); // a second delivery would land by now
  auto row = sim_order("LONGMSG001");
  EXPECT_EQ(row["trade_state"], "SUCCESS") << row.dump();
  EXPECT_EQ(row["notify"]["attempts"], 0) << "only a query can find it: " << row.dump();
  EXPECT_EQ(deliveries(row), 1) << row.dump();
}

namespace {

/// An order whose prepay failed, so WeChat never knew it, ends CLOSED and
/// paycoord stops calling WeChat about it, whatever a close of an unknown id
/// answers (`close_unknown_status`).
class prepay_failed_e2e : public wechat_answers_e2e {
protected:
  void run(int close_unknown_status, const std::string& id) {
    faults = {{"wechat",
               {{"prepay_error_rate", 1.0}, {"close_unknown_status", close_unknown_status}}}};
    paycoord_env["PAYCOORD_SCHEDULE__DEFAULT_EXPIRY"] = "2500ms";
    start();
    ASSERT_EQ(report(false)["faults"]["wechat"]["close_unknown_status"], close_unknown_status);

    // paysim's part: the prepay failed and WeChat does not know the order.
    ASSERT_EQ(create_order(id), 502) << "prepay failed: 502 PREPAY_FAILED, order kept";
    EXPECT_EQ(state_of(id), "PENDING");
    auto row = sim_order(id);
    EXPECT_EQ(row["known_to_wechat"], false) << row.dump();
    EXPECT_GE(row.value("prepay_errors", 0), 1) << row.dump();
    EXPECT_GE(report(false)["totals"]["wechat"].value("prepay_errors", 0), 1);

    // paycoord's part: expiry ends it CLOSED, and the calls stop.
    EXPECT_TRUE(await_state_noting(id, "CLOSED", 8s))
      << "state " << state_of(id) << "; states seen: " << seen_states()
      << "; paysim row " << sim_order(id).dump();
    expect_calls_stopped(id, 2s);

    row = sim_order(id);
    EXPECT_GE(row.value("queries", 0), 1) << row.dump();
    EXPECT_EQ(report(false)["totals"]["wechat"].value("closes_unknown", -1),
              row.value("closes", 0))
      << "every close of it was answered as an unknown id (" << close_unknown_status << ")";
    EXPECT_EQ(deliveries(row), 0);
    EXPECT_FALSE(seen("FAULTED")) << "states seen: " << seen_states();
  }
};

} // namespace

TEST_F(prepay_failed_e2e, an_order_whose_prepay_failed_ends_closed_when_close_answers_204) {
  run(204, "NOPREPAY01");
}

TEST_F(prepay_failed_e2e, an_order_whose_prepay_failed_ends_closed_when_close_answers_404) {
  run(404, "NOPREPAY02");
}

TEST_F(wechat_answers_e2e, a_refused_close_leads_to_a_query_that_finds_the_payment) {
  paycoord_env["PAYCOORD_SCHEDULE__DEFAULT_EXPIRY"] = "2500ms";
  start();
  ASSERT_EQ(create_order("REFUSED001"), 201);
  ASSERT_EQ(control_post("/control/orders/REFUSED001/pay-before-close",
                         {{"drop_notification", true}}),
            202);

  // paysim's part: at expiry paycoord closes, the close is refused ORDERPAID
  // and the payment's notification is lost.
  EXPECT_TRUE(await([&] { return sim_order("REFUSED001").value("closes_refused", 0) >= 1; }, 6s))
    << sim_order("REFUSED001").dump();
  auto row = sim_order("REFUSED001");
  EXPECT_EQ(row["trade_state"], "SUCCESS") << row.dump();
  EXPECT_EQ(row["paid_by_close"], true);
  EXPECT_EQ(row["notify"]["dropped"], 1);

  // paycoord's part: a query finds the payment; no more closes.
  EXPECT_TRUE(await_state_noting("REFUSED001", "CONFIRMED", 6s))
    << "state " << state_of("REFUSED001") << "; states seen: " << seen_states()
    << "; paysim row " << sim_order("REFUSED001").dump();
  expect_calls_stopped("REFUSED001", 2s);
  row = sim_order("REFUSED001");
  EXPECT_EQ(row["notify"]["attempts"], 0) << row.dump();
  EXPECT_EQ(deliveries(row), 1) << row.dump();
  EXPECT_FALSE(seen("FAULTED")) << "states seen: " << seen_states();
}
