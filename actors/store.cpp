#include "actors/store.hpp"

#include <algorithm>
#include <chrono>
#include <unordered_set>

#include <spdlog/spdlog.h>

namespace paycoord {

namespace {

template <class T>
caf::result<T> to_result(expected<T, store_error> x) {
  if (!x)
    return make_error(x.error());
  return std::move(*x);
}

using self_ptr = caf::stateful_actor<store_actor_state>*;

void set_writable(self_ptr self, bool ok) {
  auto& st = self->state;
  if (st.metrics)
    st.metrics->set_store_writable(ok);
}

void schedule_reopen(self_ptr self) {
  auto& st = self->state;
  if (st.reopen_scheduled)
    return;
  st.reopen_scheduled = true;
  auto backoff = std::min<int64_t>(int64_t{500} << std::min<uint32_t>(st.reopen_failures, 6),
                                   30'000);
  self->delayed_send(self, std::chrono::milliseconds{backoff}, reopen_atom_v);
}

/// Logs what the latest open skipped of LevelDB's log; its count of
/// unreadable stretches (0 when the log read back whole).
int64_t report_salvage(self_ptr self) {
  const auto& salvage = self->state.db->last_open_salvage();
  if (salvage.drops > 0)
    spdlog::error("event=store_log_salvaged drops={} bytes={} first=\"{}\"", salvage.drops,
                  salvage.bytes, salvage.first);
  return static_cast<int64_t>(salvage.drops);
}

void reopen(self_ptr self) {
  auto& st = self->state;
  st.reopen_scheduled = false;
  auto result = st.db->reopen();
  if (!result) {
    ++st.reopen_failures;
    spdlog::error("event=store_reopen_failed attempts={} error=\"{}\"", st.reopen_failures,
                  result.error().to_string());
    schedule_reopen(self);
    return;
  }
  spdlog::warn("event=store_reopened attempts={}", st.reopen_failures + 1);
  report_salvage(self);
  st.reopen_failures = 0;
  set_writable(self, true);
}

/// True when `set` repeats a notification id processed before (or earlier in
/// this batch): the store is the only writer, so reading here and writing
/// below cannot race.
bool repeats_a_notification(const order_store& db, const write_set& set,
                            std::unordered_set<std::string>& in_batch) {
  for (auto& [id, out_trade_no] : set.notifications) {
    if (in_batch.count(id))
      return true;
    auto found = db.find_notification(id);
    if (found && *found)
      return true;
  }
  for (auto& [id, out_trade_no] : set.notifications)
    in_batch.insert(id);
  return false;
}

void flush(self_ptr self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  if (st.pending.empty())
    return;
  auto batch = std::move(st.pending);
  st.pending.clear();
  std::vector<const write_set*> sets;
  sets.reserve(batch.size());
  std::vector<caf::response_promise*> skipped;
  std::unordered_set<std::string> ids_in_batch;
  for (auto& [set, promise] : batch) {
    if (!set.notifications.empty()
        && repeats_a_notification(*st.db, set, ids_in_batch)) {
      skipped.push_back(&promise);
      continue;
    }
    sets.push_back(&set);
  }
  if (sets.empty()) {
    // Only redeliveries: their ids were synced by an earlier batch.
    for (auto* promise : skipped)
      promise->deliver(false);
    return;
  }
  auto started = std::chrono::steady_clock::now();
  auto result = st.db->commit(sets, true);
  if (st.metrics)
    st.metrics->store_batch(sets.size(),
                            std::chrono::duration<double, std::milli>(
                              std::chrono::steady_clock::now() - started)
                              .count(),
                            static_cast<bool>(result));
  if (!result) {
    spdlog::error("event=store_commit_failed writers={} error=\"{}\"",
                  batch.size(), result.error().to_string());
    // Not ready before anyone hears of the failure: a caller that sees the
    // error and asks /readyz must get 503.
    set_writable(self, false);
    schedule_reopen(self);
    auto err = make_error(result.error());
    for (auto& [set, promise] : batch)
      promise.deliver(err);
    return;
  }
  // Durable: now, and only now, answer every writer of this batch. The
  // skipped ones are answered after the sync too: an earlier batch may have
  // written their notification id, and that batch is synced by now.
  for (auto& [set, promise] : batch)
    if (std::find(skipped.begin(), skipped.end(), &promise) == skipped.end())
      promise.deliver(true);
  for (auto* promise : skipped)
    promise->deliver(false);
}

} // namespace

caf::behavior store_actor(caf::stateful_actor<store_actor_state>* self,
                          std::shared_ptr<order_store> db,
                          std::shared_ptr<metrics> metrics) {
  self->state.db = std::move(db);
  self->state.metrics = std::move(metrics);
  set_writable(self, true);
  self->set_default_handler(log_unexpected("store"));
  return {
    [=](write_atom, write_set& set) {
      auto& st = self->state;
      auto promise = self->make_response_promise();
      st.pending.emplace_back(std::move(set), std::move(promise));
      if (!st.flush_scheduled) {
        st.flush_scheduled = true;
        self->send(self, flush_atom_v);
      }
    },
    [=](flush_atom) { flush(self); },
    [=](load_atom, const std::string& out_trade_no) -> caf::result<order_lookup> {
      auto x = self->state.db->get_order(out_trade_no);
      if (!x)
        return make_error(x.error());
      order_lookup lookup;
      if (*x) {
        lookup.found = true;
        lookup.record = std::move(**x);
      }
      return lookup;
    },
    [=](events_atom, const std::string& out_trade_no, uint64_t after,
        uint32_t limit) -> caf::result<std::vector<order_event>> {
      return to_result(self->state.db->events(out_trade_no, after, limit));
    },
    [=](history_atom, const std::string& out_trade_no,
        uint32_t limit) -> caf::result<order_history> {
      // One handler, one turn of the only writer: record and events agree.
      auto& db = *self->state.db;
      auto x = db.get_order(out_trade_no);
      if (!x)
        return make_error(x.error());
      order_history h;
      if (!*x)
        return h;
      h.found = true;
      h.record = std::move(**x);
      auto total = h.record.event_seq;
      auto events = db.events(out_trade_no, total > limit ? total - limit : 0, limit);
      if (!events)
        return make_error(events.error());
      h.events = std::move(*events);
      return h;
    },
    [=](scan_atom, const std::string& after, uint32_t limit, const std::string& state,
        bool stuck_only, bool unresolved_only) -> caf::result<order_page> {
      order_filter filter;
      if (!state.empty()) {
        filter.state = parse_order_state(state);
        if (!filter.state)
          return make_error(store_error{store_errc::not_found, "",
                                        "unknown state " + state});
      }
      filter.stuck_only = stuck_only;
      filter.unresolved_only = unresolved_only;
      return to_result(self->state.db->scan_orders(after, limit, filter));
    },
    [=](recover_atom) -> std::vector<order_record> {
      std::vector<order_record> result;
      size_t bad = 0;
      metrics::state_counts counts{};
      metrics::state_counts unresolved{};
      int64_t stuck = 0;
      self->state.db->for_each_order(
        [&](const order_record& x) {
          ++counts[static_cast<size_t>(x.state)];
          unresolved[static_cast<size_t>(x.state)] += is_parked(x.state) && x.resolved_at_ms == 0;
          stuck += x.stuck && x.state == order_state::paid;
          if (is_active(x.state))
            result.push_back(x);
        },
        [&](const store_error& err) {
          ++bad;
          spdlog::error("event=recovery_skipped_record error=\"{}\"",
                        err.to_string());
        });
      // Stretches of the log skipped at open count as unreadable records:
      // what they held is gone, and a person should know.
      auto unreadable = static_cast<int64_t>(bad) + report_salvage(self);
      if (self->state.metrics)
        self->state.metrics->seed_orders(counts, stuck, unreadable, unresolved);
      spdlog::info("event=recovery_scan active={} unreadable={}",
                   result.size(), unreadable);
      return result;
    },
    [=](orphans_atom, const std::string& out_trade_no, const std::string& after,
        uint32_t limit) -> caf::result<std::vector<orphan_event>> {
      return to_result(self->state.db->orphan_events(out_trade_no, after, limit));
    },
    [=](reopen_atom) { reopen(self); },
    [=](stats_atom) { return self->state.db->stats(); },
  };
}

} // namespace paycoord
