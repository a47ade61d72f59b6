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
  st.backlog_held -= i->second.backlog;
  st.entries.erase(i);
}

void insert(timers_state& st, const std::string& id, timers_state::entry e) {
  remove(st, id);
  st.backlog_held += e.backlog;
  st.queue.emplace(e.due_ms, id);
  st.entries.emplace(id, e);
}

void insert(timers_state& st, const std::string& id, int64_t due_ms) {
  insert(st, id, timers_state::entry{due_ms, due_ms, false});
}

/// The next backlog slot: `1000 / late_fires_per_s` ms after the previous
/// one, never before now.
int64_t next_slot(timers_state& st, int64_t now) {
  auto slot = std::max(st.late_slot_ms, static_cast<double>(now));
  st.late_slot_ms = slot + 1000.0 / static_cast<double>(st.options.late_fires_per_s);
  return static_cast<int64_t>(slot);
}

/// Every index entry due no later than this is in memory, fired, in the
/// backlog or in the page being read: an arm due beyond it may leave
/// memory, a later page brings it back.
int64_t paged_through(const timers_state& st) {
  auto through = st.cursor.due_ms;
  if (st.paging)
    through = std::max(through, st.page_until_ms);
  return through;
}

int64_t max_sleep(const timers_state& st) {
  return std::max<int64_t>(1, std::min(st.options.max_sleep_ms, st.options.horizon_ms / 4));
}

size_t backlog_room(const timers_state& st) {
  auto most = static_cast<size_t>(
    std::max<int64_t>(64, st.options.late_fires_per_s * st.options.backlog_seconds));
  return most > st.backlog_held ? most - st.backlog_held : 0;
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

/// What fell due before `before_ms` and lies after the window's cursor
/// becomes backlog; the window goes on from there. At start (nothing paged
/// yet) and after a jump of the wall clock.
void move_to_backlog(timers_state& st, int64_t before_ms) {
  if (st.options.late_fires_per_s <= 0 || st.cursor.due_ms >= before_ms - 1)
    return;
  st.backlog.push_back(timers_state::stretch{st.cursor, before_ms});
  st.cursor = timer_entry{before_ms - 1, "\xff"};
}

void page(self_ptr self);

void page_loaded(self_ptr self, std::vector<timer_entry>& found, bool backlog,
                 int64_t until_ms, size_t limit) {
  auto& st = self->state;
  st.paging = false;
  auto now = st.options.now_ms();
  for (auto& e : found) {
    // An order armed or cancelled meanwhile, or already held: the service
    // knows better than this read.
    if (st.touched.count(e.out_trade_no) || st.entries.count(e.out_trade_no))
      continue;
    if (backlog)
      insert(st, e.out_trade_no, timers_state::entry{next_slot(st, now), e.due_ms, true});
    else
      insert(st, e.out_trade_no, e.due_ms);
    ++st.paged;
  }
  st.touched.clear();
  // A full page stops at its last entry; a short one read all it covers.
  bool full = found.size() == limit && !found.empty();
  if (backlog) {
    auto& stretch = st.backlog.front();
    if (full)
      stretch.after = found.back();
    else
      st.backlog.pop_front();
  } else {
    st.cursor = full ? found.back() : timer_entry{until_ms, "\xff"};
  }
  count_armed(st);
  if (!st.loaded && !backlog) {
    st.loaded = true;
    spdlog::info("event=timers_loaded entries={} through_ms={} backlog_stretches={}",
                 st.entries.size(), st.cursor.due_ms, st.backlog.size());
    for (auto& promise : st.waiting)
      promise.deliver(static_cast<uint64_t>(st.entries.size()));
    st.waiting.clear();
  }
  page(self);
  schedule_tick(self);
}

// Reads the next page of the index, the window's first: one page at a time.
void page(self_ptr self) {
  auto& st = self->state;
  if (st.paging || !st.options.store)
    return;
  auto now = st.options.now_ms();
  auto until = now + st.options.horizon_ms;
  auto room = st.options.max_entries > st.entries.size() - st.backlog_held
                ? st.options.max_entries - (st.entries.size() - st.backlog_held)
                : 0;
  // The window, unless paged far enough ahead (a quarter of the horizon
  // passes before the next page) or full (firing makes room).
  bool window = (!st.loaded || st.cursor.due_ms < until - st.options.horizon_ms / 4)
                && (room > 0 || !st.loaded);
  timer_entry after;
  uint32_t limit = 0;
  if (window) {
    after = st.cursor;
    limit = static_cast<uint32_t>(std::clamp<size_t>(room, 1, st.options.page_size));
  } else if (!st.backlog.empty() && st.loaded && backlog_room(st) > 0) {
    after = st.backlog.front().after;
    until = st.backlog.front().before_ms - 1;
    limit = static_cast<uint32_t>(std::min<size_t>(backlog_room(st), st.options.page_size));
  } else {
    return;
  }
  st.paging = true;
  st.page_until_ms = window ? until : st.page_until_ms;
  self->request(st.options.store, caf::infinite, index_atom_v, after, until, limit)
    .then(
      [=](std::vector<timer_entry>& found) { page_loaded(self, found, !window, until, limit); },
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
  // The clock jumped ahead (or the process stood still): what fell due in
  // between is backlog, in memory and in the index alike.
  if (st.last_tick_ms > 0 && st.options.late_fires_per_s > 0
      && now - st.last_tick_ms > max_sleep(st) + st.options.late_after_ms) {
    spdlog::warn("event=timers_clock_jump gap_ms={}", now - st.last_tick_ms);
    auto before = now - st.options.late_after_ms;
    std::vector<std::pair<std::string, int64_t>> late;
    for (auto i = st.queue.begin(); i != st.queue.end() && i->first < before; ++i)
      if (!st.entries.at(i->second).backlog)
        late.emplace_back(i->second, i->first);
    for (auto& [id, due] : late)
      insert(st, id, timers_state::entry{next_slot(st, now), due, true});
    move_to_backlog(st, before);
  }
  st.last_tick_ms = now;
  size_t fired = 0;
  while (!st.queue.empty() && st.queue.begin()->first <= now
         && fired < st.options.max_fires_per_tick) {
    auto id = st.queue.begin()->second;
    auto first_due = st.entries.at(id).first_due_ms;
    remove(st, id);
    self->send(st.target, timer_fired{id});
    ++fired;
    bool late = first_due < now - st.options.late_after_ms;
    st.fired_late += late;
    if (st.options.metrics)
      st.options.metrics->timer_fired(now - first_due, late);
  }
  st.fired += fired;
  count_armed(st);
  page(self);
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
  if (!st.options.store)
    st.loaded = true; // nothing durable to read (tests of the service alone)
  // What fell due before the start is the backlog; the window begins now.
  move_to_backlog(st, st.options.now_ms() - st.options.late_after_ms);
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
      // page brings it in when it falls due. Within (or in the backlog's
      // stretches): the index entry was paged already or is being read, so
      // memory is its only copy.
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
