#pragma once

// A deterministic world for actor tests: CAF's test coordinator (no threads,
// simulated time), a fake wall clock advanced in lockstep with it, the real
// store actor over a real LevelDB in a temp dir, and scripted WeChat and
// business-server actors that record every call.

#include <map>
#include <set>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <gtest/gtest.h>

#include "actors/messages.hpp"
#include "actors/order.hpp"
#include "actors/order_machine.hpp"
#include "actors/registry.hpp"
#include "actors/store.hpp"
#include "actors/timers.hpp"
#include "tests/temp_dir.hpp"

namespace paycoord::testing {

/// Wall clock under test control; `throws` > 0 makes the next calls throw
/// (fault injection for supervision tests).
struct fake_clock {
  int64_t now = 1'795'658'400'000; // 2026-11-26T10:00:00+08:00
  int throws = 0;

  int64_t operator()() const {
    return now;
  }

  /// The order actors' clock: the one that fails on demand.
  int64_t for_orders() {
    if (throws > 0) {
      --throws;
      throw std::runtime_error("injected fault");
    }
    return now;
  }
};

/// What the scripted WeChat and business actors answer, and what they saw.
struct script {
  std::map<std::string, query_result> query; // default: NOTPAY
  /// Orders the customer pays just before paycoord closes them; every other
  /// closed order queries CLOSED afterwards (as at WeChat).
  std::set<std::string> paid_before_close;
  bool prepay_ok = true;
  bool close_ok = true;
  bool business_up = true;
  std::vector<std::string> queries;
  std::vector<std::string> closes;
  std::vector<std::string> prepays;
  std::vector<forward_request> forwards;
  // -- refunds -------------------------------------------------------------------
  /// WeChat's refunds by out_refund_no: their status (absent: never accepted).
  std::map<std::string, std::string> refund_status;
  std::map<std::string, int64_t> refund_amount;
  /// The next applies answer 500 without accepting the refund ...
  int refund_apply_errors = 0;
  /// ... or accept it and still answer 500 (the answer is lost) ...
  int refund_apply_lost = 0;
  /// ... or refuse it outright (403 NOT_ENOUGH).
  bool refund_refuse = false;
  std::vector<std::string> refund_applies;
  std::vector<std::string> refund_queries;
  std::vector<refund_delivery> refund_deliveries;
};

/// WeChat's refund object for `no` in `status`, as the client reads it.
inline refund_result refund_object(const std::string& out_trade_no, const std::string& no,
                                   int64_t amount, const std::string& status) {
  refund_result r;
  r.outcome = refund_outcome::refund;
  r.status = 200;
  r.fact.out_trade_no = out_trade_no;
  r.fact.out_refund_no = no;
  r.fact.refund_id = "5030" + no;
  r.fact.status = status;
  r.fact.refund = amount;
  r.fact.total = 100;
  if (status == "SUCCESS")
    r.fact.success_time_ms = 1'795'658'500'000;
  return r;
}

inline schedule_config test_schedule() {
  using namespace std::chrono_literals;
  schedule_config s;
  s.verify = {5s, 30s, 60s};
  s.verify_every = 10min;
  s.userpaying_retry = 5s;
  s.default_expiry = 1h;
  s.forward_backoff_initial = 1s;
  s.forward_backoff_max = 8s;
  s.stuck_after = 30s;
  s.close_not_before = 5min;
  return s;
}

/// 2026-11-26T10:00:00+08:00: where machine-level tests start their clock.
constexpr int64_t test_t0 = 1'795'658'400'000;

/// The order machine of the test merchant over test_schedule(), with a
/// fixed "random" draw (backoff jitter in the middle).
inline order_machine test_machine() {
  return order_machine{order_rules{"1900000001", "wx8888888888888888", test_schedule()},
                       [] { return 0.5; }};
}

inline query_result paid(const std::string& id, int64_t total = 100) {
  query_result r;
  r.outcome = query_outcome::trade_state;
  r.status = 200;
  r.fact.out_trade_no = id;
  r.fact.trade_state = "SUCCESS";
  r.fact.transaction_id = "4200" + id;
  r.fact.total = total;
  r.fact.payer_total = total;
  r.fact.currency = "CNY";
  r.fact.success_time_ms = 1'795'658'405'000;
  return r;
}

inline query_result trade(const std::string& state) {
  query_result r;
  r.outcome = query_outcome::trade_state;
  r.status = 200;
  r.fact.trade_state = state;
  return r;
}

inline verified_notification payment_notification(const std::string& id,
                                                  int64_t total = 100,
                                                  std::string nid = "EV-1") {
  verified_notification n;
  n.notification_id = std::move(nid);
  n.event_type = "TRANSACTION.SUCCESS";
  n.is_payment = true;
  n.fact = paid(id, total).fact;
  return n;
}

inline create_order new_order(const std::string& id, int64_t total = 100) {
  create_order c;
  c.out_trade_no = id;
  c.description = "Monthly plan";
  c.amount_total = total;
  c.payer_openid = "o-abc";
  return c;
}

class actor_fixture : public ::testing::Test {
public:
  actor_fixture() {
    cfg_.set("scheduler.policy", caf::atom("testing"));
    cfg_.set("logger.file-verbosity", caf::atom("quiet"));
    register_message_types(cfg_);
    sys = std::make_unique<caf::actor_system>(cfg_);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    clock = std::make_shared<fake_clock>();
    db = open_db();
    store = sys->spawn(store_actor, db, metrics, store_actor_options{});
    wechat = sys->spawn(scripted_wechat, world);
    business = sys->spawn(scripted_business, world);
  }

  ~actor_fixture() override {
    for (auto& a : {store, wechat, business, registry})
      if (a)
        caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    sched->run();
  }

  std::shared_ptr<order_store> open_db() {
    auto s = order_store::open(dir.str());
    EXPECT_TRUE(s);
    return std::shared_ptr<order_store>{std::move(*s)};
  }

  order_deps deps() {
    order_deps d;
    d.store = store;
    d.wechat = wechat;
    d.business = business;
    d.machine = std::make_shared<order_machine>(
      order_rules{"1900000001", "wx8888888888888888", test_schedule()},
      [] { return 0.5; });
    auto c = clock;
    d.now_ms = [c] { return c->for_orders(); };
    d.passivate_after_ms = passivate_after_ms;
    d.metrics = metrics;
    return d;
  }

  timers_options timer_options() {
    timers_options o;
    auto c = clock;
    o.now_ms = [c] { return (*c)(); };
    o.metrics = metrics;
    o.store = store;
    o.late_fires_per_s = late_fires_per_s;
    return o;
  }

  /// Spawns the registry (which spawns its timers service).
  void start_registry() {
    registry_options opts;
    auto topts = timer_options();
    opts.spawn_timers = [topts](caf::local_actor* self, caf::actor target) {
      return self->spawn(timers_actor, std::move(target), topts);
    };
    registry = sys->spawn(registry_actor, deps(), opts);
    run();
  }

  void run() {
    sched->run();
  }

  /// Moves both clocks forward and runs everything that became due.
  void advance(std::chrono::milliseconds d) {
    // Step in small increments so that chains of timers fire in order.
    auto step = std::chrono::milliseconds{250};
    while (d.count() > 0) {
      auto s = std::min(d, step);
      clock->now += s.count();
      sched->advance_time(s);
      run();
      d -= s;
    }
  }

  /// Sends a message whose last element is an order_reply and returns the
  /// outcome it was answered with (status 0 = never answered).
  template <class... Ts>
  order_outcome ask(Ts&&... xs) {
    auto out = std::make_shared<order_outcome>();
    out->status = 0;
    order_reply reply{[out](order_outcome o) { *out = std::move(o); }};
    caf::anon_send(registry, std::forward<Ts>(xs)..., std::move(reply));
    run();
    return *out;
  }

  std::optional<order_record> stored(const std::string& id) {
    auto x = db->get_order(id);
    EXPECT_TRUE(x);
    return x ? *x : std::nullopt;
  }

  std::vector<std::string> event_kinds(const std::string& id) {
    std::vector<std::string> kinds;
    auto events = db->events(id);
    if (events)
      for (auto& e : *events)
        kinds.push_back(e.kind);
    return kinds;
  }

  /// Requests `xs` from `dest` and returns the answer of type T (driven by
  /// the test coordinator: no blocking receive).
  template <class T, class... Ts>
  std::optional<T> request(const caf::actor& dest, Ts... xs) {
    auto out = std::make_shared<std::optional<T>>();
    sys->spawn([=](caf::event_based_actor* self) {
      self->request(dest, caf::infinite, xs...)
        .then([=](T& x) { *out = std::move(x); }, [](caf::error&) {});
    });
    run();
    return *out;
  }

  uint64_t live_orders() {
    return request<uint64_t>(registry, live_atom_v).value_or(~0ull);
  }

  caf::actor current_timers() {
    return request<caf::actor>(registry, timer_atom_v).value_or(caf::actor{});
  }

  actor_snapshot snapshot(const std::string& id) {
    auto out = std::make_shared<actor_snapshot>();
    caf::anon_send(registry, snapshot_atom_v, id,
                   snapshot_reply{[out](actor_snapshot s) { *out = s; }});
    run();
    return *out;
  }

  static caf::behavior scripted_wechat(caf::event_based_actor*,
                                       std::shared_ptr<script> w) {
    return {
      [w](query_atom, const std::string& id) {
        w->queries.push_back(id);
        auto i = w->query.find(id);
        if (i != w->query.end()) {
          auto r = i->second;
          r.fact.out_trade_no = id;
          return r;
        }
        auto r = trade("NOTPAY");
        r.fact.out_trade_no = id;
        return r;
      },
      [w](close_atom, const std::string& id) {
        w->closes.push_back(id);
        if (w->close_ok)
          w->query[id] = w->paid_before_close.count(id) ? paid(id)
                                                        : trade("CLOSED");
        call_result r;
        r.ok = w->close_ok;
        r.status = w->close_ok ? 204 : 500;
        return r;
      },
      [w](rf_apply_atom, const refund_record& x) {
        w->refund_applies.push_back(x.out_refund_no);
        refund_result r;
        if (w->refund_apply_errors > 0) {
          --w->refund_apply_errors;
          r.status = 500;
          r.code = "SYSTEM_ERROR";
          r.error = "HTTP 500 SYSTEM_ERROR";
          return r;
        }
        if (w->refund_refuse && !w->refund_status.count(x.out_refund_no)) {
          r.outcome = refund_outcome::refused;
          r.status = 403;
          r.code = "NOT_ENOUGH";
          r.error = "HTTP 403 NOT_ENOUGH: 余额不足";
          return r;
        }
        w->refund_status.emplace(x.out_refund_no, "PROCESSING");
        w->refund_amount[x.out_refund_no] = x.amount_refund;
        if (w->refund_apply_lost > 0) {
          --w->refund_apply_lost;
          r.status = 500;
          r.error = "HTTP 500 SYSTEM_ERROR";
          return r;
        }
        return refund_object(x.out_trade_no, x.out_refund_no, x.amount_refund,
                             w->refund_status[x.out_refund_no]);
      },
      [w](rf_query_atom, const std::string& no) {
        w->refund_queries.push_back(no);
        auto i = w->refund_status.find(no);
        if (i == w->refund_status.end()) {
          refund_result r;
          r.outcome = refund_outcome::not_found;
          r.status = 404;
          r.code = "RESOURCE_NOT_EXISTS";
          return r;
        }
        return refund_object("", no, w->refund_amount[no], i->second);
      },
      [w](prepay_atom, const order_record& x) {
        w->prepays.push_back(x.out_trade_no);
        call_result r;
        r.ok = w->prepay_ok;
        r.status = w->prepay_ok ? 200 : 500;
        if (r.ok)
          r.prepay_id = "wx_prepay_" + x.out_trade_no;
        else
          r.error = "SYSTEM_ERROR";
        return r;
      },
    };
  }

  static caf::behavior scripted_business(caf::event_based_actor*,
                                         std::shared_ptr<script> w) {
    return {
      [w](forward_atom, const forward_request& f) {
        w->forwards.push_back(f);
        forward_result r;
        r.acked = w->business_up;
        r.status = w->business_up ? 200 : 503;
        return r;
      },
      [w](forward_atom, const refund_delivery& f) {
        w->refund_deliveries.push_back(f);
        forward_result r;
        r.acked = w->business_up;
        r.status = w->business_up ? 200 : 503;
        return r;
      },
    };
  }

  temp_dir dir;
  std::shared_ptr<script> world = std::make_shared<script>();
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  std::shared_ptr<fake_clock> clock;
  std::shared_ptr<order_store> db;
  /// Late timers fire at once unless a test limits them (timers_options).
  int64_t late_fires_per_s = 0;
  /// Order actors stay in memory unless a test passivates them.
  int64_t passivate_after_ms = -1;
  /// Shared by the store, every order and the timers (as in paycoord).
  std::shared_ptr<paycoord::metrics> metrics = std::make_shared<paycoord::metrics>();
  caf::actor store;
  caf::actor wechat;
  caf::actor business;
  caf::actor registry;

private:
  caf::actor_system_config cfg_;
};

} // namespace paycoord::testing
