#include "actors/registry.hpp"

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

namespace paycoord {

namespace {

using self_ptr = caf::stateful_actor<registry_state>*;

void count_live(self_ptr self) {
  if (auto& m = self->state.deps.metrics)
    m->set_live_actors(self->state.live.size());
}

caf::actor spawn_order(self_ptr self, const std::string& id,
                       std::optional<order_record> record, refund_list refunds,
                       uint32_t restarts) {
  auto& st = self->state;
  order_start start{id, std::move(record), std::move(refunds), restarts};
  ++st.spawned;
  auto actor = self->spawn<caf::monitored>(order_actor, st.deps,
                                           std::move(start));
  auto& entry = st.live[id];
  entry.actor = actor;
  entry.restarts = restarts;
  st.ids[actor.address()] = id;
  count_live(self);
  return actor;
}

void deliver_loading(self_ptr self, const std::string& id,
                     const caf::actor& actor) {
  auto& st = self->state;
  auto i = st.loading.find(id);
  if (i == st.loading.end())
    return;
  auto queued = std::move(i->second);
  st.loading.erase(i);
  for (auto& msg : queued)
    self->send(actor, std::move(msg));
}

/// 0.5 s doubling to 5 s: how long a store-failure retry of `attempt` waits.
std::chrono::milliseconds store_retry_delay(uint32_t attempt) {
  return std::chrono::milliseconds{
    std::min<int64_t>(int64_t{500} << std::min<uint32_t>(attempt, 4), 5'000)};
}

/// Answers every held message that carries a reply with 503 (the caller,
/// WeChat included, retries) and drops the rest (timer fires: the retried
/// load re-arms from the stored deadline). True when one was a timer.
bool answer_held(self_ptr self, const std::string& id, const std::string& why) {
  auto& held = self->state.loading[id];
  bool had_timer = false;
  for (auto& msg : held) {
    bool answered = false;
    for (size_t i = 0; i < msg.size() && !answered; ++i)
      if (msg.match_element<order_reply>(i)) {
        order_outcome out;
        out.status = 503;
        out.code = "STORE_UNAVAILABLE";
        out.message = why;
        msg.get_as<order_reply>(i)(std::move(out));
        answered = true;
      }
    had_timer = had_timer || (!answered && msg.match_element<timer_atom>(0));
  }
  held.clear();
  return had_timer;
}

// Loads the order's record and spawns its actor; messages that arrive
// meanwhile wait in `loading`. On a store error the held requests are
// answered 503; if the order may have a durable timer (a respawn, or a timer
// fired for it) the load is retried with a backoff until it succeeds, so no
// active order is left without an actor and an armed timer.
void load_and_spawn(self_ptr self, const std::string& id, uint32_t restarts,
                    uint32_t attempt = 0) {
  self->request(self->state.deps.store, caf::infinite, load_atom_v, id)
    .then(
      [=](order_lookup& lookup) {
        auto& st = self->state;
        if (auto i = st.live.find(id); i != st.live.end()) {
          // Spawned meanwhile (cannot happen: only this load spawns while
          // `loading` holds the id; but two actors for one order must
          // never exist).
          deliver_loading(self, id, i->second.actor);
          return;
        }
        std::optional<order_record> record;
        if (lookup.found)
          record = std::move(lookup.record);
        auto history = st.respawning.find(id);
        auto actor = spawn_order(self, id, std::move(record), std::move(lookup.refunds),
                                 restarts);
        if (history != st.respawning.end()) {
          st.live[id].crashes = std::move(history->second.crashes);
          st.respawning.erase(history);
        }
        deliver_loading(self, id, actor);
      },
      [=](caf::error& err) {
        auto& st = self->state;
        bool had_timer = answer_held(self, id, "order could not be loaded");
        // A record that does not decode will not decode the next time: no
        // loop of loads. Its index entry stays, so the next start tries once
        // more; the audit counts it.
        bool unreadable = err && err.category() == store_error_category
                          && (err.code() == static_cast<uint8_t>(store_errc::corrupt)
                              || err.code() == static_cast<uint8_t>(store_errc::unknown_version));
        bool must_retry = !unreadable && (had_timer || st.respawning.count(id) > 0);
        spdlog::error("event=order_load_failed out_trade_no={} attempt={} retry={} "
                      "error=\"{}\"",
                      id, attempt + 1, must_retry, caf::to_string(err));
        if (!must_retry) {
          st.loading.erase(id);
          return;
        }
        // `loading` stays: later messages wait for the retried load.
        self->delayed_send(self, store_retry_delay(attempt), load_atom_v, id, restarts,
                           attempt + 1);
      });
}

void route(self_ptr self, const std::string& id, caf::message msg) {
  auto& st = self->state;
  if (auto i = st.live.find(id); i != st.live.end()) {
    if (i->second.retiring) // held until it is down or busy again
      st.loading[id].push_back(std::move(msg));
    else
      self->send(i->second.actor, std::move(msg));
    return;
  }
  auto [i, first] = st.loading.try_emplace(id);
  i->second.push_back(std::move(msg));
  if (first)
    load_and_spawn(self, id, 0);
}

/// Messages held while the order was being parked go to a fresh actor
/// loaded from the store (a parked one records them and exits).
void release_held(self_ptr self, const std::string& id) {
  auto& st = self->state;
  st.respawning.erase(id);
  if (auto i = st.loading.find(id); i != st.loading.end()) {
    if (i->second.empty())
      st.loading.erase(i);
    else
      load_and_spawn(self, id, 0);
  }
}

// Parks the order as FAULTED. A store failure retries it with a backoff
// (the order's messages wait in `loading` meanwhile): the order ends either
// parked or, if the store comes back with it gone, released.
void park_faulted(self_ptr self, const std::string& id,
                  const std::string& reason, uint32_t attempt = 0) {
  auto& st = self->state;
  auto retry = [=](const char* what, const caf::error& err) {
    spdlog::error("event={} out_trade_no={} attempt={} error=\"{}\"", what, id,
                  attempt + 1, caf::to_string(err));
    self->delayed_send(self, store_retry_delay(attempt), fault_atom_v, id, reason,
                       attempt + 1);
  };
  self->request(st.deps.store, caf::infinite, load_atom_v, id)
    .then(
      [=](order_lookup& lookup) {
        auto& st = self->state;
        if (!lookup.found) {
          release_held(self, id);
          return;
        }
        auto d = st.deps.machine->fault(lookup.record, reason,
                                        st.deps.now_ms());
        write_set set;
        for (auto& e : d.events)
          set.events.emplace_back(id, e);
        set.put(d.record, &lookup.record);
        self->send(st.deps.timers, cancel_atom_v, id);
        self->request(st.deps.store, caf::infinite, write_atom_v,
                      std::move(set))
          .then(
            [=, before = lookup.record, after = d.record](bool) {
              if (auto& m = self->state.deps.metrics)
                m->order_written(&before, after);
              spdlog::error("event=order_faulted out_trade_no={} why=\"{}\"",
                            id, reason);
              release_held(self, id);
            },
            [=](caf::error& err) { retry("fault_write_failed", err); });
      },
      [=](caf::error& err) { retry("fault_load_failed", err); });
}

void on_order_down(self_ptr self, const std::string& id,
                   const caf::error& reason) {
  auto& st = self->state;
  auto i = st.live.find(id);
  if (i == st.live.end())
    return;
  auto entry = std::move(i->second);
  st.live.erase(i);
  count_live(self);
  if (!reason || reason == caf::exit_reason::normal) {
    // A finished order: messages that raced with its exit start a new one.
    if (st.loading.count(id))
      load_and_spawn(self, id, entry.restarts);
    return;
  }
  auto now = st.deps.now_ms();
  entry.crashes.push_back(now);
  while (!entry.crashes.empty()
         && now - entry.crashes.front() > st.options.restart_window_ms)
    entry.crashes.pop_front();
  ++st.restarts_total;
  if (st.deps.metrics)
    st.deps.metrics->actor_restarted();
  auto reason_text = caf::to_string(reason);
  // Messages for this order wait while we decide.
  st.loading.try_emplace(id);
  if (entry.crashes.size() > st.options.max_restarts) {
    st.respawning[id] = std::move(entry);
    park_faulted(self, id,
                 "order actor crashed "
                   + std::to_string(st.options.max_restarts + 1)
                   + " times within a minute; last: " + reason_text);
    return;
  }
  spdlog::warn("event=order_restart out_trade_no={} restarts={} reason=\"{}\"",
               id, entry.restarts + 1, reason_text);
  auto restarts = entry.restarts + 1;
  st.respawning[id] = std::move(entry);
  load_and_spawn(self, id, restarts);
}

void start_timers(self_ptr self) {
  auto& st = self->state;
  st.deps.timers = st.options.spawn_timers(self, caf::actor_cast<caf::actor>(
                                                   self));
  self->monitor(st.deps.timers);
}

/// The live entry of the order actor that sent the current message, if it
/// is still the one we route to.
registry_state::live_order* sender_entry(self_ptr self, std::string& id) {
  auto& st = self->state;
  auto sender = self->current_sender();
  if (!sender)
    return nullptr;
  auto i = st.ids.find(caf::actor_cast<caf::actor_addr>(sender));
  if (i == st.ids.end())
    return nullptr;
  id = i->second;
  auto j = st.live.find(id);
  if (j == st.live.end() || j->second.actor.address() != i->first)
    return nullptr;
  return &j->second;
}

} // namespace

caf::behavior registry_actor(caf::stateful_actor<registry_state>* self,
                             order_deps deps, registry_options options) {
  auto& st = self->state;
  st.deps = std::move(deps);
  st.deps.registry = caf::actor_cast<caf::actor>(self);
  st.options = std::move(options);
  start_timers(self);
  // Not linked to children: a child killed with exit_reason::kill would take
  // the registry down with it. Instead, a shutdown of the registry ends its
  // children explicitly.
  self->set_exit_handler([=](caf::exit_msg& em) {
    auto& st = self->state;
    for (auto& [id, entry] : st.live)
      self->send_exit(entry.actor, em.reason);
    self->send_exit(st.deps.timers, em.reason);
    self->quit(em.reason);
  });
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    if (dm.source == st.deps.timers.address()) {
      spdlog::error("event=timers_restart reason=\"{}\"",
                    caf::to_string(dm.reason));
      start_timers(self);
      for (auto& [id, entry] : st.live)
        self->send(entry.actor, rearm_atom_v, st.deps.timers);
      return;
    }
    auto i = st.ids.find(dm.source);
    if (i == st.ids.end())
      return;
    auto id = std::move(i->second);
    st.ids.erase(i);
    on_order_down(self, id, dm.reason);
  });
  self->set_default_handler(log_unexpected("registry"));
  return {
    [=](create_atom a, create_order& req, order_reply& reply) {
      auto id = req.out_trade_no;
      route(self, id, caf::make_message(a, std::move(req), std::move(reply)));
    },
    [=](notify_atom a, verified_notification& n, order_reply& reply) {
      auto id = n.fact.out_trade_no;
      route(self, id, caf::make_message(a, std::move(n), std::move(reply)));
    },
    [=](const timer_fired& t) {
      // An order without a live actor (passivated, or its process was
      // restarted) is loaded from the store and acts if it is due.
      route(self, t.out_trade_no, caf::make_message(timer_atom_v));
    },
    [=](verify_atom a, const std::string& id, order_reply& reply) {
      route(self, id, caf::make_message(a, std::move(reply)));
    },
    [=](forward_atom a, const std::string& id, order_reply& reply) {
      route(self, id, caf::make_message(a, std::move(reply)));
    },
    [=](retry_atom a, const std::string& id, order_reply& reply) {
      route(self, id, caf::make_message(a, std::move(reply)));
    },
    [=](resolve_atom a, const std::string& id, std::string& note, order_reply& reply) {
      route(self, id, caf::make_message(a, std::move(note), std::move(reply)));
    },
    [=](refund_atom a, create_refund& req, order_reply& reply) {
      auto id = req.out_trade_no;
      route(self, id, caf::make_message(a, std::move(req), std::move(reply)));
    },
    [=](refund_atom a, verify_atom v, const std::string& id, std::string& no,
        order_reply& reply) {
      route(self, id, caf::make_message(a, v, std::move(no), std::move(reply)));
    },
    [=](refund_atom a, resolve_atom r, const std::string& id, std::string& no,
        std::string& note, order_reply& reply) {
      route(self, id, caf::make_message(a, r, std::move(no), std::move(note), std::move(reply)));
    },
    [=](load_atom, const std::string& id, uint32_t restarts, uint32_t attempt) {
      load_and_spawn(self, id, restarts, attempt); // a retry after a store failure
    },
    [=](fault_atom, const std::string& id, const std::string& reason, uint32_t attempt) {
      park_faulted(self, id, reason, attempt); // a retry after a store failure
    },
    [=](snapshot_atom a, const std::string& id, snapshot_reply& reply) {
      auto& st = self->state;
      // A retiring actor is about to stop: it is reported as not alive.
      if (auto i = st.live.find(id); i != st.live.end() && !i->second.retiring) {
        self->send(i->second.actor, a, std::move(reply));
        return;
      }
      if (reply.fn)
        reply.fn(actor_snapshot{});
    },
    [=](recover_atom) -> caf::result<uint64_t> {
      // Nothing to spawn: every active order has its index entry, and the
      // timers service is ready once the first window of it is in memory.
      // Orders load when their timer fires or a message arrives for them.
      auto promise = self->make_response_promise<uint64_t>();
      self->request(self->state.deps.timers, caf::infinite, recover_atom_v)
        .then(
          [=](uint64_t armed) mutable {
            spdlog::info("event=recovered timers_in_memory={}", armed);
            promise.deliver(armed);
          },
          [=](caf::error& err) mutable { promise.deliver(std::move(err)); });
      return promise;
    },
    [=](idle_atom) {
      std::string id;
      auto entry = sender_entry(self, id);
      if (entry == nullptr || entry->retiring)
        return;
      entry->retiring = true;
      self->send(entry->actor, stop_atom_v);
    },
    [=](busy_atom) {
      std::string id;
      auto entry = sender_entry(self, id);
      if (entry == nullptr || !entry->retiring)
        return;
      entry->retiring = false;
      deliver_loading(self, id, entry->actor);
    },
    [=](live_atom) { return static_cast<uint64_t>(self->state.live.size()); },
    [=](timer_atom) { return self->state.deps.timers; },
    [=](stats_atom) { return self->state.restarts_total; },
  };
}

} // namespace paycoord
