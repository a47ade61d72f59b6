// The crash soak's counts on synthetic rows: which creates a kill cut, what
// a recovery logged, the store audit (lost, unreadable, inconsistent,
// without a timer, parked) and the invariants built from them.

#include "demo/soak_report.hpp"

#include <gtest/gtest.h>

using namespace paycoord::demo;

namespace {

constexpr int64_t now = 1'800'000'000'000;

stored_order armed(std::string state, int64_t amount = 100) {
  stored_order x;
  x.listed = true;
  x.detail_status = 200;
  x.state = std::move(state);
  x.amount_total = amount;
  x.actor_alive = true;
  x.next_action = "verify";
  x.next_due_ms = now + 1'000;
  return x;
}

stored_order terminal(std::string state, int64_t amount = 100) {
  auto x = armed(std::move(state), amount);
  x.actor_alive = false;
  x.next_action.clear();
  x.next_due_ms = 0;
  return x;
}

store_audit audit(const std::vector<expected_order>& expected,
                  const std::map<std::string, stored_order>& stored) {
  return audit_store(expected, stored, 0, 0, now, 30'000);
}

const invariant_check& invariant(const std::vector<invariant_check>& all, const std::string& name) {
  for (auto& c : all)
    if (c.name == name)
      return c;
  throw std::runtime_error("no invariant " + name);
}

} // namespace

TEST(soak_kills, a_create_counts_as_cut_only_when_the_customer_had_to_try_again) {
  auto trace = [](int attempts, int status) {
    order_trace t;
    t.created_ms = 1;
    t.create_attempts = attempts;
    t.create_status = status;
    return t;
  };
  std::vector<order_trace> traces{trace(2, 200),  // stored, answer lost
                                  trace(3, 201),  // not durable
                                  trace(1, 201)}; // answered anyway
  kill_sample k;
  k.aimed = true;
  k.creates_out = {{0, 1}, {1, 2}, {2, 1}};
  k.store_busy_share = 0.25;
  k.store_batches = 40;
  k.uptime_s = 3;
  k.downtime_ms = 100;
  kill_sample quiet;
  quiet.uptime_s = 5;
  quiet.downtime_ms = 300;
  quiet.store_batches = 60;

  auto s = summarize_kills({k, quiet}, traces);
  EXPECT_EQ(s.kills, 2);
  EXPECT_EQ(s.aimed_kills, 1);
  EXPECT_EQ(s.kills_with_creates_out, 1);
  EXPECT_EQ(s.creates_out, 3);
  EXPECT_EQ(s.creates_cut, 2);
  EXPECT_EQ(s.cut_after_sync, 1);
  EXPECT_EQ(s.cut_before_sync, 1);
  EXPECT_EQ(s.kills_store_busy, 1);
  EXPECT_DOUBLE_EQ(s.expected_inside_sync, 0.25);
  EXPECT_EQ(s.store_batches, 100);
  EXPECT_DOUBLE_EQ(s.uptime_mean_s, 4);
  EXPECT_DOUBLE_EQ(s.downtime_mean_ms, 200);
  EXPECT_DOUBLE_EQ(s.downtime_max_ms, 300);
}

TEST(soak_kills, recovery_facts_come_from_paycoords_log_and_leveldbs) {
  auto r = parse_recovery(
    "2026-12-02T08:02:44.836+00:00 info event=store_opened data_dir=d orders=90 active=57\n"
    "2026-12-02T08:02:44.837+00:00 info event=ready timers_in_memory=57\n"
    "2026-12-02T08:02:44.839+00:00 info event=audit_done unreadable=2 repaired=1\n",
    "2026/12/02-08:03:08.124443 1404 Recovering log #22\n"
    "2026/12/02-08:03:08.124500 1404 (ignoring error) 000022.log: dropping 123 bytes; "
    "Corruption: truncated record at end of file\n"
    "2026/12/02-08:03:08.125015 1404 Level-0 table #24: started\n");
  EXPECT_TRUE(r.audited);
  EXPECT_EQ(r.active, 57);
  EXPECT_EQ(r.unreadable, 2);
  EXPECT_EQ(r.index_repairs, 1);
  EXPECT_EQ(r.logs_replayed, 1);
  EXPECT_EQ(r.torn_records, 1);

  EXPECT_FALSE(parse_recovery("info event=ready timers_in_memory=0\n", "").audited);
}

TEST(soak_audit, a_clean_store_counts_nothing) {
  auto a = audit({{"A1", 100}, {"A2", 100}, {"A3", 100}},
                 {{"A1", armed("PENDING")}, {"A2", terminal("CONFIRMED")},
                  {"A3", terminal("CLOSED")}});
  EXPECT_EQ(a.expected, 3);
  EXPECT_EQ(a.listed, 3);
  EXPECT_EQ(a.active, 1);
  EXPECT_EQ(a.records_lost + a.records_unreadable + a.records_inconsistent + a.without_timer
              + a.overdue_timers + a.parked,
            0);
  EXPECT_TRUE(a.failing.empty());
}

TEST(soak_audit, an_order_answered_but_not_stored_is_lost) {
  stored_order gone;
  gone.detail_status = 404;
  auto a = audit({{"A1", 100}, {"A2", 100}, {"A3", 0}},
                 {{"A1", armed("PAID")}, {"A2", gone}});
  EXPECT_EQ(a.records_lost, 2); // A2 answers 404, A3 is nowhere
  EXPECT_EQ(a.failing, (std::vector<std::string>{"A2", "A3"}));
}

TEST(soak_audit, unreadable_and_inconsistent_records_are_counted) {
  stored_order broken;
  broken.listed = true;
  broken.detail_status = 500;
  auto gap = terminal("CONFIRMED");
  gap.events_complete = false;
  auto a = audit({{"A1", 100}, {"A2", 250}, {"A3", 100}},
                 {{"A1", broken}, {"A2", terminal("CONFIRMED", 100)}, {"A3", gap}});
  EXPECT_EQ(a.records_unreadable, 1);
  EXPECT_EQ(a.records_inconsistent, 2); // A2's amount, A3's timeline
  EXPECT_EQ(a.records_lost, 0);
}

TEST(soak_audit, an_open_order_needs_a_live_armed_timer_or_a_call_in_flight) {
  auto no_actor = armed("PENDING");
  no_actor.actor_alive = false;
  auto passivated = armed("PENDING");
  passivated.actor_alive = false;
  passivated.passivated = true;
  auto no_action = armed("PAID");
  no_action.next_action.clear();
  auto calling = armed("PENDING");
  calling.next_action.clear();
  calling.in_flight = true;
  auto stale = armed("PENDING");
  stale.next_due_ms = now - 60'000;
  auto late_but_fine = armed("PENDING");
  late_but_fine.next_due_ms = now - 10'000;
  auto a = audit({}, {{"A1", no_actor},
                      {"A2", no_action},
                      {"A3", calling},
                      {"A4", stale},
                      {"A5", late_but_fine},
                      {"A6", passivated}});
  EXPECT_EQ(a.active, 6);
  EXPECT_EQ(a.without_timer, 2);
  EXPECT_EQ(a.overdue_timers, 1);
  EXPECT_EQ(a.failing, (std::vector<std::string>{"A1", "A2", "A4"}));
}

TEST(soak_audit, parked_orders_are_counted) {
  auto a = audit({}, {{"A1", terminal("FAULTED")}, {"A2", terminal("ORPHAN")},
                      {"A3", terminal("CLOSED")}});
  EXPECT_EQ(a.parked, 2);
  EXPECT_EQ(a.without_timer, 0) << "parked orders have no timer by design";
}

TEST(soak_invariants, every_failing_count_fails_its_invariant) {
  reconciliation r;
  r.paid_at_wechat = 10;
  r.confirmed_at_business = 9;
  r.lost = 1;
  r.unpaid_delivered = 2;
  r.wrongly_paid = 3;
  store_audit a;
  a.records_lost = 4;
  a.records_unreadable = 1;
  a.listing_errors = 1;
  a.summary_unreadable = 1;
  a.records_inconsistent = 6;
  a.without_timer = 3;
  a.overdue_timers = 4;
  a.parked = 8;
  kill_summary k;
  k.kills = 5;
  k.recoveries_audited = 4;
  k.unreadable_at_recovery = 2;
  k.index_repairs = 2;
  auto all = soak_invariants(r, a, k);
  EXPECT_EQ(invariant(all, "paid_not_confirmed").value, 1);
  EXPECT_EQ(invariant(all, "paid_minus_delivered").value, 1);
  EXPECT_EQ(invariant(all, "unpaid_delivered").value, 2);
  EXPECT_EQ(invariant(all, "wrongly_paid").value, 3);
  EXPECT_EQ(invariant(all, "records_lost").value, 4);
  EXPECT_EQ(invariant(all, "records_unreadable").value, 5);
  EXPECT_EQ(invariant(all, "restarts_unaudited").value, 1);
  EXPECT_EQ(invariant(all, "index_repairs").value, 2);
  EXPECT_EQ(invariant(all, "records_inconsistent").value, 6);
  EXPECT_EQ(invariant(all, "orders_without_timer").value, 7);
  EXPECT_EQ(invariant(all, "parked_orders").value, 8);
  for (auto& c : all) {
    if (c.name != "probes_accepted" && c.name != "bad_signatures") {
      EXPECT_FALSE(c.ok()) << c.name;
    }
  }

  auto clean = soak_invariants(reconciliation{}, store_audit{}, kill_summary{});
  for (auto& c : clean)
    EXPECT_TRUE(c.ok()) << c.name;
}

TEST(soak_report_text, prints_every_invariant_with_its_count_and_verdict) {
  store_audit a;
  a.without_timer = 1;
  auto all = soak_invariants(reconciliation{}, a, kill_summary{});
  nlohmann::json checks = nlohmann::json::array();
  for (auto& c : all)
    checks.push_back({{"name", c.name},
                      {"description", c.description},
                      {"value", c.value},
                      {"ok", c.ok()}});
  auto text = render_soak_text({{"invariants", checks},
                                {"kills", to_json(kill_summary{})},
                                {"store", to_json(a)}});
  EXPECT_NE(text.find("orders_without_timer          1  FAIL"), std::string::npos) << text;
  EXPECT_NE(text.find("records_lost                  0  ok"), std::string::npos) << text;
}
