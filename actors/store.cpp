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
  st.salvaged += report_salvage(self);
  if (st.metrics)
    st.metrics->set_unreadable_records(st.salvaged + st.audit_unreadable);
  st.reopen_failures = 0;
  set_writable(self, true);
}

/// What a batch has claimed so far: notification ids and new refund numbers.
struct claims {
  std::unordered_set<std::string> notifications;
  std::unordered_set<std::string> refund_numbers;
};

/// True when `set` must be skipped whole: it repeats a notification id
/// processed before, or claims a new out_refund_no another order holds (or
/// earlier in this batch). The store is the only writer, so reading here and
/// writing below cannot race.
bool must_skip(const order_store& db, const write_set& set, claims& in_batch) {
  for (auto& [id, out_trade_no] : set.notifications) {
    if (in_batch.notifications.count(id))
      return true;
    auto found = db.find_notification(id);
    if (found && *found)
      return true;
  }
  for (auto& w : set.refunds) {
    if (w.before)
      continue;
    if (in_batch.refund_numbers.count(w.record.out_refund_no))
      return true;
    auto owner = db.refund_owner(w.record.out_refund_no);
    if (!owner || *owner)
      return true; // unreadable, or taken: never two refunds with one number
  }
  for (auto& [id, out_trade_no] : set.notifications)
    in_batch.notifications.insert(id);
  for (auto& w : set.refunds)
    if (!w.before)
      in_batch.refund_numbers.insert(w.record.out_refund_no);
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
  claims in_batch;
  for (auto& [set, promise] : batch) {
    if ((!set.notifications.empty() || !set.refunds.empty())
        && must_skip(*st.db, set, in_batch)) {
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
  if (st.metrics)
    st.metrics->set_order_counts(st.db->counts());
  // Durable: now, and only now, answer every writer of this batch. The
  // skipped ones are answered after the sync too: an earlier batch may have
  // written their notification id, and that batch is synced by now.
  for (auto& [set, promise] : batch)
    if (std::find(skipped.begin(), skipped.end(), &promise) == skipped.end())
      promise.deliver(true);
  for (auto* promise : skipped)
    promise->deliver(false);
}

// -- the audit ---------------------------------------------------------------------

// One chunk of the background audit, in the store's own turn so that what it
// reads and repairs cannot race a write. First pass: every record decodes,
// and an order that needs a timer has its index entry. Second pass: every
// index entry belongs to an order whose record names that due time. A
// finding is repaired at once (the record is the truth) and logged: after a
// crash none should exist, so any is worth a look.
void run_audit(self_ptr self, const std::string& after, bool index_pass) {
  auto& st = self->state;
  auto found = index_pass ? st.db->audit_index(after, st.options.audit_chunk)
                          : st.db->audit_records(after, st.options.audit_chunk);
  if (!found) {
    spdlog::error("event=audit_failed error=\"{}\"", found.error().to_string());
    self->delayed_send(self, std::chrono::seconds{5}, audit_atom_v, after, index_pass);
    return;
  }
  auto& step = *found;
  st.audit_unreadable += static_cast<int64_t>(step.unreadable);
  st.audit_repaired += static_cast<int64_t>(step.repaired.size());
  for (auto& what : step.repaired)
    spdlog::error("event=audit_repaired what=\"{}\"", what);
  if (!step.next.empty()) {
    self->send(self, audit_atom_v, step.next, index_pass);
    return;
  }
  if (!index_pass) {
    self->send(self, audit_atom_v, std::string{}, true);
    return;
  }
  if (st.metrics)
    st.metrics->set_unreadable_records(st.salvaged + st.audit_unreadable);
  spdlog::info("event=audit_done unreadable={} repaired={}", st.audit_unreadable,
               st.audit_repaired);
}

} // namespace

caf::behavior store_actor(caf::stateful_actor<store_actor_state>* self,
                          std::shared_ptr<order_store> db,
                          std::shared_ptr<metrics> metrics, store_actor_options options) {
  auto& st = self->state;
  st.db = std::move(db);
  st.metrics = std::move(metrics);
  st.options = options;
  set_writable(self, true);
  // What the open found unreadable counts from the start; the audit adds
  // the records it cannot decode.
  st.salvaged = report_salvage(self) + static_cast<int64_t>(st.db->last_migration().unreadable);
  if (st.metrics) {
    st.metrics->set_order_counts(st.db->counts());
    st.metrics->set_unreadable_records(st.salvaged);
  }
  // The audit looks for what a crash or a damaged disk could leave: after a
  // clean stop there is nothing to find, and on a large store it costs
  // minutes of reads.
  if (st.options.audit_chunk > 0 && !st.db->opened_clean())
    self->send(self, audit_atom_v, std::string{}, false);
  else if (st.options.audit_chunk > 0)
    spdlog::info("event=audit_skipped reason=clean_stop");
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
        auto refunds = self->state.db->refunds(out_trade_no);
        if (!refunds)
          return make_error(refunds.error());
        lookup.refunds = std::move(*refunds);
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
      auto indexed = db.timer_indexed(h.record);
      if (!indexed)
        return make_error(indexed.error());
      h.timer_indexed = *indexed;
      auto refunds = db.refunds(out_trade_no);
      if (!refunds)
        return make_error(refunds.error());
      h.refunds = std::move(*refunds);
      return h;
    },
    [=](refunds_atom, const std::string& after, uint32_t limit,
        const std::string& state) -> caf::result<order_store::refund_page> {
      std::optional<refund_state> filter;
      if (!state.empty()) {
        filter = parse_refund_state(state);
        if (!filter)
          return make_error(store_error{store_errc::not_found, "", "unknown refund state " + state});
      }
      return to_result(self->state.db->scan_refunds(after, limit, filter));
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
    [=](index_atom, const timer_entry& after, int64_t until_ms,
        uint32_t limit) -> caf::result<std::vector<timer_entry>> {
      std::optional<timer_entry> from;
      if (after.due_ms >= 0)
        from = after;
      return to_result(self->state.db->timers(from, until_ms, limit));
    },
    [=](audit_atom, const std::string& after, bool index_pass) {
      run_audit(self, after, index_pass);
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
