#include "actors/store.hpp"

#include <chrono>

#include <spdlog/spdlog.h>

namespace paycoord {

namespace {

template <class T>
caf::result<T> to_result(expected<T, store_error> x) {
  if (!x)
    return make_error(x.error());
  return std::move(*x);
}

void flush(caf::stateful_actor<store_actor_state>* self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  if (st.pending.empty())
    return;
  auto batch = std::move(st.pending);
  st.pending.clear();
  std::vector<const write_set*> sets;
  sets.reserve(batch.size());
  for (auto& [set, promise] : batch)
    sets.push_back(&set);
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
    auto err = make_error(result.error());
    for (auto& [set, promise] : batch)
      promise.deliver(err);
    return;
  }
  // Durable: now, and only now, answer every writer of this batch.
  for (auto& [set, promise] : batch)
    promise.deliver(true);
}

} // namespace

caf::behavior store_actor(caf::stateful_actor<store_actor_state>* self,
                          std::shared_ptr<order_store> db,
                          std::shared_ptr<metrics> metrics) {
  self->state.db = std::move(db);
  self->state.metrics = std::move(metrics);
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
    [=](scan_atom, const std::string& after, uint32_t limit,
        const std::string& state) -> caf::result<order_page> {
      std::optional<order_state> filter;
      if (!state.empty()) {
        filter = parse_order_state(state);
        if (!filter)
          return make_error(store_error{store_errc::not_found, "",
                                        "unknown state " + state});
      }
      return to_result(self->state.db->scan_orders(after, limit, filter));
    },
    [=](recover_atom) -> std::vector<order_record> {
      std::vector<order_record> result;
      size_t bad = 0;
      metrics::state_counts counts{};
      int64_t stuck = 0;
      self->state.db->for_each_order(
        [&](const order_record& x) {
          ++counts[static_cast<size_t>(x.state)];
          stuck += x.stuck && x.state == order_state::paid;
          if (is_active(x.state))
            result.push_back(x);
        },
        [&](const store_error& err) {
          ++bad;
          spdlog::error("event=recovery_skipped_record error=\"{}\"",
                        err.to_string());
        });
      if (self->state.metrics)
        self->state.metrics->seed_orders(counts, stuck, static_cast<int64_t>(bad));
      spdlog::info("event=recovery_scan active={} unreadable={}",
                   result.size(), bad);
      return result;
    },
    [=](stats_atom) { return self->state.db->stats(); },
  };
}

} // namespace paycoord
