#include "actors/timers.hpp"

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

namespace paycoord {

namespace {

using self_ptr = caf::stateful_actor<timers_state>*;

void count_armed(const timers_state& st) {
  if (st.options.metrics)
    st.options.metrics->set_timers_armed(st.entries.size());
}

void remove(timers_state& st, const std::string& id) {
  auto i = st.entries.find(id);
  if (i == st.entries.end())
    return;
  st.queue.erase({i->second.due_ms, id});
  st.entries.erase(i);
}

// Makes sure a tick is pending no later than the earliest entry.
void schedule_tick(self_ptr self) {
  auto& st = self->state;
  if (st.queue.empty())
    return;
  auto due = st.queue.begin()->first;
  if (due >= st.tick_at_ms)
    return; // an earlier or equal tick is already on its way
  auto now = st.options.now_ms();
  auto delay = std::clamp<int64_t>(due - now, 0, st.options.max_sleep_ms);
  st.tick_at_ms = now + delay;
  self->delayed_send(self, std::chrono::milliseconds{delay}, tick_atom_v);
}

void tick(self_ptr self) {
  auto& st = self->state;
  st.tick_at_ms = std::numeric_limits<int64_t>::max();
  auto now = st.options.now_ms();
  size_t fired = 0;
  while (!st.queue.empty() && st.queue.begin()->first <= now
         && fired < st.options.max_fires_per_tick) {
    auto id = st.queue.begin()->second;
    auto generation = st.entries[id].generation;
    remove(st, id);
    self->send(st.target, timer_fired{id, generation});
    ++fired;
  }
  st.fired += fired;
  count_armed(st);
  if (fired == st.options.max_fires_per_tick && !st.queue.empty()
      && st.queue.begin()->first <= now) {
    // More are due: yield to other messages, then continue at once.
    st.tick_at_ms = now;
    self->send(self, tick_atom_v);
    return;
  }
  schedule_tick(self);
}

} // namespace

caf::behavior timers_actor(caf::stateful_actor<timers_state>* self,
                           caf::actor target, timers_options options) {
  auto& st = self->state;
  st.target = std::move(target);
  st.options = std::move(options);
  self->set_default_handler(log_unexpected("timers"));
  return {
    [=](const arm_timer& x) {
      auto& st = self->state;
      remove(st, x.out_trade_no);
      st.entries.emplace(x.out_trade_no,
                         timers_state::entry{x.due_ms, x.generation});
      st.queue.emplace(x.due_ms, x.out_trade_no);
      count_armed(st);
      schedule_tick(self);
    },
    [=](cancel_atom, const std::string& out_trade_no) {
      remove(self->state, out_trade_no);
      count_armed(self->state);
    },
    [=](tick_atom) { tick(self); },
    [=](live_atom) { return static_cast<uint64_t>(self->state.entries.size()); },
    [=](snapshot_atom, const std::string& out_trade_no) {
      auto& st = self->state;
      arm_timer result{out_trade_no, 0, 0};
      if (auto i = st.entries.find(out_trade_no); i != st.entries.end()) {
        result.due_ms = i->second.due_ms;
        result.generation = i->second.generation;
      }
      return result;
    },
  };
}

} // namespace paycoord
