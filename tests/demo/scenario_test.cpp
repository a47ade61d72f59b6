// The scenario and the demo's configs: the same seed gives the same run,
// the faults land where the report says, schedules compress by the factor.

#include "demo/demo_config.hpp"
#include "demo/scenario.hpp"

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
