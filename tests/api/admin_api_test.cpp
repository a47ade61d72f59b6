// The admin inspector API (CONTRACTS.md §6) over HTTP against the real actors.

#include "tests/api/api_fixture.hpp"

using namespace paycoord;
using namespace paycoord::testing;

namespace {

class admin_api_test : public api_fixture {
protected:
  net::outbound_response admin(const std::string& method, const std::string& path,
                               const std::string& token) {
    std::vector<std::pair<std::string, std::string>> h;
    if (!token.empty())
      h.emplace_back("Authorization", "Bearer " + token);
    return send(method, path, "", std::move(h));
  }

  net::outbound_response admin(const std::string& method, const std::string& path) {
    return admin(method, path, admin_token);
  }
};

} // namespace

TEST_F(admin_api_test, every_route_needs_the_token) {
  ASSERT_EQ(send("POST", "/v1/orders", create_body("ADMIN00001").dump()).status, 201);
  for (auto [method, path] : std::vector<std::pair<std::string, std::string>>{
         {"GET", "/admin/api/summary"},
         {"GET", "/admin/api/orders"},
         {"GET", "/admin/api/orders/ADMIN00001"},
         {"POST", "/admin/api/orders/ADMIN00001/verify"},
         {"POST", "/admin/api/orders/ADMIN00001/forward"}}) {
    EXPECT_EQ(admin(method, path, "").status, 401) << path;
    EXPECT_EQ(admin(method, path, "wrong-token").status, 401) << path;
    EXPECT_EQ(admin(method, path, admin_token + "x").status, 401) << path;
  }
  EXPECT_EQ(event_count("ADMIN00001", "operator"), 0) << "nothing ran unauthorized";
  EXPECT_FALSE(api::bearer_matches("Bearer ", ""));
  EXPECT_TRUE(api::bearer_matches("Bearer abc", "abc"));
}

TEST_F(admin_api_test, summary_counts_states_live_actors_and_timers) {
  ASSERT_EQ(send("POST", "/v1/orders", create_body("SUMMARY001").dump()).status, 201);
  ASSERT_EQ(send("POST", "/v1/orders", create_body("SUMMARY002").dump()).status, 201);
  auto r = admin("GET", "/admin/api/summary");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json::parse(r.body);
  EXPECT_EQ(j["orders_by_state"]["PENDING"], 2);
  EXPECT_EQ(j["orders_by_state"]["CONFIRMED"], 0);
  EXPECT_EQ(j["live_actors"], 2);
  EXPECT_EQ(j["timers_armed"], 2);
  EXPECT_EQ(j["stuck"], 0);
  EXPECT_GT(j["store_bytes"].get<uint64_t>(), 0u);
  EXPECT_TRUE(j.contains("uptime_seconds"));
}

TEST_F(admin_api_test, an_orders_detail_has_record_live_actor_and_timeline) {
  ASSERT_EQ(send("POST", "/v1/orders", create_body("DETAIL0001").dump()).status, 201);
  auto r = admin("GET", "/admin/api/orders/DETAIL0001");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json::parse(r.body);
  EXPECT_EQ(j["record"]["out_trade_no"], "DETAIL0001");
  EXPECT_EQ(j["record"]["state"], "PENDING");
  auto& a = j["actor"];
  EXPECT_EQ(a["alive"], true);
  EXPECT_EQ(a["state"], "PENDING");
  EXPECT_EQ(a["mailbox_size"], 0);
  EXPECT_EQ(a["next_action"], "verify");
  EXPECT_TRUE(a["next_due"].is_string());
  EXPECT_TRUE(a.contains("attempts"));
  EXPECT_EQ(a["restarts"], 0);
  ASSERT_EQ(j["events"].size(), 2u);
  EXPECT_EQ(j["events_total"], 2);
  EXPECT_EQ(j["events_truncated"], false);
  EXPECT_EQ(j["events"][0]["kind"], "created");
  EXPECT_EQ(j["events"][1]["kind"], "prepay");
  EXPECT_EQ(admin("GET", "/admin/api/orders/NOSUCH0001").status, 404);
}

TEST_F(admin_api_test, orders_page_by_state_with_a_cursor) {
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(send("POST", "/v1/orders", create_body("PAGE00000" + std::to_string(i)).dump())
                .status,
              201);
  std::vector<std::string> seen;
  std::string after;
  int pages = 0;
  do {
    auto r = admin("GET", "/admin/api/orders?state=PENDING&limit=2" +
                            (after.empty() ? "" : "&after=" + after));
    ASSERT_EQ(r.status, 200) << r.body;
    auto j = json::parse(r.body);
    for (auto& o : j["orders"])
      seen.push_back(o["out_trade_no"]);
    after = j["next"].is_null() ? "" : j["next"].get<std::string>();
    ++pages;
  } while (!after.empty() && pages < 10);
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_EQ(pages, 3);
  auto none = json::parse(admin("GET", "/admin/api/orders?state=CLOSED").body);
  EXPECT_TRUE(none["orders"].empty());
  EXPECT_EQ(admin("GET", "/admin/api/orders?state=BOGUS").status, 400);
}

TEST_F(admin_api_test, operator_actions_go_through_the_order_and_are_journaled) {
  ASSERT_EQ(send("POST", "/v1/orders", create_body("OPERATOR01").dump()).status, 201);
  auto v = admin("POST", "/admin/api/orders/OPERATOR01/verify");
  EXPECT_EQ(v.status, 202) << v.body;
  EXPECT_EQ(event_count("OPERATOR01", "operator"), 1);
  auto f = admin("POST", "/admin/api/orders/OPERATOR01/forward");
  EXPECT_EQ(f.status, 409) << "forward is for PAID orders: " << f.body;
  EXPECT_EQ(admin("POST", "/admin/api/orders/NOSUCH0001/verify").status, 404);
}

TEST_F(admin_api_test, a_long_timeline_shows_its_newest_events_and_says_it_is_cut) {
  // An order stuck for days has thousands of delivery attempts: the
  // operator needs the latest ones.
  write_set set;
  order_record x;
  x.out_trade_no = "LONGLIFE01";
  x.state = order_state::confirmed;
  x.amount_total = 100;
  x.event_seq = 1205;
  for (uint64_t seq = 1; seq <= x.event_seq; ++seq)
    set.events.emplace_back(x.out_trade_no,
                            order_event{seq, 1'700'000'000'000 + static_cast<int64_t>(seq),
                                        "forward", "{}"});
  set.put(x, nullptr);
  ASSERT_TRUE(db->commit(set));
  auto r = admin("GET", "/admin/api/orders/LONGLIFE01");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json::parse(r.body);
  ASSERT_EQ(j["events"].size(), 1000u);
  EXPECT_EQ(j["events"].front()["seq"], 206);
  EXPECT_EQ(j["events"].back()["seq"], 1205);
  EXPECT_EQ(j["events"].back()["at_ms"], 1'700'000'001'205);
  EXPECT_EQ(j["events_total"], 1205);
  EXPECT_EQ(j["events_truncated"], true);
  EXPECT_EQ(j["actor"]["alive"], false);
}

TEST_F(admin_api_test, a_passivated_order_shows_its_timer_from_the_store) {
  // Open, its next step hours away, no actor in memory (as after a restart,
  // or once it passivated): the detail shows the index entry as its timer.
  auto due = to_unix_ms(wall_clock::now()) + 3 * 3'600'000;
  order_record x;
  x.out_trade_no = "IDLE000001";
  x.state = order_state::pending;
  x.amount_total = 100;
  x.action = next_action::verify;
  x.next_due_ms = due;
  write_set set;
  set.put(x, nullptr);
  ASSERT_TRUE(db->commit(set));
  auto r = admin("GET", "/admin/api/orders/IDLE000001");
  ASSERT_EQ(r.status, 200) << r.body;
  auto a = json::parse(r.body)["actor"];
  EXPECT_EQ(a["alive"], false);
  EXPECT_EQ(a["passivated"], true);
  EXPECT_EQ(a["next_action"], "verify");
  EXPECT_EQ(a["next_due"], format_rfc3339(from_unix_ms(due)));
  // A record whose index entry is missing (only a damaged store has one) is
  // not shown as armed: the inspector must not claim a timer that is not
  // there.
  ASSERT_TRUE(db->put_raw(order_store::order_key("NOINDEX001"),
                          encode([&] {
                            auto y = x;
                            y.out_trade_no = "NOINDEX001";
                            return y;
                          }())));
  auto missing = json::parse(admin("GET", "/admin/api/orders/NOINDEX001").body)["actor"];
  EXPECT_EQ(missing["passivated"], false);
  EXPECT_TRUE(missing["next_action"].is_null());
}
