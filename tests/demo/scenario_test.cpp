// The scenario and the demo's configs: the same seed gives the same run,
// the faults land where the report says, refund plans stay within what was
// paid, schedules compress by the factor.

#include "demo/demo_config.hpp"
#include "demo/scenario.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include <gtest/gtest.h>

using namespace paycoord;
using namespace paycoord::demo;
using namespace std::chrono_literals;
using json = nlohmann::json;

TEST(scenario, the_same_seed_gives_the_same_customers) {
  demo_options opts;
  opts.orders = 300;
  opts.seed = 7;
  auto a = make_scenario(opts);
  auto b = make_scenario(opts);
  ASSERT_EQ(a.customers.size(), 300u);
  for (std::size_t i = 0; i < a.customers.size(); ++i) {
    EXPECT_EQ(a.customers[i].out_trade_no, b.customers[i].out_trade_no);
    EXPECT_EQ(a.customers[i].think, b.customers[i].think);
    EXPECT_EQ(a.customers[i].notification_lost, b.customers[i].notification_lost);
  }
  opts.seed = 8;
  EXPECT_NE(make_scenario(opts).customers[0].out_trade_no, a.customers[0].out_trade_no);
}

TEST(scenario, arrivals_keep_their_order_and_faults_do_not_overlap) {
  demo_options opts;
  opts.orders = 2000;
  auto s = make_scenario(opts);
  EXPECT_EQ(s.arrival_span, 40s);
  for (std::size_t i = 1; i < s.customers.size(); ++i)
    EXPECT_LE(s.customers[i - 1].arrive_at, s.customers[i].arrive_at);
  ASSERT_TRUE(s.kill_at);
  EXPECT_LT(s.business_outage.from, s.business_outage.to);
  EXPECT_GT(*s.kill_at, s.business_outage.to);
  EXPECT_LT(*s.kill_at, s.arrival_span);
  opts.crash = false;
  EXPECT_FALSE(make_scenario(opts).kill_at);
}

TEST(scenario, lost_notifications_follow_the_percentage_and_only_for_payers) {
  demo_options opts;
  opts.orders = 4000;
  opts.lost_pct = 25;
  int payers = 0, lost = 0;
  for (auto& c : make_scenario(opts).customers) {
    payers += c.pays;
    lost += c.notification_lost;
    if (!c.pays) {
      EXPECT_FALSE(c.notification_lost);
    }
  }
  EXPECT_NEAR(static_cast<double>(payers) / 4000, pay_share, 0.03);
  EXPECT_NEAR(static_cast<double>(lost) / payers, 0.25, 0.03);
  opts.lost_pct = 0;
  for (auto& c : make_scenario(opts).customers)
    EXPECT_FALSE(c.notification_lost);
}

TEST(scenario, order_ids_are_valid_out_trade_nos) {
  auto id = order_id(18446744073709551615ULL, 123456);
  EXPECT_EQ(id, "PD18446744073709551615-123456");
  EXPECT_LE(id.size(), 32u);
}

namespace {

/// CONTRACTS.md §10: 6-64 characters of [A-Za-z0-9_|*@-].
bool valid_out_refund_no(const std::string& id) {
  if (id.size() < 6 || id.size() > 64)
    return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '|' || c == '*'
           || c == '@' || c == '-';
  });
}

} // namespace

TEST(scenario, refund_customers_are_seeded_payers_whose_refunds_stay_within_the_total) {
  demo_options opts;
  opts.orders = 4000;
  opts.seed = 7;
  opts.refund_pct = 15;
  auto a = make_scenario(opts);
  auto b = make_scenario(opts);
  int payers = 0, refunding = 0, partial = 0, two_steps = 0, repeats = 0, overs = 0, fixes = 0,
      steps = 0;
  std::set<std::string> ids;
  // Waits are drawn at real-world scale and compressed 60x.
  auto longest_wait = duration{8 * 60 * 1000 / 60};
  for (std::size_t i = 0; i < a.customers.size(); ++i) {
    const auto& c = a.customers[i];
    payers += c.pays;
    ASSERT_EQ(c.refund.has_value(), b.customers[i].refund.has_value()) << c.out_trade_no;
    if (!c.refund)
      continue;
    ++refunding;
    EXPECT_TRUE(c.pays) << "only a payer asks for a refund";
    const auto& plan = *c.refund;
    const auto& same = *b.customers[i].refund;
    ASSERT_GE(plan.steps.size(), 1u);
    ASSERT_LE(plan.steps.size(), 2u);
    ASSERT_EQ(plan.steps.size(), same.steps.size());
    int64_t sum = 0;
    for (std::size_t k = 0; k < plan.steps.size(); ++k) {
      const auto& step = plan.steps[k];
      EXPECT_EQ(step.out_refund_no, same.steps[k].out_refund_no);
      EXPECT_EQ(step.amount, same.steps[k].amount);
      EXPECT_EQ(step.wait, same.steps[k].wait);
      EXPECT_EQ(step.fix_after, same.steps[k].fix_after);
      EXPECT_GE(step.amount, 1);
      EXPECT_GE(step.wait, duration{0});
      EXPECT_LE(step.wait, longest_wait);
      EXPECT_TRUE(valid_out_refund_no(step.out_refund_no)) << step.out_refund_no;
      EXPECT_TRUE(ids.insert(step.out_refund_no).second) << "unique: " << step.out_refund_no;
      sum += step.amount;
      fixes += step.fix_after.has_value();
      ++steps;
    }
    EXPECT_LE(sum, c.amount) << c.out_trade_no << ": never more than the total";
    partial += sum < c.amount || plan.steps.size() > 1;
    two_steps += plan.steps.size() == 2;
    repeats += plan.repeat_first;
    EXPECT_EQ(plan.repeat_first, same.repeat_first);
    EXPECT_EQ(plan.over_refund_after, same.over_refund_after);
    if (plan.over_refund_after) {
      ++overs;
      EXPECT_TRUE(valid_out_refund_no(plan.over_refund_no)) << plan.over_refund_no;
      EXPECT_TRUE(ids.insert(plan.over_refund_no).second);
    }
  }
  EXPECT_NEAR(static_cast<double>(refunding) / payers, 0.15, 0.02);
  EXPECT_NEAR(static_cast<double>(partial) / refunding, refund_partial_share, 0.06);
  EXPECT_NEAR(static_cast<double>(two_steps) / partial, refund_two_step_share, 0.08);
  EXPECT_NEAR(static_cast<double>(repeats) / refunding, refund_repeat_share, 0.05);
  EXPECT_NEAR(static_cast<double>(overs) / refunding, refund_over_share, 0.05);
  EXPECT_NEAR(static_cast<double>(fixes) / steps, refund_fix_share, 0.06);
}

TEST(scenario, the_refund_share_changes_nothing_else) {
  demo_options opts;
  opts.orders = 500;
  opts.seed = 3;
  opts.refund_pct = 0;
  auto none = make_scenario(opts);
  opts.refund_pct = 60;
  auto many = make_scenario(opts);
  int refunding = 0;
  for (std::size_t i = 0; i < none.customers.size(); ++i) {
    const auto& x = none.customers[i];
    const auto& y = many.customers[i];
    EXPECT_FALSE(x.refund.has_value());
    refunding += y.refund.has_value();
    EXPECT_EQ(x.amount, y.amount);
    EXPECT_EQ(x.arrive_at, y.arrive_at);
    EXPECT_EQ(x.pays, y.pays);
    EXPECT_EQ(x.think, y.think);
    EXPECT_EQ(x.notification_lost, y.notification_lost);
  }
  EXPECT_GT(refunding, 0);
  EXPECT_EQ(none.business_outage.from, many.business_outage.from);
  EXPECT_EQ(none.kill_at, many.kill_at);
}

TEST(demo_config, compress_durations_divides_every_duration) {
  json schedule{{"verify", {"5s", "30s", "1m"}}, {"default_expiry", "2h"},
                {"close_not_before", "0s"}, {"note", "not a duration"}};
  auto c = compress_durations(schedule, 60);
  EXPECT_EQ(c["verify"], json({"83ms", "500ms", "1s"}));
  EXPECT_EQ(c["default_expiry"], "2m");
  EXPECT_EQ(c["close_not_before"], "0s");
  EXPECT_EQ(c["note"], "not a duration");
  EXPECT_EQ(compress_durations("1ms", 60), "1ms"); // never rounded to zero
}

TEST(demo_config, paysim_retries_compress_by_the_same_factor) {
  demo_options opts;
  opts.compression = 50;
  opts.seed = 9;
  auto p = paysim_patch(opts);
  EXPECT_DOUBLE_EQ(p["time_factor"].get<double>(), 0.02);
  EXPECT_EQ(p["seed"], 9);
  // Lost notifications are the scenario's choice, not paysim's draw.
  EXPECT_EQ(p["faults"]["notify"]["drop_rate"], 0);
}

TEST(demo_config, the_refund_schedule_compresses_with_the_rest) {
  json schedule{{"verify", {"5s"}},
                {"refund_verify", {"1m", "5m", "10m", "20m", "30m"}},
                {"refund_verify_every", "30m"}};
  demo_options opts;
  auto p = paycoord_patch(schedule, opts);
  EXPECT_EQ(p["schedule"]["refund_verify"], json({"1s", "5s", "10s", "20s", "30s"}));
  EXPECT_EQ(p["schedule"]["refund_verify_every"], "30s");
}

TEST(demo_config, paysim_refund_faults_follow_the_options) {
  demo_options opts;
  opts.lost_pct = 25;
  auto refund = paysim_patch(opts)["faults"]["refund"];
  // 30 s to 3 min of real time at WeChat, compressed 60x.
  EXPECT_EQ(refund["processing_min"], "500ms");
  EXPECT_EQ(refund["processing_max"], "3s");
  EXPECT_DOUBLE_EQ(refund["notify_drop_rate"].get<double>(), 0.25);
  EXPECT_GT(refund["closed_rate"].get<double>(), 0);
  EXPECT_GT(refund["abnormal_rate"].get<double>(), 0);
  EXPECT_GT(refund["apply_error_rate"].get<double>(), 0);
  EXPECT_GT(refund["apply_answer_lost_rate"].get<double>(), 0);
}
