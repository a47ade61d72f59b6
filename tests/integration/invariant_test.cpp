// The invariant, under everything at once: >= 1,000 orders, two thirds paid
// at paysim, 30% of notifications lost, duplicates, the business server
// flapping, and two kill -9 restarts of paycoord mid-run. At the end every
// order paid at paysim is CONFIRMED and was delivered, no unpaid order was
// delivered, and every request paysim received was correctly signed.

#include <atomic>
#include <csignal>
#include <iostream>

#include "tests/integration/e2e_fixture.hpp"

using namespace paycoord::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

class invariant : public e2e_fixture {};

std::string order_id(int i) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "INV%06d", i);
  return buf;
}

} // namespace

TEST_F(invariant, every_paid_order_is_confirmed_and_delivered_despite_everything) {
  constexpr int orders = 1200;
  faults = {{"notify", {{"drop_rate", 0.3}, {"duplicate_rate", 0.2}, {"reorder", "200ms"}}},
            {"business", {{"down", json::array({json::array({"3s", "6s"}),
                                                json::array({"10s", "13s"})})},
                          {"error_rate", 0.1}}}};
  paycoord_env["PAYCOORD_SCHEDULE__VERIFY"] = R"(["1s","3s","6s"])";
  paycoord_env["PAYCOORD_SCHEDULE__VERIFY_EVERY"] = "10s";
  start();
  auto started = std::chrono::steady_clock::now();

  // Create every order through the public API (4 clients at once).
  std::atomic<int> created{0};
  {
    std::vector<std::thread> clients;
    for (int t = 0; t < 4; ++t)
      clients.emplace_back([&, t] {
        for (int i = t; i < orders; i += 4)
          if (create_order(order_id(i), 100 + i % 7) == 201)
            ++created;
      });
    for (auto& c : clients)
      c.join();
  }
  ASSERT_EQ(created.load(), orders);

  // Two thirds pay; paycoord is killed twice while payments arrive.
  int kills = 0;
  std::vector<std::string> paid;
  for (int i = 0; i < orders; ++i) {
    if (i == orders / 3 || i == 2 * orders / 3) {
      crash_and_restart_paycoord();
      ++kills;
    }
    if (i % 3 == 2)
      continue;
    ASSERT_EQ(pay(order_id(i)), 200) << order_id(i);
    paid.push_back(order_id(i));
  }

  // Wait until paysim's business server has a delivery for every paid order.
  auto delivered_keys = [&] {
    return report(false)["totals"]["business"].value("distinct_keys", 0);
  };
  EXPECT_TRUE(await([&] { return delivered_keys() >= static_cast<int>(paid.size()); }, 120s))
    << delivered_keys() << " of " << paid.size() << " delivered";

  auto rep = report(true);
  auto& totals = rep["totals"];
  int confirmed = 0, delivered_rows = 0, max_deliveries = 0, total_deliveries = 0;
  for (auto& row : rep["orders"]) {
    std::string id = row["out_trade_no"];
    bool is_paid = row["trade_state"] == "SUCCESS";
    int d = row["business"].value("deliveries", 0);
    total_deliveries += d;
    max_deliveries = std::max(max_deliveries, d);
    if (is_paid) {
      EXPECT_GE(d, 1) << id << " paid at WeChat but never delivered";
      if (d >= 1)
        ++delivered_rows;
      auto state = state_of(id);
      EXPECT_EQ(state, "CONFIRMED") << id;
      confirmed += state == "CONFIRMED";
    } else {
      EXPECT_EQ(d, 0) << id << " delivered but never paid";
    }
  }
  EXPECT_EQ(totals["business"]["unpaid_deliveries"], 0);
  EXPECT_EQ(totals["business"]["bad_hmac"], 0);
  EXPECT_EQ(totals["wechat"]["bad_authorization"], 0)
    << "every request paysim received must be correctly signed";
  EXPECT_EQ(totals["notifications"]["probes_answered_2xx"], 0);
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "invariant: orders=" << orders << " paid=" << paid.size()
            << " confirmed=" << confirmed << " delivered=" << delivered_rows
            << " deliveries=" << total_deliveries << " deliveries_per_paid_order="
            << (paid.empty() ? 0.0 : double(total_deliveries) / double(paid.size()))
            << " max_deliveries_per_order=" << max_deliveries
            << " notifications_dropped=" << totals["notifications"]["dropped"]
            << " queries=" << totals["wechat"]["queries"]
            << " kill9_restarts=" << kills << " seconds=" << seconds << "\n";
  EXPECT_EQ(kills, 2);
  EXPECT_EQ(confirmed, static_cast<int>(paid.size()));
}
