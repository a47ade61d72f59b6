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

void insert(timers_state& st, const std::string& id, int64_t due_ms, int64_t first_due_ms) {
  remove(st, id);
  st.entries.emplace(id, timers_state::entry{due_ms, first_due_ms});
  st.queue.emplace(due_ms, id);
}

void insert(timers_state& st, const std::string& id, int64_t due_ms) {
  insert(st, id, due_ms, due_ms);
}

/// Every index entry due no later than this is in memory, fired, or in the
/// page being read: an arm due beyond it may leave memory, a later page
/// brings it back.
int64_t paged_through(const timers_state& st) {
  auto through = st.cursor.due_ms;
  if (st.paging)
    through = std::max(through, st.page_until_ms);
  return through;
}

int64_t max_sleep(const timers_state& st) {
  return std::max<int64_t>(1, std::min(st.options.max_sleep_ms, st.options.horizon_ms / 4));
}

// Makes sure a tick is pending no later than the earliest entry.
void schedule_tick(self_ptr self) {
  auto& st = self->state;
  auto now = st.options.now_ms();
  auto due = st.queue.empty() ? now + max_sleep(st) : st.queue.begin()->first;
  if (due >= st.tick_at_ms)
    return; // an earlier or equal tick is already on its way
  auto delay = std::clamp<int64_t>(due - now, 0, max_sleep(st));
  st.tick_at_ms = now + delay;
  if (delay == 0)
    self->send(self, tick_atom_v); // no trip through the clock's queue
  else
    self->delayed_send(self, std::chrono::milliseconds{delay}, tick_atom_v);
}

void page(self_ptr self);

void page_loaded(self_ptr self, std::vector<timer_entry>& found, int64_t until_ms,
                 size_t limit) {
  auto& st = self->state;
  st.paging = false;
  for (auto& e : found) {
    // An order armed or cancelled meanwhile, or already held: the service
    // knows better than this read.
    if (st.touched.count(e.out_trade_no) || st.entries.count(e.out_trade_no))
      continue;
    insert(st, e.out_trade_no, e.due_ms);
    ++st.paged;
  }
  st.touched.clear();
  // A full page stops at its last entry; a short one read all up to `until`.
  if (found.size() == limit && !found.empty())
    st.cursor = found.back();
  else
    st.cursor = timer_entry{until_ms, "\xff"};
  count_armed(st);
  if (!st.loaded) {
    st.loaded = true;
    spdlog::info("event=timers_loaded entries={} through_ms={}", st.entries.size(),
                 st.cursor.due_ms);
    for (auto& promise : st.waiting)
      promise.deliver(static_cast<uint64_t>(st.entries.size()));
    st.waiting.clear();
  }
  page(self);
  schedule_tick(self);
}

// Reads the next page of the index if the window needs it and memory has
// room. One page at a time.
void page(self_ptr self) {
  auto& st = self->state;
  if (st.paging || !st.options.store)
    return;
  auto now = st.options.now_ms();
  auto until = now + st.options.horizon_ms;
  // Paged far enough ahead: wait until a quarter of the horizon has passed.
  if (st.loaded && st.cursor.due_ms >= until - st.options.horizon_ms / 4)
    return;
  auto room = st.options.max_entries > st.entries.size()
                ? st.options.max_entries - st.entries.size()
                : 0;
  if (room == 0 && st.loaded)
    return; // full: firing makes room, and the next tick pages again
  auto limit = static_cast<uint32_t>(std::clamp<size_t>(room, 1, st.options.page_size));
  st.paging = true;
  st.page_until_ms = until;
  self->request(st.options.store, caf::infinite, index_atom_v, st.cursor, until, limit)
    .then(
      [=](std::vector<timer_entry>& found) { page_loaded(self, found, until, limit); },
      [=](caf::error& err) {
        auto& st = self->state;
        st.paging = false;
        st.touched.clear();
        spdlog::error("event=timers_page_failed retry_in_ms={} error=\"{}\"",
                      st.options.page_retry_ms, caf::to_string(err));
        self->delayed_send(self, std::chrono::milliseconds{st.options.page_retry_ms},
                           tick_atom_v);
      });
}

void tick(self_ptr self) {
  auto& st = self->state;
  st.tick_at_ms = std::numeric_limits<int64_t>::max();
  auto now = st.options.now_ms();
  size_t work = 0;
  auto rate = st.options.late_fires_per_s;
  while (!st.queue.empty() && st.queue.begin()->first <= now
         && work < st.options.max_fires_per_tick) {
    ++work;
    auto [due, id] = *st.queue.begin();
    auto first_due = st.entries.at(id).first_due_ms;
    bool late = first_due < now - st.options.late_after_ms;
    if (late && rate > 0 && first_due == due) {
      // Late: one slot each, `1000 / rate` ms apart, in due order.
      auto slot = std::max(st.late_slot_ms, static_cast<double>(now));
      st.late_slot_ms = slot + 1000.0 / static_cast<double>(rate);
      if (slot > static_cast<double>(now)) {
        insert(st, id, static_cast<int64_t>(slot), first_due); // fires at its slot
        continue;
      }
    }
    remove(st, id);
    self->send(st.target, timer_fired{id});
    ++st.fired;
    st.fired_late += late;
    if (st.options.metrics)
      st.options.metrics->timer_fired(now - first_due, late);
  }
  count_armed(st);
  page(self);
  if (work == st.options.max_fires_per_tick && !st.queue.empty()
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
  if (!st.options.store)
    st.loaded = true; // nothing durable to read (tests of the service alone)
  self->set_default_handler(log_unexpected("timers"));
  page(self);
  schedule_tick(self);
  return {
    [=](const arm_timer& x) {
      auto& st = self->state;
      remove(st, x.out_trade_no);
      if (st.paging)
        st.touched.insert(x.out_trade_no);
      // Beyond the window: the durable index entry is all it needs, and a
      // page brings it in when it falls due. Within: the index entry was
      // paged already (or is being read), so memory is its only copy.
      auto through = paged_through(st);
      if (x.due_ms <= through || x.index_due_ms <= through)
        insert(st, x.out_trade_no, x.due_ms);
      count_armed(st);
      schedule_tick(self);
    },
    [=](cancel_atom, const std::string& out_trade_no) {
      auto& st = self->state;
      remove(st, out_trade_no);
      if (st.paging)
        st.touched.insert(out_trade_no);
      count_armed(st);
    },
    [=](recover_atom) -> caf::result<uint64_t> {
      auto& st = self->state;
      if (st.loaded)
        return static_cast<uint64_t>(st.entries.size());
      auto promise = self->make_response_promise();
      st.waiting.push_back(promise);
      return caf::delegated<uint64_t>{};
    },
    [=](tick_atom) { tick(self); },
    [=](live_atom) { return static_cast<uint64_t>(self->state.entries.size()); },
    [=](snapshot_atom, const std::string& out_trade_no) {
      auto& st = self->state;
      auto i = st.entries.find(out_trade_no);
      return i == st.entries.end() ? int64_t{0} : i->second.due_ms;
    },
  };
}

} // namespace paycoord
