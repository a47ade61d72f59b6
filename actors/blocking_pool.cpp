#include "actors/blocking_pool.hpp"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <utility>

#include <spdlog/spdlog.h>

#include "actors/messages.hpp"

namespace paycoord {

namespace {

// -- workers -------------------------------------------------------------------

struct pool_worker_state {
  static inline const char* name = "pool_worker";

  // Not an aggregate: stateful_actor would otherwise build the state from
  // the actor pointer (C++20 parenthesised aggregate initialisation).
  pool_worker_state() = default;

  caf::message_handler executor;
};

/// One blocking worker (spawned detached: its own thread). Internal protocol:
/// `(uint64_t job_id, caf::message request)` -> `(uint64_t job_id,
/// caf::message answer)`; the request travels nested so that the worker
/// stays generic and the dispatcher gets every answer through one handler.
caf::behavior pool_worker(caf::stateful_actor<pool_worker_state>* self,
                          caf::actor_addr dispatcher,
                          caf::message_handler executor) {
  self->state.executor = std::move(executor);
  // Without its dispatcher nobody can reach this worker: quit rather than
  // keep a thread (and actor_system shutdown) waiting. Monitoring by address
  // keeps no reference cycle between dispatcher and workers.
  self->monitor(dispatcher);
  self->set_down_handler([self](caf::down_msg&) { self->quit(); });
  self->set_exit_handler([self](caf::exit_msg& msg) { self->quit(msg.reason); });
  self->set_default_handler(log_unexpected("pool_worker"));
  return {
    [self](uint64_t job_id, caf::message& request) -> caf::result<caf::message> {
      auto answer = self->state.executor(request);
      if (!answer) // the dispatcher only passes requests the protocol knows
        return caf::sec::unexpected_message;
      return caf::make_message(job_id, std::move(*answer));
    },
  };
}

// -- the dispatcher --------------------------------------------------------------

using self_ptr = caf::stateful_actor<blocking_pool_state>*;
using job = blocking_pool_state::job;

/// The pool's "retry later" answer for `request`; empty when the request is
/// not part of the pool's protocol.
caf::message refusal(self_ptr self, caf::message& request, const std::string& reason) {
  auto answer = self->state.config.refusals(reason)(request);
  return answer ? std::move(*answer) : caf::message{};
}

/// Counts a refusal that really happens (`refusal` alone only builds one).
void count_refusal(self_ptr self, const caf::message& request) {
  if (self->state.config.on_refused)
    self->state.config.on_refused(request);
}

void refuse(self_ptr self, job& x, const std::string& reason) {
  auto answer = refusal(self, x.request, reason);
  assert(!answer.empty());
  count_refusal(self, x.request);
  x.promise.deliver(std::move(answer));
}

void spawn_worker(self_ptr self) {
  auto& st = self->state;
  auto handle = self->spawn<caf::detached + caf::monitored>(
    pool_worker, self->address(), st.config.make_executor());
  st.idle.push_back(handle);
  st.workers.emplace(handle.address(), blocking_pool_state::worker{handle, {}});
}

void dispatch(self_ptr self);

/// Answers the request `worker` runs with `answer`, or with its refusal when
/// the worker `failed`, unless the worker no longer runs `job_id` (a worker
/// that dies is reported twice: by its request's error and by its down
/// message). A worker that answered takes the next request; one that failed
/// (usually it died of an exception and CAF answered for it) never gets
/// another: it is ended, and the down handler replaces it.
void settle(self_ptr self, const caf::actor_addr& worker, uint64_t job_id,
            caf::message answer, const caf::error& failed = caf::error{}) {
  auto& st = self->state;
  auto i = st.workers.find(worker);
  if (i == st.workers.end() || !i->second.in_flight
      || i->second.in_flight->id != job_id)
    return;
  auto& slot = i->second;
  if (failed) {
    auto reason = "worker failed: " + caf::to_string(failed);
    spdlog::error("event=pool_job_failed pool={} error=\"{}\"", st.config.name, reason);
    answer = refusal(self, slot.in_flight->request, reason);
    count_refusal(self, slot.in_flight->request);
    self->send_exit(slot.handle, caf::exit_reason::kill);
  } else {
    st.idle.push_back(slot.handle);
  }
  slot.in_flight->promise.deliver(std::move(answer));
  slot.in_flight.reset();
  dispatch(self);
}

void start(self_ptr self, caf::actor worker, job x) {
  auto addr = worker.address();
  auto job_id = x.id;
  auto request = x.request;
  self->state.workers.at(addr).in_flight = std::move(x);
  self->request(worker, caf::infinite, job_id, std::move(request))
    .then(
      [=](uint64_t, caf::message& answer) {
        settle(self, addr, job_id, std::move(answer));
      },
      [=](caf::error& err) { settle(self, addr, job_id, caf::message{}, err); });
}

void schedule_tick(self_ptr self) {
  auto& st = self->state;
  if (st.tick_pending)
    return;
  st.tick_pending = true;
  // One timer at a time, for when the next token is due: however many
  // requests wait, they start at the bucket's rate and no faster (at least
  // 1 ms, so that a clock that stands still never makes a busy loop).
  auto wait = std::max<int64_t>(st.bucket->wait_ns(), 1'000'000);
  self->delayed_send(self, std::chrono::nanoseconds{wait}, tick_atom_v);
}

void dispatch(self_ptr self) {
  auto& st = self->state;
  while ((!st.urgent.empty() || !st.queue.empty()) && !st.idle.empty()) {
    if (st.bucket && !st.bucket->try_take()) {
      schedule_tick(self);
      return;
    }
    auto worker = std::move(st.idle.back());
    st.idle.pop_back();
    auto& from = st.urgent.empty() ? st.queue : st.urgent;
    auto x = std::move(from.front());
    from.pop_front();
    start(self, std::move(worker), std::move(x));
  }
}

void on_worker_down(self_ptr self, const caf::down_msg& msg) {
  auto& st = self->state;
  auto i = st.workers.find(msg.source);
  if (i == st.workers.end())
    return;
  auto reason = "worker died: " + caf::to_string(msg.reason);
  spdlog::error("event=pool_worker_down pool={} in_flight={} reason=\"{}\"",
                st.config.name, i->second.in_flight.has_value(),
                caf::to_string(msg.reason));
  if (i->second.in_flight)
    refuse(self, *i->second.in_flight, reason);
  auto handle = i->second.handle;
  st.idle.erase(std::remove(st.idle.begin(), st.idle.end(), handle), st.idle.end());
  st.workers.erase(i);
  spawn_worker(self);
  dispatch(self);
}

void shut_down(self_ptr self, const caf::error& reason) {
  auto& st = self->state;
  spdlog::info("event=pool_stopping pool={} queued={} reason=\"{}\"",
               st.config.name, st.urgent.size() + st.queue.size(), caf::to_string(reason));
  for (auto* q : {&st.urgent, &st.queue}) {
    for (auto& x : *q)
      refuse(self, x, "shutting down");
    q->clear();
  }
  for (auto& [addr, worker] : st.workers) {
    if (worker.in_flight)
      refuse(self, *worker.in_flight, "shutting down");
    self->demonitor(worker.handle);
    self->send_exit(worker.handle, caf::exit_reason::user_shutdown);
  }
  st.workers.clear();
  st.idle.clear();
  self->quit(reason);
}

/// Every request enters here (the default handler sees whatever the
/// behavior does not handle): queued with a promise, refused when the queue
/// is full, or logged when it is not part of the protocol.
caf::result<caf::message> intake(self_ptr self, caf::message_view& x) {
  auto& st = self->state;
  auto request = x.move_content_to_message();
  auto overloaded = refusal(self, request, "overloaded");
  if (overloaded.empty()) {
    spdlog::warn("event=unexpected_message actor={} message={}", st.config.name,
                 caf::to_string(request));
    return caf::sec::unexpected_message;
  }
  auto& q = st.config.is_urgent && st.config.is_urgent(request) ? st.urgent : st.queue;
  if (q.size() >= st.config.queue_limit) {
    ++st.overloaded_since_log;
    auto now = std::chrono::steady_clock::now();
    if (now - st.overloaded_logged_at >= std::chrono::seconds{1}) {
      spdlog::warn("event=pool_overloaded pool={} queued={} urgent={} refused={}",
                   st.config.name, q.size(), &q == &st.urgent, st.overloaded_since_log);
      st.overloaded_since_log = 0;
      st.overloaded_logged_at = now;
    }
    count_refusal(self, request);
    return overloaded;
  }
  auto promise = self->make_response_promise();
  q.push_back(job{++st.next_job_id, std::move(request), promise});
  dispatch(self);
  return promise;
}

} // namespace

caf::behavior blocking_pool(caf::stateful_actor<blocking_pool_state>* self,
                            blocking_pool_config config) {
  auto& st = self->state;
  st.config = std::move(config);
  if (st.config.rate_limit_qps > 0) {
    auto now_ns = st.config.now_ns;
    if (!now_ns)
      now_ns = [] {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(
                 std::chrono::steady_clock::now().time_since_epoch())
          .count();
      };
    st.bucket.emplace(st.config.rate_limit_qps, st.config.rate_limit_qps,
                      std::move(now_ns));
  }
  for (size_t i = 0; i < std::max<size_t>(st.config.workers, 1); ++i)
    spawn_worker(self);
  self->set_default_handler(
    [self](caf::scheduled_actor*, caf::message_view& x) { return intake(self, x); });
  self->set_down_handler([self](caf::down_msg& msg) { on_worker_down(self, msg); });
  self->set_exit_handler([self](caf::exit_msg& msg) { shut_down(self, msg.reason); });
  return {
    [self](tick_atom) {
      self->state.tick_pending = false;
      dispatch(self);
    },
  };
}

caf::actor spawn_blocking_pool(caf::actor_system& system, blocking_pool_config config) {
  return system.spawn(blocking_pool, std::move(config));
}

} // namespace paycoord
