#include "actors/order.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/text.hpp"

namespace paycoord {

namespace {

using self_ptr = caf::stateful_actor<order_actor_state>*;

int64_t now(self_ptr self) {
  return self->state.deps.now_ms();
}

const std::string& id_of(self_ptr self) {
  return self->state.record.out_trade_no;
}

order_outcome with_record(self_ptr self, unsigned status) {
  order_outcome out;
  out.status = status;
  out.has_record = true;
  out.record = self->state.record;
  return out;
}

/// The refund `out_refund_no` as durable, with `status` (and `code` and
/// `message` when given).
order_outcome with_refund(self_ptr self, const std::string& out_refund_no, unsigned status,
                          std::string code = {}, std::string message = {}) {
  order_outcome out;
  out.status = status;
  out.code = std::move(code);
  out.message = std::move(message);
  if (auto* r = find_refund(self->state.refunds, out_refund_no)) {
    out.has_refund = true;
    out.refund = *r;
  }
  return out;
}

/// 204 to a notification, with what it did (for metrics).
order_outcome notified(notify_outcome what) {
  order_outcome out;
  out.status = 204;
  out.notified = what;
  return out;
}

order_outcome failure(unsigned status, std::string code, std::string message) {
  order_outcome out;
  out.status = status;
  out.code = std::move(code);
  out.message = std::move(message);
  return out;
}

// -- timer -------------------------------------------------------------------

/// When the timer should fire: the earliest deadline of the order and its
/// refunds (its index entry), or later while the store is failing (in
/// memory only: the record is not written for it). Negative: nothing due.
int64_t fire_at(const order_actor_state& st) {
  auto due = facts_of(st.record).timer_due_ms;
  return due < 0 ? due : std::max(due, st.not_before_ms);
}

/// The order or one of its refunds names an action that is due now.
bool is_due(self_ptr self) {
  auto& st = self->state;
  auto at = fire_at(st);
  return st.has_record && at >= 0 && at <= now(self);
}

// Arms the timers service for the record's next action, or cancels it. While
// a call is out, nothing is armed: its result decides the next deadline (the
// durable index entry stays, so a crash meanwhile still finds the order).
void arm_or_cancel(self_ptr self) {
  auto& st = self->state;
  if (!st.has_record || st.in_flight)
    return;
  auto facts = facts_of(st.record);
  if (facts.has_timer())
    self->send(st.deps.timers,
               arm_timer{st.record.out_trade_no, fire_at(st), facts.timer_due_ms});
  else
    self->send(st.deps.timers, cancel_atom_v, st.record.out_trade_no);
}

/// The order needs no actor now: nothing is due for it or its refunds
/// (terminal, parked or never created), or (passivation) nothing is in
/// flight, its store is healthy, and its next deadline is further away than
/// `passivate_after_ms`.
bool needs_no_actor(self_ptr self) {
  auto& st = self->state;
  if (st.in_flight)
    return false;
  if (!st.has_record || fire_at(st) < 0)
    return true;
  auto after = st.deps.passivate_after_ms;
  return after >= 0 && st.store_failures == 0 && fire_at(st) - now(self) > after;
}

// After every handled message: re-arm, and once the order needs no actor and
// no call is out, ask the registry for leave to stop (quitting at once would
// drop messages it already routed here: their callers would get a 500).
void settle(self_ptr self) {
  auto& st = self->state;
  arm_or_cancel(self);
  if (st.idle_sent || !needs_no_actor(self))
    return;
  if (!st.deps.registry) {
    self->quit();
    return;
  }
  st.idle_sent = true;
  self->send(st.deps.registry, idle_atom_v);
}

// -- persistence ---------------------------------------------------------------

// Makes the decision durable, then calls `next(true)`; on a store failure the
// in-memory record stays at its last durable value and `next(false)` runs.
// The write is awaited: no other message of this order is handled until the
// sync, so every answer reflects durable state.
template <class F>
void commit(self_ptr self, order_decision d, std::string notification_id,
            F next) {
  self->state.last_write_skipped = false;
  if (!d.legal) {
    spdlog::warn("event=refused out_trade_no={} state={} why=\"{}\"",
                 d.record.out_trade_no, to_string(d.record.state), d.refusal);
    next(false);
    return;
  }
  if (!d.persist && notification_id.empty()) {
    next(true);
    return;
  }
  write_set set;
  auto id = d.record.out_trade_no;
  for (auto& e : d.events)
    set.events.emplace_back(id, e);
  if (!notification_id.empty())
    set.notifications.emplace_back(std::move(notification_id), id);
  set.put(d.record, self->state.has_record ? &self->state.record : nullptr);
  for (auto& r : d.refunds)
    set.put(r, find_refund(self->state.refunds, r.out_refund_no));
  self->request(self->state.deps.store, caf::infinite, write_atom_v,
                std::move(set))
    .await(
      [=](bool applied) mutable {
        auto& st = self->state;
        st.store_failures = 0;
        st.not_before_ms = 0;
        st.last_write_skipped = !applied;
        if (!applied) {
          // A redelivered notification: the store skipped the write; the
          // durable state is what we have.
          next(true);
          return;
        }
        auto from = st.has_record ? st.record.state : d.record.state;
        bool was_stuck = st.has_record && st.record.stuck;
        if (st.deps.metrics)
          st.deps.metrics->order_written(st.has_record ? &st.record : nullptr, d.record);
        st.record = std::move(d.record);
        for (auto& r : d.refunds) {
          auto i = std::find_if(st.refunds.begin(), st.refunds.end(),
                                [&](const refund_record& y) { return y.out_refund_no == r.out_refund_no; });
          if (i == st.refunds.end())
            st.refunds.push_back(std::move(r));
          else
            *i = std::move(r);
        }
        if (!was_stuck && st.record.stuck)
          spdlog::error("event=order_stuck out_trade_no={} attempts={} "
                        "failing_since_ms={}",
                        st.record.out_trade_no, st.record.forward_attempts,
                        st.record.first_forward_failure_ms);
        st.has_record = true;
        // A parked order needs a person: said at error level.
        if (from != st.record.state)
          spdlog::log(is_parked(st.record.state) ? spdlog::level::err : spdlog::level::info,
                      "event=transition out_trade_no={} from={} to={}",
                      st.record.out_trade_no, to_string(from), to_string(st.record.state));
        next(true);
      },
      [=](caf::error& err) {
        auto& st = self->state;
        ++st.store_failures;
        // 0.5 s doubling to a minute: the disk gets time, WeChat and the
        // business server are not asked again for a result we cannot keep.
        auto backoff = std::min<int64_t>(int64_t{500} << std::min<uint32_t>(st.store_failures - 1, 7),
                                         60'000);
        st.not_before_ms = now(self) + backoff;
        spdlog::error("event=store_write_failed out_trade_no={} failures={} "
                      "retry_in_ms={} error=\"{}\"",
                      id, st.store_failures, backoff, caf::to_string(err));
        // A failed sync may still have reached the disk (LevelDB replays its
        // log on reopen): read back what is durable before deciding again,
        // so the next write does not build on a stale record.
        self->request(st.deps.store, caf::infinite, load_atom_v, id)
          .await(
            [=](order_lookup& lookup) {
              auto& st = self->state;
              if (lookup.found && (!st.has_record || !(lookup.record == st.record)
                                   || lookup.refunds != st.refunds)) {
                if (st.deps.metrics)
                  st.deps.metrics->order_written(st.has_record ? &st.record : nullptr,
                                                 lookup.record);
                spdlog::warn("event=store_write_landed out_trade_no={} state={}", id,
                             to_string(lookup.record.state));
                st.record = std::move(lookup.record);
                st.refunds = std::move(lookup.refunds);
                st.has_record = true;
              }
              next(false);
            },
            [=](caf::error&) { next(false); });
      });
}


// -- effects -------------------------------------------------------------------

forward_request make_forward(const order_record& x) {
  return forward_request{x.out_trade_no, x.transaction_id, x.amount_total,
                         x.payer_total,  x.currency,       x.paid_at_ms,
                         x.late};
}

refund_delivery make_refund_delivery(const refund_record& r) {
  return refund_delivery{r.undelivered.empty() ? std::string{} : r.undelivered.front(),
                         r.out_trade_no,
                         r.out_refund_no,
                         r.refund_id,
                         r.amount_refund,
                         r.amount_total,
                         r.currency,
                         r.succeeded_at_ms};
}

using done_fn = std::function<void()>;

void handle(self_ptr self, order_decision d, done_fn done);

/// One call of the order: `xs` to `target`. Its result, or the error read
/// as the result type's default (no answer: retried later, not acked),
/// goes through `decide` and is handled; `done` runs once that is durable.
template <class Result, class Decide, class... Ts>
void call(self_ptr self, const caf::actor& target, Decide decide, done_fn done, Ts... xs) {
  self->request(target, caf::infinite, std::move(xs)...)
    .then(
      [=](Result& r) {
        self->state.in_flight = false;
        handle(self, decide(r), done);
      },
      [=](caf::error& err) {
        self->state.in_flight = false;
        Result r;
        r.error = caf::to_string(err);
        handle(self, decide(r), done);
      });
}

bool is_refund_effect(order_effect x) {
  return x == order_effect::refund_apply || x == order_effect::refund_query
         || x == order_effect::refund_deliver;
}

/// Starts the call an effect names (one at a time per order; a refund
/// effect names its refund). `done` runs once its result is durable, or at
/// once when no call starts.
void run_effect(self_ptr self, order_effect effect, const std::string& refund_no = {},
                done_fn done = {}) {
  auto& st = self->state;
  auto* refund = find_refund(st.refunds, refund_no);
  if (effect == order_effect::none || st.in_flight
      || (is_refund_effect(effect) && refund == nullptr)) {
    if (done)
      done();
    return;
  }
  st.in_flight = true;
  const auto& m = *st.deps.machine;
  auto id = id_of(self);
  auto no = refund_no;
  switch (effect) {
    case order_effect::query:
      call<query_result>(
        self, st.deps.wechat,
        [=, &m](const query_result& r) { return m.on_query(self->state.record, r, now(self)); },
        done, query_atom_v, id);
      break;
    case order_effect::close:
      call<call_result>(
        self, st.deps.wechat,
        [=, &m](const call_result& r) { return m.on_close(self->state.record, r, now(self)); },
        done, close_atom_v, id);
      break;
    case order_effect::forward:
      call<forward_result>(
        self, st.deps.business,
        [=, &m](const forward_result& r) {
          return m.on_forward(self->state.record, r, now(self));
        },
        done, forward_atom_v, make_forward(st.record));
      break;
    case order_effect::refund_apply:
      call<refund_result>(
        self, st.deps.wechat,
        [=, &m](const refund_result& r) {
          return m.on_refund_apply(self->state.record, self->state.refunds, no, r, now(self));
        },
        done, rf_apply_atom_v, *refund);
      break;
    case order_effect::refund_query:
      call<refund_result>(
        self, st.deps.wechat,
        [=, &m](const refund_result& r) {
          return m.on_refund_query(self->state.record, self->state.refunds, no, r, now(self));
        },
        done, rf_query_atom_v, no);
      break;
    case order_effect::refund_deliver: {
      auto delivery = make_refund_delivery(*refund);
      auto event = delivery.event;
      call<forward_result>(
        self, st.deps.business,
        [=, &m](const forward_result& r) {
          return m.on_refund_delivered(self->state.record, self->state.refunds, no, event, r,
                                       now(self));
        },
        done, forward_atom_v, std::move(delivery));
      break;
    }
    case order_effect::none:
      break;
  }
}

// Commit, then run the effect, then settle the timer; `done` (optional)
// runs after the commit.
void handle(self_ptr self, order_decision d, done_fn done) {
  auto effect = d.effect;
  auto refund_no = d.refund_no;
  commit(self, std::move(d), {}, [=](bool ok) {
    if (ok)
      run_effect(self, effect, refund_no);
    if (done)
      done();
    settle(self);
  });
}

// -- create ----------------------------------------------------------------------

void place_prepay(self_ptr self, order_reply reply, unsigned success_status) {
  auto& st = self->state;
  const auto& machine = *st.deps.machine;
  auto finish = [=, &machine](call_result r) {
    auto d = machine.on_prepay(self->state.record, r, now(self));
    commit(self, std::move(d), {}, [=](bool ok) {
      if (!ok)
        reply(failure(500, "STORE_FAILED", "order state could not be saved"));
      else if (r.ok)
        reply(with_record(self, success_status));
      else {
        auto out = with_record(self, 502);
        out.code = "PREPAY_FAILED";
        out.message = "WeChat Pay prepay failed: " + r.error
                      + " (the order is kept and will verify and expire)";
        reply(std::move(out));
      }
      settle(self);
    });
  };
  self->request(st.deps.wechat, caf::infinite, prepay_atom_v, st.record)
    .await([=](call_result& r) { finish(std::move(r)); },
           [=](caf::error& err) {
             call_result r;
             r.error = caf::to_string(err);
             finish(std::move(r));
           });
}

void on_create(self_ptr self, create_order& req, order_reply reply) {
  auto& st = self->state;
  if (!st.has_record) {
    auto d = st.deps.machine->create(req, now(self));
    commit(self, std::move(d), {}, [=](bool ok) {
      if (!ok) {
        reply(failure(500, "STORE_FAILED", "order could not be saved"));
        settle(self);
        return;
      }
      spdlog::info("event=order_created out_trade_no={} total={}",
                   id_of(self), self->state.record.amount_total);
      place_prepay(self, reply, 201);
    });
    return;
  }
  if (!order_machine::same_order(st.record, req)) {
    reply(failure(409, "ORDER_CONFLICT",
                  "out_trade_no " + req.out_trade_no
                    + " exists with different order details"));
    settle(self);
    return;
  }
  if (st.record.prepay_id.empty() && st.record.state == order_state::pending) {
    place_prepay(self, reply, 200);
    return;
  }
  reply(with_record(self, 200));
  settle(self);
}

// -- notify ----------------------------------------------------------------------

/// What a notification did, from the durable state before and after it.
notify_outcome classify(std::optional<order_state> before, bool payment,
                        order_state after) {
  if (!before)
    return notify_outcome::orphan;
  if (!payment)
    return notify_outcome::event;
  if (after == order_state::anomaly && *before != order_state::anomaly)
    return notify_outcome::anomaly;
  if (after == order_state::paid && *before != order_state::paid)
    return notify_outcome::accepted;
  return notify_outcome::duplicate;
}

/// A verified non-payment event for an order we do not have: kept as an
/// orphan event, which creates no record and so blocks no later create.
void on_orphan_event(self_ptr self, const verified_notification& n, order_reply reply) {
  auto& st = self->state;
  spdlog::warn("event=orphan_event out_trade_no={} id={} type={}", n.fact.out_trade_no,
               log_text(n.notification_id, 128), log_text(n.event_type, 64));
  write_set set;
  order_event e{0, now(self), "notify_event",
                json_text(nlohmann::json{{"id", n.notification_id},
                                         {"event_type", n.event_type},
                                         {"resource", n.plaintext}})};
  set.orphan_events.push_back({n.fact.out_trade_no, n.notification_id, std::move(e)});
  set.notifications.emplace_back(n.notification_id, n.fact.out_trade_no);
  self->request(st.deps.store, caf::infinite, write_atom_v, std::move(set))
    .await(
      [=](bool) {
        reply(notified(notify_outcome::orphan));
        settle(self);
      },
      [=](caf::error& err) {
        spdlog::error("event=store_write_failed out_trade_no={} error=\"{}\"",
                      n.fact.out_trade_no, caf::to_string(err));
        reply(failure(500, "FAIL", "event could not be saved"));
        settle(self);
      });
}

void on_notify(self_ptr self, const verified_notification& n,
               order_reply reply) {
  auto& st = self->state;
  const auto& machine = *st.deps.machine;
  bool payment = n.is_payment && n.fact.trade_state == "SUCCESS";
  if (!st.has_record && !payment) {
    on_orphan_event(self, n, std::move(reply));
    return;
  }
  std::optional<order_state> before;
  if (st.has_record)
    before = st.record.state;
  bool refund = n.is_refund || n.event_type.starts_with("REFUND.");
  auto d = !st.has_record ? machine.orphan(n, now(self))
           : refund       ? machine.on_refund_notify(st.record, st.refunds, n, now(self))
                          : machine.on_notify(st.record, n, now(self));
  if (!st.has_record)
    spdlog::warn("event=orphan_notification out_trade_no={} id={} type={}",
                 n.fact.out_trade_no, n.notification_id, n.event_type);
  auto effect = d.effect;
  auto refund_no = d.refund_no;
  commit(self, std::move(d), n.notification_id, [=](bool ok) {
    // Success only once the resulting state is synced; otherwise 500 makes
    // WeChat retry.
    if (!ok) {
      reply(failure(500, "FAIL", "state could not be saved"));
    } else if (self->state.last_write_skipped) {
      reply(notified(notify_outcome::duplicate));
    } else {
      reply(notified(classify(before, payment, self->state.record.state)));
      run_effect(self, effect, refund_no);
    }
    settle(self);
  });
}

// -- operator ------------------------------------------------------------------

/// An operator's action on the order or one of its refunds: 404 without an
/// order, the machine's refusal (409 INVALID_STATE unless it names another
/// code), else `answer()` (the record or the refund) once durable.
template <class Decide, class Answer>
void on_operator(self_ptr self, order_reply reply, Decide decide, Answer answer) {
  auto& st = self->state;
  if (!st.has_record) {
    reply(failure(404, "ORDER_NOT_FOUND", "no such order"));
    settle(self);
    return;
  }
  auto d = decide(*st.deps.machine, st.record, st.refunds, now(self));
  if (!d.legal) {
    reply(failure(d.status != 0 ? d.status : 409, d.code.empty() ? "INVALID_STATE" : d.code,
                  d.refusal));
    settle(self);
    return;
  }
  auto effect = d.effect;
  auto refund_no = d.refund_no;
  commit(self, std::move(d), {}, [=](bool ok) {
    if (!ok) {
      reply(failure(500, "STORE_FAILED", "operator event could not be saved"));
    } else {
      reply(answer());
      run_effect(self, effect, refund_no);
    }
    settle(self);
  });
}

/// An operator's action on the order: `success_status` with its record.
template <class Decide>
void on_order_operator(self_ptr self, order_reply reply, unsigned success_status,
                       Decide decide) {
  on_operator(
    self, std::move(reply),
    [decide](const order_machine& m, const order_record& x, const refund_list&, int64_t t) {
      return decide(m, x, t);
    },
    [self, success_status] { return with_record(self, success_status); });
}

// -- refunds ---------------------------------------------------------------------

/// How a refund request ends once its apply is answered (CONTRACTS.md §10).
order_outcome refund_answer(self_ptr self, const std::string& no) {
  auto* r = find_refund(self->state.refunds, no);
  if (r == nullptr)
    return failure(500, "STORE_FAILED", "refund could not be saved");
  if (r->state == refund_state::requested)
    return with_refund(self, no, 202);
  if (r->state == refund_state::closed && !r->last_error_code.empty())
    return with_refund(self, no, 502, "REFUND_REFUSED",
                       "WeChat Pay refused the refund: " + r->last_error_code + " "
                         + r->last_error_message);
  return with_refund(self, no, 201);
}

void on_refund(self_ptr self, const create_refund& req, order_reply reply) {
  auto& st = self->state;
  if (!st.has_record) {
    reply(failure(404, "ORDER_NOT_FOUND", "no order " + req.out_trade_no));
    settle(self);
    return;
  }
  auto d = st.deps.machine->request_refund(st.record, st.refunds, req, now(self));
  if (!d.legal) {
    reply(failure(d.status, d.code, d.refusal));
    settle(self);
    return;
  }
  auto no = req.out_refund_no;
  if (!d.persist) {
    reply(with_refund(self, no, 200)); // the same request again
    settle(self);
    return;
  }
  commit(self, std::move(d), {}, [=](bool ok) {
    if (!ok) {
      reply(failure(500, "STORE_FAILED", "refund could not be saved"));
      settle(self);
      return;
    }
    if (self->state.last_write_skipped) {
      // The store refused the claim: out_refund_no belongs to another order.
      reply(failure(409, "REFUND_CONFLICT",
                    "out_refund_no " + no + " belongs to another order"));
      settle(self);
      return;
    }
    spdlog::info("event=refund_requested out_trade_no={} out_refund_no={} refund={}",
                 id_of(self), no, find_refund(self->state.refunds, no)->amount_refund);
    // Synced as REQUESTED: now WeChat is asked, and the answer waits for it
    // (202 at once when another call of the order is out: the timer applies).
    run_effect(self, order_effect::refund_apply, no,
               [=] { reply(refund_answer(self, no)); });
    settle(self);
  });
}

} // namespace

caf::behavior order_actor(caf::stateful_actor<order_actor_state>* self,
                          order_deps deps, order_start start) {
  auto& st = self->state;
  st.deps = std::move(deps);
  st.restarts = start.restarts;
  if (auto& told = st.deps.lifecycle) {
    told(start.out_trade_no, +1);
    self->attach_functor([told, id = start.out_trade_no] { told(id, -1); });
  }
  if (start.record) {
    st.has_record = true;
    st.record = std::move(*start.record);
    st.refunds = std::move(start.refunds);
    // Loaded for a message, the order arms after handling it (settle). Its
    // timer needs no arming before that: the fire that woke it, or its
    // entry in the timers service or the index, is on its way. A crash may
    // have taken the fire with it (the call it started died): re-arm.
    if (start.restarts > 0)
      arm_or_cancel(self);
  }
  self->set_default_handler(log_unexpected("order"));
  return {
    [=](create_atom, create_order& req, order_reply& reply) {
      on_create(self, req, std::move(reply));
    },
    [=](notify_atom, const verified_notification& n, order_reply& reply) {
      on_notify(self, n, std::move(reply));
    },
    [=](timer_atom) {
      auto& st = self->state;
      if (st.in_flight || !is_due(self)) {
        settle(self); // stale, early or repeated: the armed timer stands
        return;
      }
      auto d = st.deps.machine->on_timer(st.record, st.refunds, now(self));
      if (!d.legal)
        spdlog::warn("event=refused out_trade_no={} input=timer why=\"{}\"",
                     id_of(self), d.refusal);
      else
        run_effect(self, d.effect, d.refund_no);
      settle(self);
    },
    [=](refund_atom, const create_refund& req, order_reply& reply) {
      on_refund(self, req, std::move(reply));
    },
    [=](refund_atom, verify_atom, const std::string& no, order_reply& reply) {
      on_operator(
        self, std::move(reply),
        [no](const order_machine& m, const order_record& x, const refund_list& rs, int64_t t) {
          return m.on_operator_refund_verify(x, rs, no, t);
        },
        [self, no] { return with_refund(self, no, 202); });
    },
    [=](refund_atom, resolve_atom, const std::string& no, const std::string& note,
        order_reply& reply) {
      on_operator(
        self, std::move(reply),
        [no, note](const order_machine& m, const order_record& x, const refund_list& rs,
                   int64_t t) { return m.on_operator_refund_resolve(x, rs, no, note, t); },
        [self, no] { return with_refund(self, no, 200); });
    },
    [=](verify_atom, order_reply& reply) {
      on_order_operator(self, std::move(reply), 202,
                  [](const order_machine& m, const order_record& x, int64_t t) {
                    return m.on_operator_verify(x, t);
                  });
    },
    [=](forward_atom, order_reply& reply) {
      on_order_operator(self, std::move(reply), 202,
                  [](const order_machine& m, const order_record& x, int64_t t) {
                    return m.on_operator_forward(x, t);
                  });
    },
    [=](retry_atom, order_reply& reply) {
      on_order_operator(self, std::move(reply), 200,
                  [self](const order_machine& m, const order_record& x, int64_t t) {
                    return m.on_operator_retry(x, self->state.refunds, t);
                  });
    },
    [=](resolve_atom, const std::string& note, order_reply& reply) {
      on_order_operator(self, std::move(reply), 200,
                  [note](const order_machine& m, const order_record& x, int64_t t) {
                    return m.on_operator_resolve(x, note, t);
                  });
    },
    [=](stop_atom) {
      auto& st = self->state;
      if (needs_no_actor(self)) {
        self->quit();
        return;
      }
      // A message routed before the registry's stop made us active again.
      st.idle_sent = false;
      self->send(st.deps.registry, busy_atom_v);
    },
    [=](rearm_atom, caf::actor& timers) {
      self->state.deps.timers = std::move(timers);
      arm_or_cancel(self);
    },
    [=](snapshot_atom, const snapshot_reply& reply) {
      auto& st = self->state;
      actor_snapshot snap;
      snap.alive = true;
      snap.mailbox_size = self->mailbox().size();
      if (st.has_record)
        snap.state = to_string(st.record.state);
      snap.in_flight = st.in_flight;
      snap.restarts = st.restarts;
      if (st.has_record) {
        // The one timer: the order's own step or its earliest refund's.
        auto step = next_step_of(st.record, st.refunds);
        snap.next_action = step.action;
        snap.next_due_ms = step.due_ms;
        if (is_active(st.record.state))
          snap.attempts = st.record.state == order_state::paid ? st.record.forward_attempts
                                                               : st.record.queries;
      }
      if (reply.fn)
        reply.fn(std::move(snap));
    },
  };
}

} // namespace paycoord
