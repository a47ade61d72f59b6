// No secret in any log (STYLE.md §8): a full run of paycoord and paysim as
// processes (orders, payments, notifications with duplicates and probes,
// callbacks that fail and are retried, admin and order API calls with their
// tokens and without), then every file the run wrote is searched for every
// secret it was given. Also: a merchant key that others may read is warned
// about at start.

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "tests/integration/e2e_fixture.hpp"

using namespace paycoord;
using namespace paycoord::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& path) {
  std::ifstream in{path, std::ios::binary};
  return std::string{std::istreambuf_iterator<char>{in}, {}};
}

/// Every line of a PEM private key's body that is long enough to be
/// recognised (40+ characters of base64): a leak of any part of the key.
std::vector<std::string> pem_body_lines(const fs::path& pem) {
  std::vector<std::string> lines;
  std::istringstream in{read_file(pem)};
  for (std::string line; std::getline(in, line);)
    if (line.size() >= 40 && line.rfind("-----", 0) != 0)
      lines.push_back(line);
  return lines;
}

class secrets_test : public e2e_fixture {
protected:
  const std::string admin_token = "e2e-ADMIN-token-Zq7Xw3Vb9Ku2Lm5N";
  const std::string api_token = "e2e-API-token-Hc4Rt8Yp1Js6Df0G";

  /// An HTTP call with `Authorization: Bearer <token>` (none when empty).
  net::outbound_response call(const std::string& method, const std::string& url,
                              const std::string& token, const std::string& body = "") {
    net::http_client client;
    std::vector<std::pair<std::string, std::string>> headers{
      {"Content-Type", "application/json"}};
    if (!token.empty())
      headers.emplace_back("Authorization", "Bearer " + token);
    auto r = client.send({method, url, std::move(headers), body});
    return r ? *r : net::outbound_response{};
  }

  std::string admin_url(const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(port_of("admin")) + path;
  }

  std::string order_state(const std::string& id) {
    auto r = call("GET", public_url("/v1/orders/" + id), api_token);
    return r.status == 200 ? json::parse(r.body).value("state", "") : "";
  }
};

} // namespace

TEST_F(secrets_test, a_full_run_writes_no_secret_to_any_log) {
  // The secrets, from the config the run uses.
  std::ifstream example_in{source_path("config/paycoord.example.json")};
  auto example = json::parse(example_in);
  std::vector<std::pair<std::string, std::string>> secrets{
    {"wechatpay.apiv3_key", example["wechatpay"]["apiv3_key"]},
    {"business.secret", example["business"]["secret"]},
    {"admin.token of the example", example["admin"]["token"]},
    {"admin.token", admin_token},
    {"api.token", api_token},
  };
  auto merchant_key = fs::path{source_path("config/sandbox/merchant_key.pem")};
  for (auto& line : pem_body_lines(merchant_key))
    secrets.emplace_back("merchant private key", line);
  for (auto& line : pem_body_lines(source_path("config/sandbox/platform_key.pem")))
    secrets.emplace_back("paysim's platform private key", line);
  ASSERT_GT(secrets.size(), 30u) << "the PEM bodies were read";

  // A copy of the merchant key that the group may read: warned about.
  auto key_copy = dir.path() / "keys" / "merchant_key.pem";
  fs::create_directories(key_copy.parent_path());
  fs::copy_file(merchant_key, key_copy);
  fs::permissions(key_copy, fs::perms{0640});
  paycoord_env["PAYCOORD_WECHATPAY__MERCHANT_PRIVATE_KEY_FILE"] = key_copy.string();
  paycoord_env["PAYCOORD_ADMIN__TOKEN"] = admin_token;
  paycoord_env["PAYCOORD_API__TOKEN"] = api_token;
  // paycoord has no log level setting; paysim logs at debug.
  paysim_args = {"--log-level", "debug"};
  faults = {{"notify", {{"duplicate_rate", 0.5}, {"probe_rate", 0.3}}},
            {"business", {{"error_rate", 0.3}}}};
  start();

  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    ids.push_back("SECRET0000" + std::to_string(10 + i));
    auto created =
      call("POST", public_url("/v1/orders"), api_token,
           json{{"out_trade_no", ids.back()},
                {"description", "Monthly plan"},
                {"amount", {{"total", 100}, {"currency", "CNY"}}},
                {"payer", {{"openid", "o-e2e-payer"}}}}
             .dump());
    ASSERT_EQ(created.status, 201) << created.body;
  }
  for (auto& id : ids)
    ASSERT_EQ(pay(id), 200) << id;
  for (auto& id : ids)
    EXPECT_TRUE(await([&] { return order_state(id) == "CONFIRMED"; }, 20s)) << id;

  // Failed auth, every way round: none, the other API's token, a near miss.
  for (auto& token : {std::string{}, admin_token, api_token + "x", api_token.substr(1)})
    EXPECT_EQ(call("GET", public_url("/v1/orders/" + ids[0]), token).status, 401) << token;
  for (auto& token : {std::string{}, api_token, admin_token + "x"})
    EXPECT_EQ(call("GET", admin_url("/admin/api/summary"), token).status, 401) << token;
  // The admin API with its token.
  EXPECT_EQ(call("GET", admin_url("/admin/api/summary"), admin_token).status, 200);
  EXPECT_EQ(call("GET", admin_url("/admin/api/orders/" + ids[1]), admin_token).status, 200);
  // An operator action on an order that is already final: refused, with the
  // token accepted (not 401).
  auto verify = call("POST", admin_url("/admin/api/orders/" + ids[2] + "/verify"), admin_token);
  EXPECT_EQ(verify.status, 409) << verify.body;
  // A forged notification: refused, its reasons logged.
  auto forged = call("POST", public_url("/v1/wechatpay/notify"), "",
                     R"({"id":"EV-FORGED","resource":{"ciphertext":"AAAA"}})");
  EXPECT_EQ(forged.status, 401);
  stop_paycoord_gracefully();

  // The start-up warning names the file and its mode, not the key.
  auto paycoord_log = paycoord_output();
  EXPECT_NE(paycoord_log.find("event=config_warning wechatpay.merchant_private_key_file "
                              + key_copy.string() + " has mode 0640"),
            std::string::npos)
    << paycoord_log.substr(0, 3000);

  // Every file the run wrote but the configs it was given (paysim.json and
  // the key copy hold secrets by design): the processes' logs, LevelDB's LOG
  // and the store itself.
  size_t files = 0, bytes = 0;
  bool saw_debug = false;
  for (auto& entry : fs::recursive_directory_iterator{dir.path()}) {
    if (!entry.is_regular_file() || entry.path() == dir.path() / "paysim.json"
        || entry.path() == key_copy)
      continue;
    auto text = read_file(entry.path());
    ++files;
    bytes += text.size();
    saw_debug = saw_debug || text.find("] [debug] ") != std::string::npos
                || text.find(" debug ") != std::string::npos;
    for (auto& [what, secret] : secrets)
      EXPECT_EQ(text.find(secret), std::string::npos)
        << entry.path() << " contains the " << what;
  }
  EXPECT_GE(files, 3u) << "paycoord's and paysim's logs and the store";
  EXPECT_GT(bytes, 10'000u);
  EXPECT_TRUE(saw_debug) << "paysim logged at debug";
  EXPECT_NE(paycoord_log.find("event=notify_verified"), std::string::npos);
  EXPECT_NE(paycoord_log.find("event=notify_rejected"), std::string::npos);
}
