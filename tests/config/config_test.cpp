#include "config/config.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>

#include <gtest/gtest.h>
#include <unistd.h>

using namespace paycoord;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// Recognisable values, so a leak is easy to spot in any output.
const std::string apiv3_key = "SECRETapiv3SECRETapiv3SECRETapi3";
const std::string business_secret = "SECRET-business-hmac";
const std::string admin_token = "SECRET-admin-token-0001";

/// A config that passes validation, with absolute key paths.
paycoord_config valid_config() {
  paycoord_config cfg;
  cfg.wechatpay.mchid = "1900000001";
  cfg.wechatpay.appid = "wx8888888888888888";
  cfg.wechatpay.apiv3_key = apiv3_key;
  cfg.wechatpay.merchant_serial_no = "7E1A6C5B2F0D4E3A";
  cfg.wechatpay.merchant_private_key_file = "/keys/merchant_key.pem";
  cfg.wechatpay.platform_public_key_id = "PUB_KEY_ID_0119000000012026112600000000000001";
  cfg.wechatpay.platform_public_key_file = "/keys/pub_key.pem";
  cfg.wechatpay.notify_url = "https://pay.example.com/v1/wechatpay/notify";
  cfg.business.secret = business_secret;
  cfg.admin.token = admin_token;
  return cfg;
}

/// The required keys as environment variables: with them alone, a config loads.
std::map<std::string, std::string> required_env() {
  return {
    {"PAYCOORD_WECHATPAY__MCHID", "1900000001"},
    {"PAYCOORD_WECHATPAY__APPID", "wx8888888888888888"},
    {"PAYCOORD_WECHATPAY__APIV3_KEY", apiv3_key},
    {"PAYCOORD_WECHATPAY__MERCHANT_SERIAL_NO", "7E1A6C5B2F0D4E3A"},
    {"PAYCOORD_WECHATPAY__MERCHANT_PRIVATE_KEY_FILE", "/keys/merchant_key.pem"},
    {"PAYCOORD_WECHATPAY__PLATFORM_PUBLIC_KEY_ID", "PUB_KEY_ID_01"},
    {"PAYCOORD_WECHATPAY__PLATFORM_PUBLIC_KEY_FILE", "/keys/pub_key.pem"},
    {"PAYCOORD_WECHATPAY__NOTIFY_URL", "https://pay.example.com/v1/wechatpay/notify"},
    {"PAYCOORD_BUSINESS__SECRET", business_secret},
    {"PAYCOORD_ADMIN__TOKEN", admin_token},
  };
}

fs::path source_dir() {
  if (const char* dir = std::getenv("PAYCOORD_SOURCE_DIR"))
    return dir;
  return fs::path(__FILE__).parent_path().parent_path().parent_path();
}

class config_file_test : public testing::Test {
protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "config_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }

  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  /// Writes `text` to `name` in the temp dir and returns its path.
  std::string write(const std::string& name, const std::string& text) {
    auto path = dir_ / name;
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << text;
    return path.string();
  }

  expected<paycoord_config, config_error>
  load(const nlohmann::json& document, const std::map<std::string, std::string>& env = {},
       const std::vector<std::pair<std::string, std::string>>& overrides = {}) {
    return load_config(write("paycoord.json", document.dump(2)), env, overrides);
  }

  fs::path dir_;
};

nlohmann::json full_document() {
  return to_json(valid_config(), /*mask_secrets=*/false);
}

} // namespace

// -- defaults ----------------------------------------------------------------

TEST(config_defaults, match_the_contract) {
  paycoord_config cfg;
  EXPECT_EQ(cfg.data_dir, "./data");
  EXPECT_EQ(cfg.listen.public_endpoint, "127.0.0.1:8080");
  EXPECT_EQ(cfg.listen.admin, "127.0.0.1:8081");
  EXPECT_EQ(cfg.listen.metrics, "127.0.0.1:9464");
  EXPECT_EQ(cfg.wechatpay.base_url, "https://api.mch.weixin.qq.com");
  EXPECT_EQ(cfg.wechatpay.notify_path, "/v1/wechatpay/notify");
  EXPECT_EQ(cfg.wechatpay.max_clock_skew, 5min);
  EXPECT_EQ(cfg.wechatpay.rate_limit_qps, 100);
  EXPECT_EQ(cfg.wechatpay.timeout, 5s);
  EXPECT_EQ(cfg.wechatpay.concurrency, 16);
  EXPECT_EQ(cfg.business.callback_url, "http://127.0.0.1:9000/orders/paid");
  EXPECT_EQ(cfg.business.timeout, 3s);
  EXPECT_EQ(cfg.business.concurrency, 32);
  EXPECT_EQ(cfg.schedule.verify,
            (std::vector<duration>{5s, 30s, 1min, 3min, 5min, 10min, 30min}));
  EXPECT_EQ(cfg.schedule.verify_every, 30min);
  EXPECT_EQ(cfg.schedule.userpaying_retry, 5s);
  EXPECT_EQ(cfg.schedule.default_expiry, 2h);
  EXPECT_EQ(cfg.schedule.forward_backoff_initial, 1s);
  EXPECT_EQ(cfg.schedule.forward_backoff_max, 5min);
  EXPECT_EQ(cfg.schedule.stuck_after, 1h);
  EXPECT_EQ(cfg.schedule.close_not_before, 5min);
}

TEST(config_defaults, print_back_as_the_contract_writes_them) {
  auto out = to_json(paycoord_config{});
  EXPECT_EQ(out["listen"]["public"], "127.0.0.1:8080");
  EXPECT_EQ(out["wechatpay"]["max_clock_skew"], "5m");
  EXPECT_EQ(out["wechatpay"]["rate_limit_qps"], 100);
  EXPECT_EQ(out["schedule"]["verify"],
            nlohmann::json({"5s", "30s", "1m", "3m", "5m", "10m", "30m"}));
  EXPECT_EQ(out["schedule"]["default_expiry"], "2h");
}

TEST(config_defaults, the_required_keys_are_all_a_config_needs) {
  auto cfg = load_config("", required_env());
  ASSERT_TRUE(cfg) << cfg.error().message();
  EXPECT_EQ(cfg->wechatpay.apiv3_key, apiv3_key);
  EXPECT_EQ(cfg->listen.metrics, "127.0.0.1:9464");
  EXPECT_EQ(cfg->schedule.verify.size(), 7u);
}

TEST(config_defaults, a_missing_required_key_is_named_with_its_variable) {
  auto env = required_env();
  env.erase("PAYCOORD_BUSINESS__SECRET");
  auto cfg = load_config("", env);
  ASSERT_FALSE(cfg);
  EXPECT_EQ(cfg.error().key, "business.secret");
  EXPECT_NE(cfg.error().reason.find("missing"), std::string::npos);
  EXPECT_NE(cfg.error().reason.find("PAYCOORD_BUSINESS__SECRET"), std::string::npos);
}

// -- the file layer ------------------------------------------------------------

TEST_F(config_file_test, reads_every_key_from_the_file) {
  auto document = full_document();
  document["data_dir"] = "/var/lib/paycoord";
  document["listen"]["public"] = "0.0.0.0:0";
  document["wechatpay"]["rate_limit_qps"] = 7;
  document["wechatpay"]["max_clock_skew"] = "90s";
  document["business"]["timeout"] = "250ms";
  document["schedule"]["verify"] = {"1s", "2s", "1m"};
  auto cfg = load(document);
  ASSERT_TRUE(cfg) << cfg.error().message();
  EXPECT_EQ(cfg->data_dir, "/var/lib/paycoord");
  EXPECT_EQ(cfg->listen.public_endpoint, "0.0.0.0:0");
  EXPECT_EQ(cfg->wechatpay.rate_limit_qps, 7);
  EXPECT_EQ(cfg->wechatpay.max_clock_skew, 90s);
  EXPECT_EQ(cfg->business.timeout, 250ms);
  EXPECT_EQ(cfg->schedule.verify, (std::vector<duration>{1s, 2s, 1min}));
  EXPECT_EQ(cfg->admin.token, admin_token);
}

// Found by config_fuzz: {"data_dir":"./a","":"./b"} was an error naming no
// key ("" read as the top level itself).
TEST_F(config_file_test, an_empty_key_is_named_at_the_top_level_and_in_a_section) {
  auto top = load(nlohmann::json{{"data_dir", "./a"}, {"", "./b"}});
  ASSERT_FALSE(top);
  EXPECT_EQ(top.error().key, "\"\"");
  EXPECT_NE(top.error().reason.find("an empty key"), std::string::npos) << top.error().message();
  auto inner = load(nlohmann::json{{"schedule", {{"", "1s"}}}});
  ASSERT_FALSE(inner);
  EXPECT_EQ(inner.error().key, "schedule.\"\"");
  EXPECT_NE(inner.error().reason.find("verify"), std::string::npos) << inner.error().message();
}

TEST_F(config_file_test, keys_left_out_of_the_file_keep_their_defaults) {
  auto document = full_document();
  document.erase("schedule");
  document["listen"].erase("admin");
  auto cfg = load(document);
  ASSERT_TRUE(cfg) << cfg.error().message();
  EXPECT_EQ(cfg->listen.admin, "127.0.0.1:8081");
  EXPECT_EQ(cfg->schedule.verify_every, 30min);
}

TEST_F(config_file_test, the_unmasked_output_loads_back_as_the_same_config) {
  auto document = full_document();
  document["schedule"]["verify"] = {"250ms", "1500ms", "2h"};
  auto first = load(document);
  ASSERT_TRUE(first) << first.error().message();
  auto second = load(to_json(*first, /*mask_secrets=*/false));
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(*first, *second);
}

TEST_F(config_file_test, relative_key_paths_resolve_against_the_config_directory) {
  auto document = full_document();
  document["wechatpay"]["merchant_private_key_file"] = "keys/merchant_key.pem";
  document["wechatpay"]["platform_public_key_file"] = "../shared/pub_key.pem";
  document["wechatpay"]["platform_certificates_dir"] = "certs";
  document["data_dir"] = "relative/data";
  auto file = write("etc/paycoord.json", document.dump());
  auto cfg = load_config(file, {});
  ASSERT_TRUE(cfg) << cfg.error().message();
  auto etc = (dir_ / "etc").lexically_normal();
  EXPECT_EQ(cfg->wechatpay.merchant_private_key_file, (etc / "keys/merchant_key.pem").string());
  EXPECT_EQ(cfg->wechatpay.platform_public_key_file, (dir_ / "shared/pub_key.pem").string());
  EXPECT_EQ(cfg->wechatpay.platform_certificates_dir, (etc / "certs").string());
  EXPECT_EQ(cfg->data_dir, "relative/data"); // the working directory's business
}

TEST_F(config_file_test, absolute_key_paths_and_paths_from_the_environment_stay_as_given) {
  auto document = full_document();
  document["wechatpay"]["platform_public_key_file"] = "keys/pub_key.pem";
  auto file = write("etc/paycoord.json", document.dump());
  auto cfg = load_config(file, {{"PAYCOORD_WECHATPAY__PLATFORM_PUBLIC_KEY_FILE", "env/pub.pem"}});
  ASSERT_TRUE(cfg) << cfg.error().message();
  EXPECT_EQ(cfg->wechatpay.merchant_private_key_file, "/keys/merchant_key.pem");
  EXPECT_EQ(cfg->wechatpay.platform_public_key_file, "env/pub.pem");
}

TEST_F(config_file_test, a_syntax_error_names_the_file_line_and_column) {
  auto file = write("broken.json", "{\n  \"data_dir\": \"./data\",\n  \"listen\": {,\n}\n");
  auto cfg = load_config(file, required_env());
  ASSERT_FALSE(cfg);
  EXPECT_EQ(cfg.error().key, file);
  EXPECT_NE(cfg.error().reason.find("line 3"), std::string::npos) << cfg.error().reason;
  EXPECT_NE(cfg.error().reason.find("column"), std::string::npos) << cfg.error().reason;
}

TEST_F(config_file_test, an_unreadable_or_oversized_file_is_named) {
  auto missing = (dir_ / "nope.json").string();
  auto cfg = load_config(missing, required_env());
  ASSERT_FALSE(cfg);
  EXPECT_EQ(cfg.error().key, missing);

  cfg = load_config(dir_.string(), required_env());
  ASSERT_FALSE(cfg);
  EXPECT_EQ(cfg.error().key, dir_.string());

  auto big = write("big.json", "{\"data_dir\": \"" + std::string(1 << 20, 'x') + "\"}");
  cfg = load_config(big, required_env());
  ASSERT_FALSE(cfg);
  EXPECT_EQ(cfg.error().key, big);
  EXPECT_NE(cfg.error().reason.find("1 MiB"), std::string::npos);

  auto list = write("list.json", "[1, 2]");
  cfg = load_config(list, required_env());
  ASSERT_FALSE(cfg);
  EXPECT_EQ(cfg.error().key, list);
}

TEST_F(config_file_test, unknown_keys_in_the_file_are_rejected_by_path) {
  auto document = full_document();
  document["wechatpay"]["apiv3key"] = "typo";
  auto cfg = load(document);
  ASSERT_FALSE(cfg);
  EXPECT_EQ(cfg.error().key, "wechatpay.apiv3key");
  EXPECT_NE(cfg.error().reason.find("apiv3_key"), std::string::npos); // lists the real ones

  document = full_document();
  document["listn"] = {{"public", "127.0.0.1:1"}};
  cfg = load(document);
  ASSERT_FALSE(cfg);
  EXPECT_EQ(cfg.error().key, "listn");

  document = full_document();
  document["listen"] = "127.0.0.1:8080";
  cfg = load(document);
  ASSERT_FALSE(cfg);
  EXPECT_EQ(cfg.error().key, "listen");
}

TEST_F(config_file_test, a_key_given_twice_is_rejected) {
  auto file = write("twice.json", R"({"business": {"timeout": "1s", "timeout": "2s"}})");
  auto cfg = load_config(file, required_env());
  ASSERT_FALSE(cfg);
  EXPECT_EQ(cfg.error().key, "business.timeout");
}

TEST_F(config_file_test, type_errors_name_the_key) {
  auto document = full_document();
  document["business"]["concurrency"] = "abc";
  auto cfg = load(document);
  ASSERT_FALSE(cfg);
  EXPECT_EQ(cfg.error().message(), "business.concurrency: expected an integer, got \"abc\"");

  const std::pair<std::string, nlohmann::json> wrong_types[] = {
    {"/wechatpay/timeout", 5},             // a duration needs its unit
    {"/wechatpay/mchid", 1900000001},      // strings are strings in the file
    {"/wechatpay/rate_limit_qps", 1.5},    // no fractions
    {"/business/concurrency", 99999999999}, // beyond int
    {"/schedule/verify", "5s"},            // a list
  };
  for (auto& [pointer, value] : wrong_types) {
    document = full_document();
    document[nlohmann::json::json_pointer(pointer)] = value;
    cfg = load(document);
    ASSERT_FALSE(cfg) << pointer;
    auto key = pointer.substr(1);
    std::replace(key.begin(), key.end(), '/', '.');
    EXPECT_EQ(cfg.error().key, key) << cfg.error().message();
  }
}

TEST_F(config_file_test, five_parsecs_is_not_a_duration) {
  auto document = full_document();
  document["schedule"]["verify"] = {"5s", "5 parsecs"};
  auto cfg = load(document);
  ASSERT_FALSE(cfg);
  EXPECT_EQ(cfg.error().key, "schedule.verify");
  EXPECT_EQ(cfg.error().message(),
            "schedule.verify: \"5 parsecs\" is not a duration (use 250ms, 5s, 1m or 2h)");

  cfg = load_config("", required_env(), {{"schedule.verify", R"(["5 parsecs"])"}});
  ASSERT_FALSE(cfg);
  EXPECT_EQ(cfg.error().key, "schedule.verify");

  cfg = load_config("", required_env(), {{"schedule.verify", "5s"}}); // not a list
  ASSERT_FALSE(cfg);
  EXPECT_EQ(cfg.error().key, "schedule.verify");
}

// -- environment and overrides ------------------------------------------------------

TEST_F(config_file_test, the_environment_overrides_the_file) {
  auto document = full_document();
  document["listen"]["public"] = "127.0.0.1:1111";
  auto env = std::map<std::string, std::string>{
    {"PAYCOORD_LISTEN__PUBLIC", "127.0.0.1:2222"},               // plain string
    {"PAYCOORD_SCHEDULE__VERIFY", R"(["1s","2s"])"},             // JSON list
    {"PAYCOORD_BUSINESS__CONCURRENCY", "8"},                     // JSON number
    {"PAYCOORD_WECHATPAY__TIMEOUT", "750ms"},                    // duration text
    {"PAYCOORD_WECHATPAY__MCHID", "1900000002"},                 // digits, still a string
    {"PAYCOORD_ADMIN__TOKEN", R"("quoted-token-0123456789")"},  // JSON string
  };
  auto cfg = load(document, env);
  ASSERT_TRUE(cfg) << cfg.error().message();
  EXPECT_EQ(cfg->listen.public_endpoint, "127.0.0.1:2222");
  EXPECT_EQ(cfg->schedule.verify, (std::vector<duration>{1s, 2s}));
  EXPECT_EQ(cfg->business.concurrency, 8);
  EXPECT_EQ(cfg->wechatpay.timeout, 750ms);
  EXPECT_EQ(cfg->wechatpay.mchid, "1900000002");
  EXPECT_EQ(cfg->admin.token, "quoted-token-0123456789");
}

TEST_F(config_file_test, overrides_win_over_the_environment) {
  auto env = std::map<std::string, std::string>{{"PAYCOORD_BUSINESS__CONCURRENCY", "8"},
                                                {"PAYCOORD_SCHEDULE__VERIFY", R"(["1s"])"}};
  auto cfg = load(full_document(), env,
                  {{"business.concurrency", "16"}, {"schedule.verify", R"(["3s","4s"])"}});
  ASSERT_TRUE(cfg) << cfg.error().message();
  EXPECT_EQ(cfg->business.concurrency, 16);
  EXPECT_EQ(cfg->schedule.verify, (std::vector<duration>{3s, 4s}));
}

TEST(config_environment, an_environment_type_error_names_the_key_and_the_variable) {
  auto env = required_env();
  env["PAYCOORD_BUSINESS__CONCURRENCY"] = "abc";
  auto cfg = load_config("", env);
  ASSERT_FALSE(cfg);
  EXPECT_EQ(cfg.error().key, "business.concurrency");
  EXPECT_NE(cfg.error().reason.find("PAYCOORD_BUSINESS__CONCURRENCY"), std::string::npos);
}

TEST(config_environment, unknown_variables_are_rejected_by_name) {
  auto env = required_env();
  env["PAYCOORD_WECHATPAY_APIV3_KEY"] = "one underscore short";
  auto cfg = load_config("", env);
  ASSERT_FALSE(cfg);
  EXPECT_EQ(cfg.error().key, "PAYCOORD_WECHATPAY_APIV3_KEY");
  EXPECT_NE(cfg.error().reason.find("did you mean PAYCOORD_WECHATPAY__APIV3_KEY"),
            std::string::npos);
  EXPECT_EQ(cfg.error().reason.find("one underscore short"), std::string::npos);

  env = required_env();
  env["PAYCOORD_LISTEN"] = R"({"public": "127.0.0.1:1"})";
  cfg = load_config("", env);
  ASSERT_FALSE(cfg);
  EXPECT_EQ(cfg.error().key, "PAYCOORD_LISTEN");
}

TEST(config_environment, script_variables_and_other_variables_are_ignored) {
  auto env = required_env();
  env["PAYCOORD_SOURCE_DIR"] = "/src";
  env["PAYCOORD_BIN_DIR"] = "/bin";
  env["HOME"] = "/root";
  EXPECT_TRUE(load_config("", env));
}

TEST(config_environment, unknown_override_keys_are_rejected) {
  auto cfg = load_config("", required_env(), {{"schedule.verfy", R"(["1s"])"}});
  ASSERT_FALSE(cfg);
  EXPECT_EQ(cfg.error().key, "schedule.verfy");
  cfg = load_config("", required_env(), {{"schedule", "{}"}});
  ASSERT_FALSE(cfg);
  EXPECT_EQ(cfg.error().key, "schedule");
}

// Found by config_fuzz: `--set =1s` gave an error naming no key at all.
TEST(config_environment, an_empty_override_key_is_named_as_the_option) {
  auto cfg = load_config("", required_env(), {{"", "1s"}});
  ASSERT_FALSE(cfg);
  EXPECT_EQ(cfg.error().key, "--set");
  EXPECT_NE(cfg.error().reason.find("empty key"), std::string::npos);
}

TEST(config_environment, names_follow_the_key_paths) {
  EXPECT_EQ(environment_name("wechatpay.apiv3_key"), "PAYCOORD_WECHATPAY__APIV3_KEY");
  EXPECT_EQ(environment_name("listen.public"), "PAYCOORD_LISTEN__PUBLIC");
  EXPECT_EQ(environment_name("data_dir"), "PAYCOORD_DATA_DIR");
}

TEST(config_environment, paycoord_environment_returns_only_paycoord_variables) {
  ASSERT_EQ(setenv("PAYCOORD_CONFIG_TEST_PROBE", "a=b", 1), 0);
  ASSERT_EQ(setenv("CONFIG_TEST_PROBE_OTHER", "x", 1), 0);
  auto env = paycoord_environment();
  unsetenv("PAYCOORD_CONFIG_TEST_PROBE");
  unsetenv("CONFIG_TEST_PROBE_OTHER");
  EXPECT_EQ(env["PAYCOORD_CONFIG_TEST_PROBE"], "a=b");
  for (auto& [name, value] : env)
    EXPECT_TRUE(name.starts_with("PAYCOORD_")) << name;
}

// -- validation ---------------------------------------------------------------------

struct bad_case {
  std::string expected_key;
  std::function<void(paycoord_config&)> spoil;
};

TEST(config_validation, every_error_names_its_key) {
  const bad_case cases[] = {
    {"data_dir", [](auto& c) { c.data_dir = ""; }},
    {"listen.public", [](auto& c) { c.listen.public_endpoint = "localhost"; }},
    {"listen.public", [](auto& c) { c.listen.public_endpoint = "127.0.0.1:65536"; }},
    {"listen.admin", [](auto& c) { c.listen.admin = "::1:8081"; }},
    {"listen.metrics", [](auto& c) { c.listen.metrics = "[::1]"; }},
    {"listen.metrics", [](auto& c) { c.listen.metrics = ":9464"; }},
    {"wechatpay.base_url", [](auto& c) { c.wechatpay.base_url = "ftp://api.mch.weixin.qq.com"; }},
    {"wechatpay.base_url", [](auto& c) { c.wechatpay.base_url = "http://"; }},
    {"wechatpay.base_url", [](auto& c) { c.wechatpay.base_url = "http://127.0.0.1:0"; }},
    {"wechatpay.mchid", [](auto& c) { c.wechatpay.mchid = ""; }},
    {"wechatpay.mchid", [](auto& c) { c.wechatpay.mchid = "19000x"; }},
    {"wechatpay.appid", [](auto& c) { c.wechatpay.appid = ""; }},
    {"wechatpay.apiv3_key", [](auto& c) { c.wechatpay.apiv3_key = ""; }},
    {"wechatpay.apiv3_key", [](auto& c) { c.wechatpay.apiv3_key.pop_back(); }},
    {"wechatpay.apiv3_key", [](auto& c) { c.wechatpay.apiv3_key += "x"; }},
    {"wechatpay.merchant_serial_no", [](auto& c) { c.wechatpay.merchant_serial_no = ""; }},
    {"wechatpay.merchant_serial_no",
     [](auto& c) { c.wechatpay.merchant_serial_no = "7E:1A:6C"; }},
    {"wechatpay.merchant_private_key_file",
     [](auto& c) { c.wechatpay.merchant_private_key_file = ""; }},
    {"wechatpay.platform_public_key_id",
     [](auto& c) {
       c.wechatpay.platform_public_key_id = "";
       c.wechatpay.platform_public_key_file = "";
     }},
    {"wechatpay.platform_public_key_id", [](auto& c) { c.wechatpay.platform_public_key_id = ""; }},
    {"wechatpay.platform_public_key_file",
     [](auto& c) { c.wechatpay.platform_public_key_file = ""; }},
    {"wechatpay.platform_public_key_id",
     [](auto& c) { c.wechatpay.platform_public_key_id = "5157F09EFDC096DE15EBE81A47057A72"; }},
    {"wechatpay.notify_url", [](auto& c) { c.wechatpay.notify_url = ""; }},
    {"wechatpay.notify_url", [](auto& c) { c.wechatpay.notify_url = "pay.example.com/notify"; }},
    {"wechatpay.notify_url",
     [](auto& c) { c.wechatpay.notify_url = "https://pay.example.com/a b"; }},
    {"wechatpay.notify_path", [](auto& c) { c.wechatpay.notify_path = "v1/wechatpay/notify"; }},
    {"wechatpay.max_clock_skew", [](auto& c) { c.wechatpay.max_clock_skew = 0s; }},
    {"wechatpay.rate_limit_qps", [](auto& c) { c.wechatpay.rate_limit_qps = 0; }},
    {"wechatpay.rate_limit_qps", [](auto& c) { c.wechatpay.rate_limit_qps = 100001; }},
    {"wechatpay.timeout", [](auto& c) { c.wechatpay.timeout = 0s; }},
    {"wechatpay.concurrency", [](auto& c) { c.wechatpay.concurrency = 0; }},
    {"wechatpay.concurrency", [](auto& c) { c.wechatpay.concurrency = 1025; }},
    {"business.callback_url", [](auto& c) { c.business.callback_url = "127.0.0.1:9000/paid"; }},
    {"business.secret", [](auto& c) { c.business.secret = ""; }},
    {"business.timeout", [](auto& c) { c.business.timeout = 0s; }},
    {"business.concurrency", [](auto& c) { c.business.concurrency = 0; }},
    {"business.concurrency", [](auto& c) { c.business.concurrency = 1025; }},
    {"schedule.verify", [](auto& c) { c.schedule.verify.clear(); }},
    {"schedule.verify", [](auto& c) { c.schedule.verify = {5s, 5s}; }},
    {"schedule.verify", [](auto& c) { c.schedule.verify = {30s, 5s}; }},
    {"schedule.verify_every", [](auto& c) { c.schedule.verify_every = 0s; }},
    {"schedule.userpaying_retry", [](auto& c) { c.schedule.userpaying_retry = 0s; }},
    {"schedule.default_expiry", [](auto& c) { c.schedule.default_expiry = 0s; }},
    {"schedule.forward_backoff_initial", [](auto& c) { c.schedule.forward_backoff_initial = 0s; }},
    {"schedule.forward_backoff_max", [](auto& c) { c.schedule.forward_backoff_max = 0s; }},
    {"schedule.forward_backoff_initial",
     [](auto& c) { c.schedule.forward_backoff_initial = 10min; }},
    {"schedule.stuck_after", [](auto& c) { c.schedule.stuck_after = 0s; }},
    {"admin.token", [](auto& c) { c.admin.token = ""; }},
    {"admin.token", [](auto& c) { c.admin.token = "too-short"; }},
  };
  ASSERT_TRUE(validate(valid_config()));
  for (auto& bad : cases) {
    auto cfg = valid_config();
    bad.spoil(cfg);
    auto result = validate(cfg);
    ASSERT_FALSE(result) << "accepted a bad " << bad.expected_key;
    EXPECT_EQ(result.error().key, bad.expected_key) << result.error().message();
    EXPECT_FALSE(result.error().reason.empty());
    EXPECT_EQ(result.error().message().find(bad.expected_key + ": "), 0u);
  }
}

TEST(config_validation, accepts_the_edges) {
  auto cfg = valid_config();
  cfg.listen.public_endpoint = "[::1]:0";
  cfg.listen.admin = "localhost:65535";
  cfg.wechatpay.rate_limit_qps = 100000;
  cfg.business.concurrency = 1;
  cfg.schedule.verify = {0ms, 1ms};
  cfg.schedule.forward_backoff_initial = cfg.schedule.forward_backoff_max;
  cfg.schedule.close_not_before = 0s;
  cfg.admin.token = std::string(16, 't');
  cfg.business.callback_url = "https://[::1]:9000/orders/paid?x=1";
  auto result = validate(cfg);
  EXPECT_TRUE(result) << result.error().message();
}

TEST(config_validation, platform_keys_or_certificates_or_both) {
  auto certificates_only = valid_config();
  certificates_only.wechatpay.platform_public_key_id = "";
  certificates_only.wechatpay.platform_public_key_file = "";
  certificates_only.wechatpay.platform_certificates_dir = "/keys/wechatpay_certs";
  EXPECT_TRUE(validate(certificates_only));
  auto both = valid_config();
  both.wechatpay.platform_certificates_dir = "/keys/wechatpay_certs";
  EXPECT_TRUE(validate(both));
}

TEST(config_validation, drops_a_trailing_slash_from_the_base_url) {
  auto cfg = valid_config();
  cfg.wechatpay.base_url = "http://127.0.0.1:8090/";
  auto result = validate(cfg);
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_EQ(result->wechatpay.base_url, "http://127.0.0.1:8090");
  // Found by config_fuzz: every trailing slash, or the reload of the
  // printed config would differ from the running one.
  cfg.wechatpay.base_url = "http://127.0.0.1:8090//";
  result = validate(cfg);
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_EQ(result->wechatpay.base_url, "http://127.0.0.1:8090");
}

TEST(config_validation, a_wrong_apiv3_key_length_is_told_without_the_key) {
  auto cfg = valid_config();
  cfg.wechatpay.apiv3_key = "SECRET-but-only-23-byte";
  auto result = validate(cfg);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().reason.find("23"), std::string::npos) << result.error().reason;
  EXPECT_EQ(result.error().message().find("SECRET"), std::string::npos);
}

TEST(config_endpoint, parses_host_and_port) {
  auto v4 = parse_endpoint("127.0.0.1:8080", "listen.public");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 8080);
  auto v6 = parse_endpoint("[::1]:80", "listen.public");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 80);
  auto any = parse_endpoint("localhost:0", "listen.public");
  ASSERT_TRUE(any);
  EXPECT_EQ(any->port, 0);
  for (auto bad : {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:65536",
                   "::1:80", "[::1]80", "[]:80", "[::1", "host name:80", "1.2.3.4:-1"}) {
    auto parsed = parse_endpoint(bad, "listen.admin");
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().key, "listen.admin");
  }
}

// -- secrets --------------------------------------------------------------------------

TEST(config_secrets, masked_output_never_contains_them) {
  auto text = to_json(valid_config()).dump();
  for (auto& secret : {apiv3_key, business_secret, admin_token})
    EXPECT_EQ(text.find(secret), std::string::npos) << secret;
  auto out = to_json(valid_config());
  EXPECT_EQ(out["wechatpay"]["apiv3_key"], "***");
  EXPECT_EQ(out["business"]["secret"], "***");
  EXPECT_EQ(out["admin"]["token"], "***");
  // Key file paths are not secrets.
  EXPECT_EQ(out["wechatpay"]["merchant_private_key_file"], "/keys/merchant_key.pem");
  auto unmasked = to_json(valid_config(), /*mask_secrets=*/false);
  EXPECT_EQ(unmasked["wechatpay"]["apiv3_key"], apiv3_key);
}

TEST_F(config_file_test, type_errors_on_secrets_do_not_print_the_value) {
  auto document = full_document();
  document["admin"]["token"] = {"SECRET-in-a-list-0123"};
  auto cfg = load(document);
  ASSERT_FALSE(cfg);
  EXPECT_EQ(cfg.error().key, "admin.token");
  EXPECT_EQ(cfg.error().message().find("SECRET"), std::string::npos) << cfg.error().message();
}

// -- the shipped example ----------------------------------------------------------------

TEST(config_example, loads_validates_and_points_at_the_sandbox_from_any_directory) {
  auto example = source_dir() / "config" / "paycoord.example.json";
  auto cwd = fs::current_path();
  fs::current_path(fs::temp_directory_path());
  auto relative = fs::relative(example).string(); // resolved from elsewhere
  auto cfg = load_config(relative, {});
  fs::current_path(cwd);
  ASSERT_TRUE(cfg) << cfg.error().message();
  EXPECT_EQ(cfg->wechatpay.base_url, "http://127.0.0.1:8090");
  EXPECT_EQ(cfg->wechatpay.mchid, "1900000001");
  EXPECT_EQ(cfg->wechatpay.appid, "wx8888888888888888");
  EXPECT_EQ(cfg->business.callback_url, "http://127.0.0.1:9000/orders/paid");
  EXPECT_EQ(cfg->data_dir, "./data");
  EXPECT_TRUE(fs::is_regular_file(cfg->wechatpay.merchant_private_key_file))
    << cfg->wechatpay.merchant_private_key_file;
  EXPECT_TRUE(fs::is_regular_file(cfg->wechatpay.platform_public_key_file))
    << cfg->wechatpay.platform_public_key_file;
  // The example lists every key: nothing comes from the defaults alone.
  std::ifstream in(example);
  auto document = nlohmann::json::parse(in);
  auto effective = to_json(*cfg, /*mask_secrets=*/false);
  for (auto& [section, value] : effective.items()) {
    ASSERT_TRUE(document.contains(section)) << section;
    if (!value.is_object())
      continue;
    for (auto& [key, ignored] : value.items()) {
      if (key != "platform_certificates_dir") { // the alternative to the public key
        EXPECT_TRUE(document[section].contains(key)) << section << "." << key;
      }
    }
  }
}

// -- access (CONTRACTS.md §8) ------------------------------------------------------

TEST(config_access, notify_listener_and_api_token_are_optional_and_checked) {
  paycoord_config defaults;
  EXPECT_EQ(defaults.listen.notify, "");
  EXPECT_EQ(defaults.api.token, "");
  auto env = required_env();
  env["PAYCOORD_LISTEN__NOTIFY"] = "0.0.0.0:8443";
  env["PAYCOORD_API__TOKEN"] = "SECRET-api-token-00001";
  auto cfg = load_config("", env);
  ASSERT_TRUE(cfg) << cfg.error().message();
  EXPECT_EQ(cfg->listen.notify, "0.0.0.0:8443");
  EXPECT_EQ(to_json(*cfg)["api"]["token"], "***") << "api.token is a secret";
  EXPECT_EQ(to_json(*cfg).dump().find("SECRET-api-token"), std::string::npos);

  env["PAYCOORD_LISTEN__NOTIFY"] = "nowhere";
  auto bad = load_config("", env);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().key, "listen.notify");
  env["PAYCOORD_LISTEN__NOTIFY"] = "127.0.0.1:8443";
  env["PAYCOORD_API__TOKEN"] = "short";
  bad = load_config("", env);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().key, "api.token");
  EXPECT_EQ(bad.error().reason.find("short"), std::string::npos) << "never the value";
  env["PAYCOORD_API__TOKEN"] = admin_token;
  bad = load_config("", env);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().key, "api.token") << "the front end's token is not the admin's";
}

TEST(config_access, an_order_api_off_loopback_without_a_token_is_a_warning) {
  auto cfg = valid_config();
  EXPECT_TRUE(config_warnings(cfg).empty()) << "loopback by default";
  cfg.listen.public_endpoint = "0.0.0.0:8080";
  auto warnings = config_warnings(cfg);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("listen.public"), std::string::npos);
  EXPECT_NE(warnings[0].find("api.token"), std::string::npos);
  cfg.api.token = "SECRET-api-token-00001";
  EXPECT_TRUE(config_warnings(cfg).empty());
  for (auto address : {"127.0.0.1:1", "127.9.9.9:1", "[::1]:1", "localhost:1"})
    EXPECT_TRUE(is_loopback(address)) << address;
  for (auto address : {"0.0.0.0:1", "10.0.0.1:1", "[::]:1", "pay.example.com:1"})
    EXPECT_FALSE(is_loopback(address)) << address;
}

// -- secret files that others may read -----------------------------------------

TEST_F(config_file_test, a_merchant_key_that_group_or_others_may_read_is_a_warning) {
  std::ifstream in{source_dir() / "config/sandbox/merchant_key.pem", std::ios::binary};
  std::string pem{std::istreambuf_iterator<char>{in}, {}};
  ASSERT_FALSE(pem.empty());
  auto key = write("keys/merchant_key.pem", pem);
  auto cfg = valid_config();
  cfg.wechatpay.merchant_private_key_file = key;
  fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_TRUE(config_warnings(cfg).empty()) << "0600 is how a key should be";
  for (auto [mode, text] : {std::pair{fs::perms{0644}, "0644"}, std::pair{fs::perms{0640}, "0640"},
                            std::pair{fs::perms{0604}, "0604"}}) {
    fs::permissions(key, mode);
    auto warnings = config_warnings(cfg);
    ASSERT_EQ(warnings.size(), 1u) << text;
    EXPECT_NE(warnings[0].find("wechatpay.merchant_private_key_file"), std::string::npos);
    EXPECT_NE(warnings[0].find(key), std::string::npos) << "names the file: " << warnings[0];
    EXPECT_NE(warnings[0].find(text), std::string::npos) << "and its mode: " << warnings[0];
  }
  cfg.wechatpay.merchant_private_key_file = (dir_ / "keys/missing.pem").string();
  EXPECT_TRUE(config_warnings(cfg).empty()) << "a missing key is an error elsewhere";
}

TEST_F(config_file_test, a_config_file_that_sets_secrets_and_others_may_read_is_a_warning) {
  auto file = write("paycoord.json", full_document().dump(2));
  auto cfg = load_config(file, {});
  ASSERT_TRUE(cfg) << cfg.error().message();
  fs::permissions(file, fs::perms{0600});
  EXPECT_TRUE(config_warnings(*cfg, file).empty());
  fs::permissions(file, fs::perms{0644});
  auto warnings = config_warnings(*cfg, file);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find(file), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("0644"), std::string::npos) << warnings[0];
  for (auto name : {"wechatpay.apiv3_key", "business.secret", "admin.token"})
    EXPECT_NE(warnings[0].find(name), std::string::npos) << name << ": " << warnings[0];
  EXPECT_EQ(warnings[0].find("api.token"), std::string::npos) << "api.token is not set";
  for (auto& secret : {apiv3_key, business_secret, admin_token})
    EXPECT_EQ(warnings[0].find(secret), std::string::npos) << "never a secret's value";
  // The secrets from the environment instead: the file may be world-readable.
  auto doc = full_document();
  for (auto pointer : {"/wechatpay/apiv3_key", "/business/secret", "/admin/token"})
    doc[nlohmann::json::json_pointer(pointer)] = "";
  auto plain = write("plain.json", doc.dump(2));
  fs::permissions(plain, fs::perms{0644});
  EXPECT_TRUE(config_warnings(*cfg, plain).empty());
}
