// The main job, short: `paydemo --orders 200 --seed 7` with every fault
// (lost, duplicated and probe-signed notifications, the business outage,
// kill -9 of paycoord, refund faults), then its report.json must show every
// order WeChat charged confirmed at the business server, nothing unpaid
// delivered, and every refund settled with none lost or over-refunded.
// Nothing here asserts on time.

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "demo/process.hpp"
#include "tests/temp_dir.hpp"

using namespace paycoord::demo;
using json = nlohmann::json;

namespace {

class paydemo_run : public ::testing::Test {
protected:
  /// Runs paydemo to its end; returns its exit status.
  int run(const std::vector<std::string>& args) {
    child_process demo{bin_path("paydemo"), args, {}, dir.str() + "/paydemo.out"};
    auto status = demo.wait(std::chrono::minutes{4});
    output = demo.output();
    return status.value_or(-1);
  }

  json report() {
    std::ifstream in{dir.str() + "/run/report.json"};
    return json::parse(in, nullptr, false);
  }

  paycoord::testing::temp_dir dir;
  std::string output;
};

} // namespace

TEST_F(paydemo_run, a_short_run_with_every_fault_keeps_the_invariants) {
  auto status = run({"--orders", "200", "--seed", "7", "--no-color", "--data-dir",
                     dir.str() + "/run"});
  ASSERT_EQ(status, 0) << output;
  auto r = report();
  ASSERT_TRUE(r.is_object()) << "no report.json\n" << output;

  const auto& counts = r["counts"];
  EXPECT_EQ(counts["orders"], 200);
  EXPECT_EQ(counts["created"], 200);
  EXPECT_GT(counts["paid_at_wechat"].get<int>(), 0);
  EXPECT_EQ(counts["paid_at_wechat"], counts["confirmed_at_business"]);
  EXPECT_EQ(counts["paid_at_wechat"], counts["confirmed_at_paycoord"]);
  EXPECT_EQ(counts["lost"], 0);
  EXPECT_EQ(counts["unpaid_delivered"], 0);
  EXPECT_EQ(counts["wrongly_paid"], 0);
  EXPECT_TRUE(r["ok"].get<bool>()) << r["invariants"].dump(2);

  // The faults really happened, and each paid order has a resolution.
  EXPECT_GT(r["faults"]["notifications_lost"].get<int>(), 0);
  EXPECT_EQ(r["faults"]["kill9"], 1);
  EXPECT_EQ(r["faults"]["probes_accepted"], 0);
  const auto& how = r["resolution"];
  EXPECT_EQ(how["unresolved"], 0);
  EXPECT_EQ(how["notification"].get<int>() + how["verify_query"].get<int>()
              + how["after_restart"].get<int>(),
            counts["paid_at_wechat"].get<int>());
  EXPECT_GT(how["verify_query"].get<int>(), 0) << "lost notifications are found by queries";

  // Refunds (15% of payers by default): asked, settled, none lost.
  const auto& refunds = r["refunds"];
  EXPECT_GT(refunds["requested"].get<int>(), 0);
  EXPECT_EQ(refunds["requested_at_wechat"], refunds["requested"]);
  EXPECT_GT(refunds["succeeded_at_wechat"].get<int>(), 0);
  EXPECT_EQ(refunds["delivered"]["succeeded"], refunds["succeeded_at_wechat"]);
  EXPECT_EQ(refunds["lost"], 0);
  EXPECT_EQ(refunds["refunded_over_paid"], 0);
  EXPECT_EQ(refunds["wrong_deliveries"], 0);
  EXPECT_EQ(refunds["unsettled"], 0) << refunds["list"].dump(2);
  EXPECT_GT(refunds["repeats"].get<int>(), 0);
  EXPECT_EQ(refunds["repeats_not_deduped"], 0);
  EXPECT_GT(refunds["over_refunds"].get<int>(), 0);
  EXPECT_EQ(refunds["over_refunds_not_refused"], 0);

  EXPECT_TRUE(std::filesystem::exists(dir.str() + "/run/report.html"));
  EXPECT_NE(output.find("report.html"), std::string::npos) << "the report's path is printed";
}

TEST_F(paydemo_run, refuses_a_data_dir_that_already_holds_a_store) {
  std::filesystem::create_directories(dir.str() + "/run/data");
  std::ofstream{dir.str() + "/run/data/CURRENT"} << "MANIFEST-000001\n";
  EXPECT_EQ(run({"--orders", "1", "--data-dir", dir.str() + "/run"}), 2) << output;
}
