#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "actors/metrics.hpp"
#include "actors/order_machine.hpp"

namespace paycoord {

/// What every order actor is wired to.
struct order_deps {
  caf::actor store;    ///< see store.hpp
  caf::actor timers;   ///< see timers.hpp (replaced on `rearm`)
  /// WeChat client pool: `(query_atom, id)` -> query_result,
  /// `(close_atom, id)` -> call_result, `(prepay_atom, order_record)` ->
  /// call_result.
  caf::actor wechat;
  /// Business client pool: `(forward_atom, forward_request)` -> forward_result.
  caf::actor business;
  std::shared_ptr<const order_machine> machine;
  /// Wall clock in Unix milliseconds (a fake one in tests).
  std::function<int64_t()> now_ms;
  /// An order with nothing in flight whose next action is further away
  /// than this stops its actor (passivation); its timer, a notification or
  /// a request brings it back from the store. Negative: never.
  int64_t passivate_after_ms = -1;
  /// Told about every synced record change (optional; shared by all).
  std::shared_ptr<paycoord::metrics> metrics;
  /// The registry that routes this order's messages (set by the registry).
  /// An order that needs no actor asks it for leave to stop, see below.
  caf::actor registry;
  /// Told by every order actor as it starts (+1) and as it exits (-1), on
  /// its own thread (optional: the handshake test counts the actors of an
  /// order with it, never trusting the registry's view).
  std::function<void(const std::string& out_trade_no, int delta)> lifecycle;
};

struct order_actor_state {
  static inline const char* name = "order";

  order_deps deps;
  bool has_record = false;
  /// Always equal to what is durable in the store (updated after the sync).
  order_record record;
  /// The order's refunds, durable like `record` (one aggregate).
  refund_list refunds;
  /// A query, close or forward call is out; its result re-arms the timer.
  bool in_flight = false;
  uint32_t restarts = 0;
  /// `idle` was sent to the registry and no `busy` since.
  bool idle_sent = false;
  /// Store writes failed in a row; while they do, the timer is not armed
  /// sooner than `not_before_ms` (in memory only), so a failing disk makes
  /// an order back off instead of repeating its due call in a tight loop.
  uint32_t store_failures = 0;
  int64_t not_before_ms = 0;
  /// The last commit was skipped by the store: its notification id had
  /// been processed before (nothing was written).
  bool last_write_skipped = false;
};

/// How an order actor starts.
struct order_start {
  std::string out_trade_no;           ///< the order it is spawned for
  std::optional<order_record> record; ///< nullopt: not in the store (yet)
  refund_list refunds;                ///< the order's refunds in the store
  uint32_t restarts = 0;              ///< crashes so far (from the registry)
};

/// One actor per order: the state machine of order_machine.hpp, writing every
/// transition and its events through the store before anyone is answered or
/// any effect runs, and owning exactly one timer: its durable index entry
/// (written by the store with the record) and, while it is due soon, the
/// timers service's entry, which the actor arms after every change.
///
/// It exits when it is not needed: the order is terminal or parked, or
/// nothing is in flight and its next action is more than
/// `passivate_after_ms` away (passivation: the timer's fire, a
/// notification or a request spawns it again from the store). Exit is a
/// handshake with the registry so that no message routed to it is dropped:
/// it sends `(idle_atom)`; the registry stops routing (queueing the order's
/// messages instead) and answers `(stop_atom)`, which arrives after
/// everything it routed before (one sender, FIFO). The order then quits,
/// or, if a message in between made it needed again (a call now in flight,
/// a step due soon), answers `(busy_atom)` and the registry resumes routing
/// to it. Whatever it handled before quitting is durable, so the actor the
/// registry spawns next for the held messages starts from the same record.
///
/// Messages (the registry routes them here):
/// - `(create_atom, create_order, order_reply)`: 201 new, 200 same order,
///   409 ORDER_CONFLICT, 502 PREPAY_FAILED (order kept)
/// - `(notify_atom, verified_notification, order_reply)`: 204 once durable
/// - `(timer_atom)`: the timer fired; the order acts if its record is due
///   and nothing is in flight (a stale or repeated fire changes nothing)
/// - `(refund_atom, create_refund, order_reply)`: CONTRACTS.md §10: 201
///   accepted by WeChat, 202 REQUESTED (the apply failed and is retried),
///   200 the same request again, 502 REFUND_REFUSED (CLOSED), 409/400 with
///   the code of the refusal; every answer with the refund once durable
/// - `(refund_atom, verify_atom, out_refund_no, order_reply)`,
///   `(refund_atom, resolve_atom, out_refund_no, note, order_reply)`:
///   operator actions on a refund (202 / 200 with the refund)
/// - `(verify_atom, order_reply)`, `(forward_atom, order_reply)`: operator
///   (202); `(retry_atom, order_reply)`, `(resolve_atom, std::string note,
///   order_reply)`: CONTRACTS.md §11 (200 with the record, 409 INVALID_STATE)
/// - `(rearm_atom, caf::actor timers)`: the timers service was restarted
/// - `(snapshot_atom, snapshot_reply)`: the live side for the inspector
/// - `(stop_atom)`: the registry's leave to stop (see above)
caf::behavior order_actor(caf::stateful_actor<order_actor_state>* self,
                          order_deps deps, order_start start);

} // namespace paycoord
