// The timers service over the store's durable timer index: it holds only a
// window in memory, pages the index forward as time passes, stays within
// its bound, spreads late timers at the rate limit, survives a wall-clock
// jump, and loses no timer to a page read while orders re-arm or cancel.
// The test coordinator and a fake clock drive it: no sleeps.

#include "actors/timers.hpp"

#include <gtest/gtest.h>

#include "tests/actors/actor_fixture.hpp"

using namespace paycoord;
using namespace paycoord::testing;
using namespace std::chrono_literals;

namespace {

struct fire {
  std::string id;
  int64_t at_ms;
};

class timers_test : public actor_fixture {
protected:
  /// Spawns the service with `opts` (horizon etc.) over the fixture's store,
  /// firing into a collector that records the fake clock at each fire.
  caf::actor start(timers_options opts) {
    auto c = clock;
    auto out = fired;
    target = sys->spawn([c, out](caf::event_based_actor*) -> caf::behavior {
      return {[c, out](const timer_fired& t) { out->push_back(fire{t.out_trade_no, c->now}); }};
    });
    timers = sys->spawn(timers_actor, target, opts);
    run();
    return timers;
  }

  ~timers_test() override {
    for (auto& a : {timers, target})
      if (a)
        caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    run();
  }

  timers_options window(int64_t horizon_ms, size_t max_entries = 100'000) {
    auto o = timer_options();
    o.horizon_ms = horizon_ms;
    o.max_entries = max_entries;
    o.page_size = 64;
    return o;
  }

  /// Orders due at `dues` (relative to now), written as paycoord does.
  void orders_due(const std::vector<std::pair<std::string, int64_t>>& dues) {
    write_set set;
    for (auto& [id, in_ms] : dues) {
      order_record x;
      x.out_trade_no = id;
      x.action = next_action::verify;
      x.next_due_ms = clock->now + in_ms;
      set.put(x, nullptr);
    }
    ASSERT_TRUE(db->commit(set));
  }

  /// Moves both clocks `total` forward in steps of `step`.
  void pass(std::chrono::milliseconds total, std::chrono::milliseconds step = 1s) {
    while (total.count() > 0) {
      auto s = std::min(total, step);
      clock->now += s.count();
      sched->advance_time(s);
      run();
      total -= s;
    }
  }

  uint64_t in_memory() {
    return request<uint64_t>(timers, live_atom_v).value_or(~0ull);
  }

  std::vector<std::string> fired_ids() const {
    std::vector<std::string> ids;
    for (auto& f : *fired)
      ids.push_back(f.id);
    return ids;
  }

  std::shared_ptr<std::vector<fire>> fired = std::make_shared<std::vector<fire>>();
  caf::actor target;
  caf::actor timers;
};

} // namespace

TEST_F(timers_test, holds_only_the_window_and_pages_the_index_forward) {
  orders_due({{"SOON", 10'000}, {"LATER", 5 * 60'000}, {"HOURS", 2 * 3'600'000}});
  start(window(60'000));
  EXPECT_EQ(request<uint64_t>(timers, recover_atom_v), 1u) << "ready with the first window";
  EXPECT_EQ(in_memory(), 1u) << "only SOON is due within the horizon";
  pass(11s);
  EXPECT_EQ(fired_ids(), std::vector<std::string>{"SOON"});
  EXPECT_EQ(in_memory(), 0u);
  pass(4min);
  EXPECT_EQ(in_memory(), 1u) << "LATER paged in as its due time came near";
  pass(1min);
  ASSERT_EQ(fired_ids(), (std::vector<std::string>{"SOON", "LATER"}));
  EXPECT_LE((*fired)[1].at_ms - (*fired)[0].at_ms, 5 * 60'000 - 10'000 + 1'000)
    << "on time, to the step of the fake clock";
  pass(2h, 10s);
  EXPECT_EQ(fired_ids(), (std::vector<std::string>{"SOON", "LATER", "HOURS"}));
}

TEST_F(timers_test, arming_beyond_the_window_costs_no_memory) {
  start(window(60'000));
  auto t = clock->now;
  caf::anon_send(timers, arm_timer{"FAR", t + 3'600'000, t + 3'600'000});
  caf::anon_send(timers, arm_timer{"NEAR", t + 20'000, t + 20'000});
  run();
  EXPECT_EQ(in_memory(), 1u);
  EXPECT_EQ(request<int64_t>(timers, snapshot_atom_v, std::string{"FAR"}), 0)
    << "its durable index entry is all it has";
  // Within the window the index entry was paged already: memory is the only
  // copy, even for an order whose fire is put off (a failing disk).
  caf::anon_send(timers, arm_timer{"BACKOFF", t + 3'600'000, t + 1'000});
  run();
  EXPECT_EQ(in_memory(), 2u);
}

TEST_F(timers_test, memory_stays_bounded_and_every_timer_fires_once_in_due_order) {
  std::vector<std::pair<std::string, int64_t>> dues;
  for (int i = 0; i < 3'000; ++i)
    dues.emplace_back("M" + std::to_string(i), 1'000 + (i * 7'919) % 30'000);
  orders_due(dues);
  start(window(60'000, 500));
  uint64_t most = 0;
  for (int i = 0; i < 40; ++i) {
    most = std::max(most, in_memory());
    pass(1s, 250ms);
  }
  EXPECT_LE(most, 500u);
  ASSERT_EQ(fired->size(), 3'000u);
  auto ids = fired_ids();
  std::set<std::string> once(ids.begin(), ids.end());
  EXPECT_EQ(once.size(), 3'000u) << "no timer twice";
  std::map<std::string, int64_t> due(dues.begin(), dues.end());
  for (size_t i = 1; i < ids.size(); ++i)
    ASSERT_LE(due[ids[i - 1]], due[ids[i]]) << "in due order, at " << i;
}

TEST_F(timers_test, a_wall_clock_jump_makes_timers_late_and_they_fire_at_the_rate_limit) {
  std::vector<std::pair<std::string, int64_t>> dues;
  for (int i = 0; i < 200; ++i)
    dues.emplace_back("J" + std::to_string(i), 30'000 + i * 100);
  orders_due(dues);
  auto opts = window(60'000);
  opts.late_fires_per_s = 50;
  opts.max_sleep_ms = 250; // how soon a jump is noticed
  start(opts);
  pass(5s, 250ms);
  EXPECT_EQ(in_memory(), 200u) << "all paged in, a page of 64 at a time";
  EXPECT_TRUE(fired->empty());
  // The clock jumps 10 minutes: every entry is late at once.
  clock->now += 10 * 60'000;
  pass(250ms, 250ms); // noticed
  pass(1s, 250ms);
  EXPECT_GE(fired->size(), 45u);
  EXPECT_LE(fired->size(), 65u) << "a second's worth at 50 a second";
  pass(3s, 250ms);
  EXPECT_EQ(fired->size(), 200u) << "all within 200 / 50 s";
  std::vector<std::string> want;
  for (int i = 0; i < 200; ++i)
    want.push_back("J" + std::to_string(i));
  EXPECT_EQ(fired_ids(), want) << "in due order";
}

TEST_F(timers_test, a_late_backlog_does_not_hold_up_timers_due_on_time) {
  std::vector<std::pair<std::string, int64_t>> dues;
  for (int i = 0; i < 100; ++i)
    dues.emplace_back("OLD" + std::to_string(i), -600'000 + i);
  orders_due(dues);
  auto opts = window(60'000);
  opts.late_fires_per_s = 10;
  start(opts);
  auto t = clock->now;
  caf::anon_send(timers, arm_timer{"FRESH", t + 2'000, t + 2'000});
  run();
  pass(3s, 250ms);
  auto ids = fired_ids();
  EXPECT_NE(std::find(ids.begin(), ids.end(), "FRESH"), ids.end())
    << "a forward retry due now fires now, whatever the backlog";
  EXPECT_LE(ids.size(), 40u) << "the backlog goes at 10 a second";
}

namespace {

using held_pages = std::vector<std::pair<caf::response_promise, std::vector<timer_entry>>>;

/// A store that reads the index at once but holds its first answer until
/// released: orders re-arm and cancel while that page is on its way, and it
/// still holds their old entries. Later pages are answered at once.
caf::behavior slow_index(caf::event_based_actor* self, std::shared_ptr<order_store> db,
                         std::shared_ptr<held_pages> held) {
  auto released = std::make_shared<bool>(false);
  return {
    [=](index_atom, const timer_entry& after, int64_t until,
        uint32_t limit) -> caf::result<std::vector<timer_entry>> {
      std::optional<timer_entry> from;
      if (after.due_ms >= 0)
        from = after;
      auto page = db->timers(from, until, limit);
      auto entries = page ? *page : std::vector<timer_entry>{};
      if (*released)
        return entries;
      held->emplace_back(self->make_response_promise(), std::move(entries));
      return caf::delegated<std::vector<timer_entry>>{};
    },
    [=](flush_atom) {
      *released = true;
      for (auto& [promise, page] : *held)
        promise.deliver(page);
      held->clear();
    },
  };
}

} // namespace

TEST_F(timers_test, no_timer_is_lost_or_resurrected_by_a_page_read_while_orders_change) {
  orders_due({{"STAY", 5'000}, {"REARM", 6'000}, {"GONE", 7'000}, {"AWAY", 8'000}});
  auto held = std::make_shared<held_pages>();
  auto index = sys->spawn(slow_index, db, held);
  auto opts = window(60'000);
  opts.store = index;
  start(opts);
  ASSERT_EQ(held->size(), 1u) << "the first page is on its way";
  auto t = clock->now;
  // Meanwhile their orders change, as paycoord writes them, then arm or
  // cancel: REARM is due later, GONE was closed, AWAY is due beyond the
  // window.
  write_set set;
  auto change = [&](const std::string& id, auto edit) {
    auto was = *stored(id);
    auto now = was;
    edit(now);
    set.put(now, &was);
  };
  change("REARM", [&](order_record& x) { x.next_due_ms = t + 9'000; });
  change("GONE", [](order_record& x) {
    x.state = order_state::closed;
    x.action = next_action::none;
  });
  change("AWAY", [&](order_record& x) { x.next_due_ms = t + 3'600'000; });
  ASSERT_TRUE(db->commit(set));
  caf::anon_send(timers, arm_timer{"REARM", t + 9'000, t + 9'000});
  caf::anon_send(timers, cancel_atom_v, std::string{"GONE"});
  caf::anon_send(timers, arm_timer{"AWAY", t + 3'600'000, t + 3'600'000});
  run();
  caf::anon_send(index, flush_atom_v); // the stale page arrives
  run();
  pass(20s, 250ms);
  EXPECT_EQ(fired_ids(), (std::vector<std::string>{"STAY", "REARM"}))
    << "REARM at its new time only, GONE never, AWAY not yet";
  ASSERT_EQ(fired->size(), 2u);
  EXPECT_GE((*fired)[1].at_ms, t + 9'000);
  pass(1h, 10s);
  EXPECT_EQ(fired_ids(), (std::vector<std::string>{"STAY", "REARM", "AWAY"}))
    << "AWAY when its due time comes";
  caf::anon_send_exit(index, caf::exit_reason::user_shutdown);
}

// After a long downtime the backlog is far larger than the window: it is
// paged by a cursor of its own, a few seconds' worth at a time, and the
// timers due now are paged and fired on time beside it (the scale
// benchmark once saw the window fill up with late entries and on-time
// timers starve behind them).
TEST_F(timers_test, a_backlog_larger_than_the_window_leaves_timers_due_now_on_time) {
  std::vector<std::pair<std::string, int64_t>> dues;
  for (int i = 0; i < 5'000; ++i)
    dues.emplace_back("OLD" + std::to_string(i), -600'000 + i * 100);
  for (int i = 0; i < 300; ++i)
    dues.emplace_back("NOW" + std::to_string(i), 1'000 + i * 100);
  orders_due(dues);
  auto opts = window(60'000, 500);
  opts.late_fires_per_s = 100;
  auto t = clock->now;
  start(opts);
  uint64_t most = 0;
  for (int i = 0; i < 32; ++i) {
    pass(1s, 250ms);
    most = std::max(most, in_memory());
  }
  std::vector<int64_t> lateness;
  size_t old = 0;
  for (auto& f : *fired) {
    if (f.id.rfind("NOW", 0) == 0)
      lateness.push_back(f.at_ms - (t + 1'000 + std::stoll(f.id.substr(3)) * 100));
    else
      ++old;
  }
  ASSERT_EQ(lateness.size(), 300u) << "every timer due now fired";
  EXPECT_LE(*std::max_element(lateness.begin(), lateness.end()), 250)
    << "each within a step of the fake clock";
  EXPECT_GE(old, 3'000u) << "the backlog drains at 100 a second";
  EXPECT_LE(old, 3'300u);
  EXPECT_LE(most, 500u + 1'000u) << "the window's bound plus ten seconds of backlog";
}
