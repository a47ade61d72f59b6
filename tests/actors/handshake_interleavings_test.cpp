// The registry's idle/stop/busy handshake, passivation and respawn, checked
// over every interleaving of a bounded set of concurrent messages.
//
// Each run builds a fresh world (store in memory, registry, timers, scripted
// WeChat and business server) on CAF's deterministic test coordinator, with
// one open order A1 whose next step is far away (so its actor wants to leave
// memory as soon as it has nothing to do). Client actors each send one
// message to the registry when they run: a request that loads the order, a
// payment notification, a timer fire, an operator's verify. At every step
// the run picks which ready actor handles its next message; a depth-first
// search over those picks visits every order in which the actors' steps can
// happen (one message per step: the coordinator resumes an actor for one
// message). After each run:
// - no message lost: every request is answered exactly once, with its status;
// - none handled twice: one `notify` event on the timeline, one delivery;
// - never two actors for one order (counted by the actors themselves);
// - the order ends CONFIRMED, or open with its timer in the store's index.

#include <leveldb/env.h>
#include <leveldb/helpers/memenv.h>

#include <gtest/gtest.h>

#include "tests/actors/actor_fixture.hpp"

using namespace paycoord;
using namespace paycoord::testing;

namespace {

/// One message a client sends, and what it must be answered.
struct client_message {
  std::string name;
  /// The answers it may get (one of them, once); empty: none (a timer fire).
  std::vector<unsigned> statuses;
};

/// The world of one run.
class world {
public:
  explicit world(const std::vector<client_message>& clients)
    : env_(leveldb::NewMemEnv(leveldb::Env::Default())) {
    cfg_.set("scheduler.policy", caf::atom("testing"));
    cfg_.set("logger.file-verbosity", caf::atom("quiet"));
    register_message_types(cfg_);
    sys_ = std::make_unique<caf::actor_system>(cfg_);
    sched_ = &dynamic_cast<caf::scheduler::test_coordinator&>(sys_->scheduler());
    store_options opts;
    opts.env = env_.get();
    auto opened = order_store::open("/handshake", opts);
    EXPECT_TRUE(opened);
    db_ = std::shared_ptr<order_store>{std::move(*opened)};
    machine_ = std::make_shared<order_machine>(
      order_rules{"1900000001", "wx8888888888888888", test_schedule()}, [] { return 0.5; });
    // A1: open, created a minute ago, its next query 60 s away.
    auto x = machine_->create(new_order("A1"), clock_->now - 60'000).record;
    x.prepay_id = "wx_prepay_A1";
    x.verify_step = 3;
    x.next_due_ms = clock_->now + 60'000;
    write_set set;
    set.put(x, nullptr);
    EXPECT_TRUE(db_->commit(set));
    script_->query["A1"] = paid("A1"); // the customer paid; WeChat knows

    store_ = sys_->spawn(store_actor, db_, metrics_, store_actor_options{0});
    wechat_ = sys_->spawn(actor_fixture::scripted_wechat, script_);
    business_ = sys_->spawn(actor_fixture::scripted_business, script_);
    order_deps deps;
    deps.store = store_;
    deps.wechat = wechat_;
    deps.business = business_;
    deps.machine = machine_;
    auto c = clock_;
    deps.now_ms = [c] { return (*c)(); };
    deps.metrics = metrics_;
    deps.passivate_after_ms = 10'000;
    auto life = life_;
    deps.lifecycle = [life](const std::string&, int delta) {
      life->live += delta;
      life->most = std::max(life->most, life->live);
    };
    registry_options ropts;
    timers_options topts;
    topts.now_ms = [c] { return (*c)(); };
    topts.store = store_;
    ropts.spawn_timers = [topts](caf::local_actor* self, caf::actor target) {
      return self->spawn(timers_actor, std::move(target), topts);
    };
    registry_ = sys_->spawn(registry_actor, deps, ropts);
    sched_->run(); // settled: A1 is in the store only
    timers_ = request_timers();

    answers_.resize(clients.size());
    for (size_t i = 0; i < clients.size(); ++i)
      spawn_client(clients[i].name, i);
  }

  ~world() {
    for (auto& a : {registry_, store_, wechat_, business_})
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    sched_->run();
    sys_.reset();
    db_.reset();
  }

  caf::scheduler::test_coordinator& sched() {
    return *sched_;
  }

  /// Most order actors alive at once so far.
  int most_actors() const {
    return life_->most;
  }

  const std::vector<std::vector<unsigned>>& answers() const {
    return answers_;
  }

  const script& wechat_and_business() const {
    return *script_;
  }

  /// Actors whose steps run as soon as they are ready (see explore).
  bool is_eager(caf::resumable* job) const {
    auto* actor = dynamic_cast<caf::abstract_actor*>(job);
    for (auto& a : eager_)
      if (actor == caf::actor_cast<caf::abstract_actor*>(a))
        return true;
    return false;
  }

  void set_eager(bool store_too) {
    eager_ = {wechat_, business_, timers_};
    if (store_too)
      eager_.push_back(store_);
  }

  order_store& store() {
    return *db_;
  }

private:
  caf::actor request_timers() {
    auto out = std::make_shared<caf::actor>();
    auto registry = registry_;
    sys_->spawn([out, registry](caf::event_based_actor* self) {
      self->request(registry, caf::infinite, timer_atom_v)
        .then([out](caf::actor& a) { *out = a; }, [](caf::error&) {});
    });
    sched_->run();
    return *out;
  }

  void spawn_client(const std::string& name, size_t index) {
    auto out = &answers_[index];
    order_reply reply{[out](order_outcome o) { out->push_back(o.status); }};
    auto registry = registry_;
    caf::message msg;
    if (name == "request")
      msg = caf::make_message(create_atom_v, new_order("A1"), reply);
    else if (name == "notify")
      msg = caf::make_message(notify_atom_v, payment_notification("A1"), reply);
    else if (name == "timer")
      msg = caf::make_message(timer_fired{"A1"});
    else if (name == "verify")
      msg = caf::make_message(verify_atom_v, std::string{"A1"}, reply);
    else
      ADD_FAILURE() << "unknown client " << name;
    sys_->spawn([registry, msg](caf::event_based_actor* self) {
      self->send(registry, msg);
      self->quit();
    });
  }

  struct lives {
    int live = 0;
    int most = 0;
  };

  std::unique_ptr<leveldb::Env> env_;
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  caf::scheduler::test_coordinator* sched_ = nullptr;
  std::shared_ptr<fake_clock> clock_ = std::make_shared<fake_clock>();
  std::shared_ptr<script> script_ = std::make_shared<script>();
  std::shared_ptr<order_store> db_;
  std::shared_ptr<const order_machine> machine_;
  std::shared_ptr<paycoord::metrics> metrics_ = std::make_shared<paycoord::metrics>();
  std::shared_ptr<lives> life_ = std::make_shared<lives>();
  std::vector<std::vector<unsigned>> answers_;
  caf::actor store_, wechat_, business_, registry_, timers_;
  std::vector<caf::actor> eager_;
};

/// One run: follows `prefix` (indices into the ready jobs), then always the
/// first ready job; returns how many jobs were ready at every step, and
/// checks the run's properties (failures name the schedule).
std::vector<size_t> run_once(const std::vector<client_message>& clients, bool eager_store,
                             const std::vector<size_t>& prefix, std::vector<size_t>& taken) {
  world w{clients};
  w.set_eager(eager_store);
  auto& sched = w.sched();
  std::vector<size_t> ready;
  taken.clear();
  auto run_eager = [&] {
    for (bool again = true; again;) {
      again = false;
      for (size_t i = 0; i < sched.jobs.size(); ++i)
        if (w.is_eager(sched.jobs[i])) {
          auto job = sched.jobs[i];
          sched.jobs.erase(sched.jobs.begin() + static_cast<std::ptrdiff_t>(i));
          sched.jobs.push_front(job);
          sched.run_once();
          again = true;
          break;
        }
    }
  };
  while ((run_eager(), sched.has_job())) {
    auto n = sched.jobs.size();
    auto pick = ready.size() < prefix.size() ? prefix[ready.size()] : 0;
    ready.push_back(n);
    taken.push_back(pick);
    if (pick > 0) {
      auto job = sched.jobs[pick];
      sched.jobs.erase(sched.jobs.begin() + static_cast<std::ptrdiff_t>(pick));
      sched.jobs.push_front(job);
    }
    sched.run_once();
    if (w.most_actors() > 1)
      break;
  }
  std::string where = "schedule";
  for (auto t : taken)
    where += " " + std::to_string(t);
  EXPECT_LE(w.most_actors(), 1) << "two actors for A1 at once; " << where;
  for (size_t i = 0; i < clients.size(); ++i) {
    auto& got = w.answers()[i];
    if (clients[i].statuses.empty()) {
      EXPECT_TRUE(got.empty()) << clients[i].name << "; " << where;
      continue;
    }
    EXPECT_EQ(got.size(), 1u) << clients[i].name << " answered once; " << where;
    for (auto status : got)
      EXPECT_TRUE(std::count(clients[i].statuses.begin(), clients[i].statuses.end(), status))
        << clients[i].name << " answered " << status << "; " << where;
  }
  auto x = w.store().get_order("A1");
  EXPECT_TRUE(x && x->has_value()) << where;
  if (x && x->has_value()) {
    const auto& record = **x;
    EXPECT_EQ(record.state, order_state::confirmed) << where;
    auto events = w.store().events("A1");
    EXPECT_TRUE(events) << where;
    size_t notifies = 0;
    if (events)
      for (auto& e : *events)
        notifies += e.kind == "notify";
    // The notification applied once, or found the order paid already (by
    // the operator's query): then it is a duplicate and writes no event.
    EXPECT_LE(notifies, 1u) << "the notification handled once; " << where;
    EXPECT_EQ(w.wechat_and_business().forwards.size(), 1u) << "delivered once; " << where;
    if (is_active(record.state)) {
      EXPECT_TRUE(*w.store().timer_indexed(record)) << where;
    }
  }
  return ready;
}

/// Depth-first over every schedule of the registry, the order actors and the
/// clients (and the store unless `eager_store`); WeChat, the business
/// server and the timers service answer as soon as they are asked. Returns
/// the number of runs.
size_t explore(const std::vector<client_message>& clients, bool eager_store, size_t max_runs) {
  std::vector<std::vector<size_t>> todo{{}};
  size_t runs = 0;
  std::vector<size_t> taken;
  while (!todo.empty() && runs < max_runs) {
    auto prefix = std::move(todo.back());
    todo.pop_back();
    auto ready = run_once(clients, eager_store, prefix, taken);
    ++runs;
    if (::testing::Test::HasFailure())
      return runs;
    // Every other pick at every step past the prefix is a schedule of its own.
    for (size_t step = ready.size(); step-- > prefix.size();)
      for (size_t alt = 1; alt < ready[step]; ++alt) {
        std::vector<size_t> next(taken.begin(), taken.begin() + static_cast<std::ptrdiff_t>(step));
        next.push_back(alt);
        todo.push_back(std::move(next));
      }
  }
  EXPECT_TRUE(todo.empty()) << "the search was cut at " << max_runs << " runs";
  return runs;
}

} // namespace

TEST(handshake_interleavings, a_request_and_a_notification_against_a_passivating_order) {
  auto runs = explore({{"request", {200}}, {"notify", {204}}}, false, 200'000);
  std::printf("request + notify (store interleaved): %zu schedules\n", runs);
}

TEST(handshake_interleavings, a_timer_fire_and_a_notification_against_a_passivating_order) {
  auto runs = explore({{"timer", {}}, {"notify", {204}}}, false, 200'000);
  std::printf("timer + notify (store interleaved): %zu schedules\n", runs);
}

TEST(handshake_interleavings, an_operators_verify_and_a_notification) {
  // 409 when the notification paid the order first: verify is for PENDING.
  auto runs = explore({{"verify", {202, 409}}, {"notify", {204}}}, false, 200'000);
  std::printf("verify + notify (store interleaved): %zu schedules\n", runs);
}

TEST(handshake_interleavings, three_concurrent_messages) {
  auto runs = explore({{"request", {200}}, {"timer", {}}, {"notify", {204}}}, true, 200'000);
  std::printf("request + timer + notify (store answering at once): %zu schedules\n", runs);
  runs = explore({{"request", {200}}, {"verify", {202, 409}}, {"notify", {204}}}, true, 200'000);
  std::printf("request + verify + notify (store answering at once): %zu schedules\n", runs);
}
