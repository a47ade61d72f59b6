// The crash soak, one minute (scripts/test runs it; label `soak`): paysoak
// with every fault and a kill -9 every 2-6 s, then its soak.json must show
// every invariant at 0 and the faults really happening. Nothing here
// asserts on time.

#include <csignal>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "demo/process.hpp"
#include "tests/temp_dir.hpp"

using namespace paycoord::demo;
using json = nlohmann::json;

TEST(paysoak_run, a_minute_of_kill_9_keeps_every_invariant) {
  paycoord::testing::temp_dir dir;
  child_process soak{bin_path("paysoak"),
                     {"--minutes", "1", "--seed", "11", "--data-dir", dir.str() + "/run"},
                     {},
                     dir.str() + "/paysoak.out"};
  auto status = soak.wait(std::chrono::minutes{8});
  auto output = soak.output();
  if (!status)
    soak.signal(SIGINT);
  ASSERT_EQ(status.value_or(-1), 0) << output;

  std::ifstream in{dir.str() + "/run/soak.json"};
  auto r = json::parse(in, nullptr, false);
  ASSERT_TRUE(r.is_object()) << "no soak.json\n" << output;
  for (auto& c : r["invariants"])
    EXPECT_EQ(c["value"], 0) << c["name"] << ": " << c["description"];
  EXPECT_TRUE(r["ok"].get<bool>());

  // The faults happened: kills (some cutting a create), lost, duplicated
  // and probe-signed notifications, the business server down and erring.
  const auto& kills = r["kills"];
  EXPECT_GE(kills["kills"].get<int>(), 8);
  EXPECT_EQ(kills["recoveries_audited"], kills["kills"]);
  EXPECT_GT(kills["creates_cut"].get<int>(), 0);
  const auto& faults = r["faults"];
  EXPECT_GT(faults["notifications_lost"].get<int>(), 0);
  EXPECT_GT(faults["notifications_duplicated"].get<int>(), 0);
  EXPECT_GT(faults["business_down_rejections"].get<int>(), 0);
  EXPECT_GT(faults["business_errors"].get<int>(), 0);
  const auto& counts = r["counts"];
  EXPECT_GT(counts["paid_at_wechat"].get<int>(), 0);
  EXPECT_EQ(counts["paid_at_wechat"], counts["confirmed_at_paycoord"]);
  EXPECT_GT(r["store"]["active"].get<int>(), 0) << "the timer check saw open orders";
  EXPECT_NE(output.find("invariants (each must be 0)"), std::string::npos);
}
