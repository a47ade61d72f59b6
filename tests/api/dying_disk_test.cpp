// A dying disk under the public API: the real routes, actors, store and
// LevelDB over an Env that fails on demand (a full disk, EIO on fsync).
// While the store cannot write, no notification or order is answered as
// done; once the disk is back it is writable and ready again, WeChat's
// retries succeed, and after a restart every acknowledged write is there.

#include "tests/api/api_fixture.hpp"
#include "tests/prometheus_text.hpp"
#include "tests/storage/failing_env.hpp"

using namespace paycoord;
using namespace paycoord::testing;

namespace {

class dying_disk_test : public api_fixture {
protected:
  dying_disk_test() {
    env().heal();
    store_opts.env = &env();
  }

  /// One per process: LevelDB keeps the Env, which must outlive every store.
  static failing_env& env() {
    static failing_env e;
    return e;
  }

  void TearDown() override {
    if (!stopped_)
      api_fixture::TearDown();
  }

  /// Stops server and actors and opens the data dir afresh, as paycoord
  /// does when it restarts.
  std::unique_ptr<order_store> restart() {
    api_fixture::TearDown();
    stopped_ = true;
    db.reset(); // the last handle: LevelDB allows one per directory
    auto again = order_store::open(dir.str());
    EXPECT_TRUE(again) << again.error().to_string();
    return again ? std::move(*again) : nullptr;
  }

  /// The store's own word, read by /readyz, and the gauge behind it.
  bool writable() {
    auto text = parse_prometheus_text(metrics->serialize());
    EXPECT_TRUE(text.ok()) << text.error;
    auto gauge = text.value("paycoord_store_writable");
    EXPECT_TRUE(gauge.has_value());
    EXPECT_EQ(gauge.value_or(-1) == 1, metrics->store_writable());
    return metrics->store_writable();
  }

  /// The store reopens on its own with a backoff (0.5 s doubling).
  bool await_writable() {
    for (int i = 0; i < 300; ++i) {
      if (metrics->store_writable())
        return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  static std::string id(int i) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "DISK%06d", i);
    return buf;
  }

  static std::string event_id(int i) {
    return "EV-" + id(i);
  }

  net::outbound_response create(int i) {
    return send("POST", "/v1/orders", create_body(id(i)).dump());
  }

  net::outbound_response pay(int i) {
    auto [body, headers] = seal(transaction_json(id(i), 100), event_id(i));
    return notify(body, headers);
  }

  /// Every acknowledged order is there after a restart, and every
  /// acknowledged payment with its notification id.
  void expect_durable(order_store& store, const std::vector<int>& created,
                      const std::vector<int>& paid) {
    for (int i : created) {
      auto x = store.get_order(id(i));
      ASSERT_TRUE(x && x->has_value()) << id(i);
    }
    for (int i : paid) {
      auto x = store.get_order(id(i));
      ASSERT_TRUE(x && x->has_value()) << id(i);
      EXPECT_TRUE((*x)->state == order_state::paid || (*x)->state == order_state::confirmed)
        << id(i) << " is " << to_string((*x)->state);
      auto n = store.find_notification(event_id(i));
      ASSERT_TRUE(n);
      EXPECT_EQ(n->value_or(""), id(i));
    }
  }

  bool stopped_ = false;
};

bool is_5xx(const net::outbound_response& r) {
  return r.status >= 500 && r.status < 600;
}

} // namespace

TEST_F(dying_disk_test, a_full_disk_answers_5xx_until_it_has_room_and_loses_nothing_acknowledged) {
  std::vector<int> created, paid;
  for (int i = 1; i <= 6; ++i) {
    ASSERT_EQ(create(i).status, 201) << i;
    created.push_back(i);
  }
  for (int i = 1; i <= 3; ++i) {
    ASSERT_EQ(pay(i).status, 204) << i;
    paid.push_back(i);
  }
  ASSERT_TRUE(writable());

  // Full: the next log record gets its header and three bytes, then ENOSPC.
  env().space_left = 10;
  for (int i = 4; i <= 6; ++i) {
    auto r = pay(i);
    EXPECT_TRUE(is_5xx(r)) << id(i) << ": " << r.status << " " << r.body;
  }
  EXPECT_FALSE(writable()) << "/readyz says STORE_UNAVAILABLE";
  auto refused = create(7);
  EXPECT_TRUE(is_5xx(refused)) << refused.status << " " << refused.body;
  // WeChat's retry of a notification answered before: its state is durable.
  EXPECT_EQ(pay(1).status, 204);
  EXPECT_EQ(send("GET", "/v1/orders/" + id(2), "").status, 200) << "reads go on";
  // However often WeChat retries meanwhile: never a 204 for a new payment.
  for (int round = 0; round < 3; ++round)
    for (int i = 4; i <= 6; ++i)
      EXPECT_TRUE(is_5xx(pay(i))) << id(i) << " round " << round;
  EXPECT_FALSE(writable());

  env().heal();
  ASSERT_TRUE(await_writable()) << "the store never reopened";
  EXPECT_TRUE(writable());
  for (int i = 4; i <= 6; ++i) {
    auto r = pay(i);
    EXPECT_EQ(r.status, 204) << id(i) << ": " << r.body;
    if (r.status == 204)
      paid.push_back(i);
  }
  auto later = create(7);
  EXPECT_EQ(later.status, 201) << later.body;
  if (later.status == 201)
    created.push_back(7);
  for (int i : paid)
    EXPECT_TRUE(await_state(id(i), order_state::confirmed)) << id(i) << " forwarded";

  auto store = restart();
  ASSERT_TRUE(store);
  expect_durable(*store, created, paid);
  EXPECT_EQ(store->last_open_salvage().drops, 0u) << "the torn record was only a partial tail";
}

TEST_F(dying_disk_test, eio_on_fsync_answers_5xx_until_the_disk_syncs_and_loses_nothing_acknowledged) {
  std::vector<int> created, paid;
  for (int i = 1; i <= 6; ++i) {
    ASSERT_EQ(create(i).status, 201) << i;
    created.push_back(i);
  }
  for (int i = 1; i <= 3; ++i) {
    ASSERT_EQ(pay(i).status, 204) << i;
    paid.push_back(i);
  }

  env().failing_sync = true;
  for (int round = 0; round < 3; ++round)
    for (int i = 4; i <= 6; ++i) {
      auto r = pay(i);
      EXPECT_TRUE(is_5xx(r)) << id(i) << " round " << round << ": " << r.status << " " << r.body;
    }
  EXPECT_FALSE(writable()) << "/readyz says STORE_UNAVAILABLE";
  EXPECT_TRUE(is_5xx(create(7)));
  EXPECT_EQ(pay(2).status, 204) << "a retry of an acknowledged notification";

  env().heal();
  ASSERT_TRUE(await_writable()) << "the store never reopened";
  // The failed syncs' records were cut from the log before the reopen, so
  // the retries are first deliveries: 204 only now, and the orders are paid
  // and forwarded, not left pending.
  for (int i = 4; i <= 6; ++i) {
    auto r = pay(i);
    EXPECT_EQ(r.status, 204) << id(i) << ": " << r.body;
    if (r.status == 204)
      paid.push_back(i);
  }
  auto later = create(7);
  EXPECT_EQ(later.status, 201) << later.body;
  if (later.status == 201)
    created.push_back(7);
  for (int i : paid)
    EXPECT_TRUE(await_state(id(i), order_state::confirmed)) << id(i) << " forwarded";
  EXPECT_TRUE(writable());

  auto store = restart();
  ASSERT_TRUE(store);
  expect_durable(*store, created, paid);
}
