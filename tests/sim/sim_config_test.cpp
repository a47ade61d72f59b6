#include "sim/sim_config.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/temp_dir.hpp"

namespace {

using paycoord::sim::load_paysim_config;
using namespace std::chrono_literals;

std::string source_dir() {
  const char* root = std::getenv("PAYCOORD_SOURCE_DIR");
  return root != nullptr ? root : ".";
}

nlohmann::json example() {
  std::ifstream in(source_dir() + "/config/paysim.example.json");
  return nlohmann::json::parse(in);
}

/// `[[start, end]]` (a brace list of two strings would make a JSON object).
nlohmann::json windows(const char* start, const char* end) {
  return nlohmann::json::array({nlohmann::json::array({start, end})});
}

/// Writes `doc` into `dir` and loads it.
auto load(const paycoord::testing::temp_dir& dir, const nlohmann::json& doc) {
  auto path = dir.path() / "paysim.json";
  std::ofstream(path) << doc.dump();
  return load_paysim_config(path.string());
}

TEST(sim_config, the_example_loads_and_its_key_paths_resolve_against_its_folder) {
  auto cfg = load_paysim_config(source_dir() + "/config/paysim.example.json");
  ASSERT_TRUE(cfg) << cfg.error().message();
  EXPECT_EQ(cfg->listen.wechat, "127.0.0.1:8090");
  EXPECT_EQ(cfg->listen.business, "127.0.0.1:9000");
  EXPECT_EQ(cfg->listen.control, "127.0.0.1:8091");
  EXPECT_EQ(cfg->wechatpay.mchid, "1900000001");
  EXPECT_EQ(cfg->business.secret, "sandbox-business-hmac-secret");
  EXPECT_TRUE(std::filesystem::exists(cfg->wechatpay.merchant_public_key_file));
  EXPECT_TRUE(std::filesystem::exists(cfg->wechatpay.platform_private_key_file));
}

TEST(sim_config, the_example_matches_paycoords_example) {
  std::ifstream in(source_dir() + "/config/paycoord.example.json");
  auto paycoord = nlohmann::json::parse(in);
  auto sim = example();
  for (auto key : {"mchid", "appid", "apiv3_key", "merchant_serial_no", "platform_public_key_id"})
    EXPECT_EQ(sim["wechatpay"][key], paycoord["wechatpay"][key]) << key;
  EXPECT_EQ(sim["business"]["secret"], paycoord["business"]["secret"]);
  EXPECT_EQ("http://" + sim["listen"]["business"].get<std::string>()
              + sim["business"]["path"].get<std::string>(),
            paycoord["business"]["callback_url"]);
  EXPECT_EQ("http://" + sim["listen"]["wechat"].get<std::string>(),
            paycoord["wechatpay"]["base_url"]);
}

TEST(sim_config, faults_and_scales_are_read) {
  paycoord::testing::temp_dir dir;
  auto doc = example();
  doc["time_factor"] = 0.01;
  doc["faults"]["notify"]["drop_rate"] = 0.25;
  doc["faults"]["notify"]["reorder"] = "2s";
  doc["faults"]["business"]["down"] = windows("1s", "3s");
  doc["faults"]["wechat"]["prepay_error_rate"] = 0.5;
  doc["faults"]["wechat"]["close_unknown_status"] = 404;
  doc["faults"]["wechat"]["error_message"] = "系统繁忙，请稍后再试";
  doc["faults"]["refund"]["processing_max"] = "10s";
  doc["faults"]["refund"]["abnormal_rate"] = 0.1;
  doc["faults"]["refund"]["apply_answer_lost_rate"] = 0.2;
  auto cfg = load(dir, doc);
  ASSERT_TRUE(cfg) << cfg.error().message();
  EXPECT_DOUBLE_EQ(cfg->time_factor, 0.01);
  EXPECT_DOUBLE_EQ(cfg->faults.notify.drop_rate, 0.25);
  EXPECT_EQ(cfg->faults.notify.reorder, 2s);
  ASSERT_EQ(cfg->faults.business.down.size(), 1u);
  EXPECT_EQ(cfg->faults.business.down[0].start, 1s);
  EXPECT_EQ(cfg->faults.business.down[0].end, 3s);
  EXPECT_DOUBLE_EQ(cfg->faults.wechat.prepay_error_rate, 0.5);
  EXPECT_EQ(cfg->faults.wechat.close_unknown_status, 404);
  EXPECT_EQ(cfg->faults.wechat.error_message, "系统繁忙，请稍后再试");
  EXPECT_EQ(cfg->faults.refund.processing_min, 1s);
  EXPECT_EQ(cfg->faults.refund.processing_max, 10s);
  EXPECT_DOUBLE_EQ(cfg->faults.refund.abnormal_rate, 0.1);
  EXPECT_DOUBLE_EQ(cfg->faults.refund.apply_answer_lost_rate, 0.2);
  EXPECT_EQ(cfg->faults.refund.closed_rate, 0);
}

TEST(sim_config, the_new_wechat_faults_default_to_todays_answers) {
  auto cfg = load_paysim_config(source_dir() + "/config/paysim.example.json");
  ASSERT_TRUE(cfg) << cfg.error().message();
  EXPECT_EQ(cfg->faults.wechat.prepay_error_rate, 0);
  EXPECT_EQ(cfg->faults.wechat.close_unknown_status, 204);
  EXPECT_EQ(cfg->faults.wechat.error_message, "");
}

TEST(sim_config, errors_name_the_key) {
  paycoord::testing::temp_dir dir;
  struct bad_case {
    nlohmann::json::json_pointer pointer;
    nlohmann::json value;
    std::string key;
  };
  std::vector<bad_case> cases = {
    {"/faults/notify/drop_rate"_json_pointer, 1.5, "faults.notify.drop_rate"},
    {"/faults/notify/dorp_rate"_json_pointer, 0.5, "faults.notify.dorp_rate"},
    {"/faults/wechat/latency"_json_pointer, "5 parsecs", "faults.wechat.latency"},
    {"/faults/wechat/prepay_error_rate"_json_pointer, 1.5, "faults.wechat.prepay_error_rate"},
    {"/faults/wechat/close_unknown_status"_json_pointer, 200,
     "faults.wechat.close_unknown_status"},
    {"/faults/wechat/close_unknown_status"_json_pointer, "404",
     "faults.wechat.close_unknown_status"},
    {"/faults/wechat/error_message"_json_pointer, 42, "faults.wechat.error_message"},
    {"/faults/wechat/error_message"_json_pointer, std::string(5000, 'x'),
     "faults.wechat.error_message"},
    {"/faults/business/down"_json_pointer, windows("3s", "1s"), "faults.business.down"},
    {"/faults/refund/closed_rate"_json_pointer, 1.5, "faults.refund.closed_rate"},
    {"/faults/refund/apply_error_rate"_json_pointer, "often", "faults.refund.apply_error_rate"},
    {"/faults/refund/processing_max"_json_pointer, "500ms", "faults.refund.processing_max"},
    {"/faults/refund/processing_max"_json_pointer, "25h", "faults.refund.processing_max"},
    {"/faults/refund/delay"_json_pointer, "1s", "faults.refund.delay"},
    {"/wechatpay/apiv3_key"_json_pointer, "", "wechatpay.apiv3_key"},
    {"/listen/control"_json_pointer, "127.0.0.1", "listen.control"},
    {"/notify/workers"_json_pointer, 0, "notify.workers"},
    {"/seed"_json_pointer, "one", "seed"},
    {"/colour"_json_pointer, "blue", "colour"},
  };
  for (auto& c : cases) {
    auto doc = example();
    doc[c.pointer] = c.value;
    auto cfg = load(dir, doc);
    ASSERT_FALSE(cfg) << c.key;
    EXPECT_EQ(cfg.error().key, c.key) << cfg.error().message();
  }
}

TEST(sim_config, a_secret_is_required_and_never_echoed) {
  paycoord::testing::temp_dir dir;
  auto doc = example();
  doc["business"].erase("secret");
  auto cfg = load(dir, doc);
  ASSERT_FALSE(cfg);
  EXPECT_EQ(cfg.error().key, "business.secret");
  doc = example();
  doc["business"]["secret"] = 42;
  cfg = load(dir, doc);
  ASSERT_FALSE(cfg);
  EXPECT_EQ(cfg.error().message().find("42"), std::string::npos) << cfg.error().message();
}

} // namespace
