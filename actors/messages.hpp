#pragma once

// The one type-id block of paycoord: every atom and every message struct with
// its `inspect`, registered once through `register_message_types`. Messages
// are plain structs so that a later multi-node mode can ship them over
// caf::io; the only exception is the HTTP reply callback (process-local).

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/metrics.hpp"
#include "storage/order_record.hpp"
#include "storage/order_store.hpp"

namespace paycoord {

// -- domain messages ---------------------------------------------------------

/// A create request, validated by the HTTP layer (CONTRACTS.md §3).
struct create_order {
  std::string out_trade_no;
  std::string description;
  int64_t amount_total = 0;
  std::string currency = "CNY";
  std::string payer_openid;
  std::string attach;
  int64_t requested_expire_at_ms = 0; // 0 = not given
};

/// A payment fact that WeChat signed: from a verified, decrypted notification
/// or a verified query response. Nothing else may move an order to PAID.
struct payment_fact {
  std::string out_trade_no;
  std::string transaction_id;
  std::string trade_state; // SUCCESS, NOTPAY, USERPAYING, ...
  std::string mchid;
  std::string appid;
  int64_t total = 0;
  int64_t payer_total = 0;
  std::string currency;
  int64_t success_time_ms = 0;
};

/// A refund fact that WeChat signed (wechatpay-v3.md §7): from a verified
/// refund object (apply or query answer) or a decrypted REFUND.* notification.
struct refund_fact {
  std::string out_trade_no;
  std::string out_refund_no;
  std::string refund_id;
  std::string status; ///< SUCCESS, PROCESSING, CLOSED, ABNORMAL
  int64_t refund = 0; ///< amount.refund, fen
  int64_t total = 0;  ///< amount.total, fen
  int64_t success_time_ms = 0;
};

/// A verified notification, after decryption.
struct verified_notification {
  std::string notification_id;
  std::string event_type; // TRANSACTION.SUCCESS, REFUND.SUCCESS, ...
  bool is_payment = false;
  payment_fact fact;      // when is_payment; else fact.out_trade_no routes it
  /// A REFUND.* event whose plaintext parsed: `refund` is its fact.
  bool is_refund = false;
  refund_fact refund;
  std::string plaintext;  // decrypted resource (non-payment events: stored)
};

/// A refund request, validated by the HTTP layer (CONTRACTS.md §10).
struct create_refund {
  std::string out_trade_no;
  std::string out_refund_no;
  int64_t amount_refund = 0;
  std::string currency = "CNY";
  std::string reason;
};

/// Outcome of a WeChat refund apply or refund query.
enum class refund_outcome : uint8_t {
  refund,      ///< verified refund object: see fact
  not_found,   ///< 404: WeChat has no such refund (never accepted)
  retry_later, ///< 429, 5xx, 202, timeout, unverifiable response
  failed,      ///< our request is wrong (401, a query's 4xx): retried slowly
  refused,     ///< an apply's 4xx with a code (NOT_ENOUGH, ...): WeChat will not refund
};

const char* to_string(refund_outcome x);

struct refund_result {
  refund_outcome outcome = refund_outcome::retry_later;
  refund_fact fact;
  int status = 0;    ///< HTTP status (0: no answer)
  std::string code;  ///< WeChat's error code, when it gave one
  std::string error; ///< the failure, for the merchant and the log
};

/// What the business pool delivers for a refund (CONTRACTS.md §10).
struct refund_delivery {
  std::string event; ///< refund.succeeded, refund.closed, refund.abnormal
  std::string out_trade_no;
  std::string out_refund_no;
  std::string refund_id;
  int64_t refund = 0;
  int64_t total = 0;
  std::string currency;
  int64_t succeeded_at_ms = 0;
};

/// Outcome of a WeChat query (from the wechat client pool).
enum class query_outcome : uint8_t {
  trade_state, ///< verified response: see fact.trade_state
  not_found,   ///< 404 ORDER_NOT_EXIST: WeChat never saw it (not paid)
  retry_later, ///< 429, 5xx, 202, timeout, unverifiable response
  failed,      ///< 400/401/403: our request is wrong; logged loudly, retried slowly
};

struct query_result {
  query_outcome outcome = query_outcome::retry_later;
  payment_fact fact;
  int status = 0;
  std::string error;
};

/// Outcome of a WeChat close or prepay call.
struct call_result {
  bool ok = false;
  bool retryable = true;
  int status = 0;
  std::string prepay_id; // prepay only
  std::string error;
};

/// Outcome of one business-server delivery attempt.
struct forward_result {
  bool acked = false;
  int status = 0; // 0 = no HTTP answer
  std::string error;
  int64_t latency_ms = 0;
};

/// What the business pool delivers (CONTRACTS.md §5).
struct forward_request {
  std::string out_trade_no;
  std::string transaction_id;
  int64_t total = 0;
  int64_t payer_total = 0;
  std::string currency;
  int64_t paid_at_ms = 0;
  bool late = false;
};

/// Timer service entry operations (see timers.hpp).
struct arm_timer {
  std::string out_trade_no;
  /// When to fire.
  int64_t due_ms = 0;
  /// Due time of the order's durable index entry (-1: none): no later than
  /// `due_ms` (an order backing off a failing disk fires later than its
  /// record says).
  int64_t index_due_ms = -1;
};

/// The order's timer fired. The order acts only if its record is due: a
/// fire is a reason to look, never an instruction.
struct timer_fired {
  std::string out_trade_no;
};

/// The live side of an order, for the inspector.
struct actor_snapshot {
  bool alive = false;
  std::string state; ///< the actor's view (equal to the synced record's)
  uint64_t mailbox_size = 0; ///< messages waiting behind the one it handles
  std::string next_action;
  int64_t next_due_ms = 0;
  uint32_t attempts = 0;
  uint32_t restarts = 0;
  bool in_flight = false;
};

// -- process-local reply callbacks --------------------------------------------

/// What an order actor answers to a request that came over HTTP; the net
/// layer renders it (JSON, JSAPI signing) on its own threads.
struct order_outcome {
  unsigned status = 500;   ///< HTTP status to answer with
  std::string code;        ///< error code (UPPER_SNAKE) when status >= 400
  std::string message;     ///< human-readable error
  bool has_record = false; ///< `record` is the order's durable state
  order_record record;
  /// Notifications only: what the verified notification did (for metrics).
  notify_outcome notified = notify_outcome::failed;
  /// Refund requests: the refund's durable state.
  bool has_refund = false;
  refund_record refund;
};

/// Carries the reply callback of an HTTP request into the actors. Calling it
/// posts the answer back onto the connection's strand and never blocks.
/// Process-local by nature, hence registered as an unsafe message type.
struct order_reply {
  std::function<void(order_outcome)> fn;

  void operator()(order_outcome outcome) const {
    if (fn)
      fn(std::move(outcome));
  }
};

/// Reply callback for the inspector's view of a live actor.
struct snapshot_reply {
  std::function<void(actor_snapshot)> fn;
};

// -- inspect overloads ---------------------------------------------------------

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, create_order& x) {
  return f(caf::meta::type_name("create_order"), x.out_trade_no, x.description,
           x.amount_total, x.currency, x.payer_openid, x.attach,
           x.requested_expire_at_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, payment_fact& x) {
  return f(caf::meta::type_name("payment_fact"), x.out_trade_no,
           x.transaction_id, x.trade_state, x.mchid, x.appid, x.total,
           x.payer_total, x.currency, x.success_time_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, refund_fact& x) {
  return f(caf::meta::type_name("refund_fact"), x.out_trade_no, x.out_refund_no,
           x.refund_id, x.status, x.refund, x.total, x.success_time_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f,
                                        verified_notification& x) {
  return f(caf::meta::type_name("verified_notification"), x.notification_id,
           x.event_type, x.is_payment, x.fact, x.is_refund, x.refund, x.plaintext);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, create_refund& x) {
  return f(caf::meta::type_name("create_refund"), x.out_trade_no, x.out_refund_no,
           x.amount_refund, x.currency, x.reason);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, refund_result& x) {
  return f(caf::meta::type_name("refund_result"), x.outcome, x.fact, x.status, x.code,
           x.error);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, refund_delivery& x) {
  return f(caf::meta::type_name("refund_delivery"), x.event, x.out_trade_no,
           x.out_refund_no, x.refund_id, x.refund, x.total, x.currency, x.succeeded_at_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, query_result& x) {
  return f(caf::meta::type_name("query_result"), x.outcome, x.fact, x.status,
           x.error);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_result& x) {
  return f(caf::meta::type_name("call_result"), x.ok, x.retryable, x.status,
           x.prepay_id, x.error);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, forward_result& x) {
  return f(caf::meta::type_name("forward_result"), x.acked, x.status, x.error,
           x.latency_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, forward_request& x) {
  return f(caf::meta::type_name("forward_request"), x.out_trade_no,
           x.transaction_id, x.total, x.payer_total, x.currency, x.paid_at_ms,
           x.late);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, arm_timer& x) {
  return f(caf::meta::type_name("arm_timer"), x.out_trade_no, x.due_ms,
           x.index_due_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, timer_fired& x) {
  return f(caf::meta::type_name("timer_fired"), x.out_trade_no);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, actor_snapshot& x) {
  return f(caf::meta::type_name("actor_snapshot"), x.alive, x.state, x.mailbox_size,
           x.next_action,
           x.next_due_ms, x.attempts, x.restarts, x.in_flight);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, held_payment& x) {
  return f(caf::meta::type_name("held_payment"), x.transaction_id, x.total,
           x.payer_total, x.currency, x.paid_at_ms, x.via);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_record& x) {
  return f(caf::meta::type_name("order_record"), x.out_trade_no, x.state,
           x.description, x.amount_total, x.currency, x.payer_openid, x.attach,
           x.requested_expire_at_ms, x.expire_at_ms, x.prepay_id,
           x.transaction_id, x.payer_total, x.paid_at_ms, x.via, x.late,
           x.paid_recorded_at_ms,
           x.created_at_ms, x.updated_at_ms, x.confirmed_at_ms, x.action,
           x.next_due_ms, x.verify_step, x.last_query_at_ms,
           x.closed_at_wechat, x.close_attempts, x.queries, x.query_failures,
           x.forward_attempts, x.first_forward_failure_ms, x.stuck,
           x.parked_reason, x.event_seq, x.faulted_from, x.held,
           x.resolved_at_ms, x.resolved_note, x.refund_due_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_event& x) {
  return f(caf::meta::type_name("order_event"), x.seq, x.at_ms, x.kind,
           x.detail);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, orphan_event& x) {
  return f(caf::meta::type_name("orphan_event"), x.out_trade_no,
           x.notification_id, x.event);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, timer_entry& x) {
  return f(caf::meta::type_name("timer_entry"), x.due_ms, x.out_trade_no);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_facts& x) {
  return f(caf::meta::type_name("order_facts"), x.state, x.stuck, x.unresolved,
           x.timer_due_ms);
}

/// CAF 0.17 inspects no std::optional: `before` travels as a flag and facts.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, refund_record& x) {
  return f(caf::meta::type_name("refund_record"), x.out_refund_no, x.out_trade_no, x.state,
           x.amount_refund, x.amount_total, x.currency, x.reason, x.refund_id,
           x.succeeded_at_ms, x.accepted_at_ms, x.last_error_code, x.last_error_message,
           x.created_at_ms, x.updated_at_ms, x.action, x.next_due_ms, x.apply_attempts,
           x.verify_step, x.queries, x.failures, x.undelivered, x.delivery_attempts,
           x.first_delivery_failure_ms, x.resolved_at_ms, x.resolved_note);
}

/// CAF 0.17 inspects no std::optional: `before` travels as a flag and facts.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, refund_write& x) {
  bool replaces = x.before.has_value();
  auto before = x.before.value_or(refund_facts{});
  auto load = caf::meta::load_callback([&]() -> caf::error {
    x.before = replaces ? std::optional<refund_facts>{before} : std::nullopt;
    return caf::none;
  });
  return f(caf::meta::type_name("refund_write"), x.record, replaces, before.state,
           before.unresolved, load);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_write& x) {
  bool replaces = x.before.has_value();
  order_facts before = x.before.value_or(order_facts{});
  auto load = caf::meta::load_callback([&]() -> caf::error {
    x.before = replaces ? std::optional<order_facts>{before} : std::nullopt;
    return caf::none;
  });
  return f(caf::meta::type_name("order_write"), x.record, replaces, before, load);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, write_set& x) {
  return f(caf::meta::type_name("write_set"), x.orders, x.refunds, x.events,
           x.notifications, x.orphan_events);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_page& x) {
  return f(caf::meta::type_name("order_page"), x.orders, x.next);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_store::refund_page& x) {
  return f(caf::meta::type_name("refund_page"), x.refunds, x.next);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, store_stats& x) {
  return f(caf::meta::type_name("store_stats"), x.write_sets, x.batches,
           x.syncs, x.bytes);
}

/// Result of a store lookup: `found` false when the key is absent.
struct order_lookup {
  bool found = false;
  order_record record;
  /// The order's refunds (read in the same store turn).
  std::vector<refund_record> refunds;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_lookup& x) {
  return f(caf::meta::type_name("order_lookup"), x.found, x.record, x.refunds);
}

/// An order and the newest of its events, read in one store turn so that the
/// two agree (no write lands between them).
struct order_history {
  bool found = false;
  order_record record;
  /// The newest events (at most the limit asked for), oldest first; the
  /// order has `record.event_seq` events in all.
  std::vector<order_event> events;
  /// The order's entry in the timer index is there, at the due time its
  /// record names (false when it needs none, or when it is missing).
  bool timer_indexed = false;
  std::vector<refund_record> refunds;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_history& x) {
  return f(caf::meta::type_name("order_history"), x.found, x.record, x.events,
           x.timer_indexed, x.refunds);
}

/// The default handler of every paycoord actor: an unexpected message is
/// logged (naming the actor) and answered with `sec::unexpected_message`,
/// never silently dropped.
caf::scheduled_actor::default_handler log_unexpected(const char* actor_name);

/// Registers every type and the error category with an actor system config.
void register_message_types(caf::actor_system_config& cfg);

// -- errors across actors ------------------------------------------------------

/// CAF error category for store failures (3-argument registration: the
/// templated add_error_category does not compile in CAF 0.17.6).
constexpr caf::atom_value store_error_category = caf::atom("store");

caf::error make_error(const store_error& x);

} // namespace paycoord

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(paycoord::order_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(paycoord::snapshot_reply)

CAF_BEGIN_TYPE_ID_BLOCK(paycoord, caf::first_custom_type_id)

  CAF_ADD_TYPE_ID(paycoord, (paycoord::create_order))
  CAF_ADD_TYPE_ID(paycoord, (paycoord::payment_fact))
  CAF_ADD_TYPE_ID(paycoord, (paycoord::verified_notification))
  CAF_ADD_TYPE_ID(paycoord, (paycoord::query_result))
  CAF_ADD_TYPE_ID(paycoord, (paycoord::call_result))
  CAF_ADD_TYPE_ID(paycoord, (paycoord::forward_result))
  CAF_ADD_TYPE_ID(paycoord, (paycoord::forward_request))
  CAF_ADD_TYPE_ID(paycoord, (paycoord::arm_timer))
  CAF_ADD_TYPE_ID(paycoord, (paycoord::timer_fired))
  CAF_ADD_TYPE_ID(paycoord, (paycoord::actor_snapshot))
  CAF_ADD_TYPE_ID(paycoord, (paycoord::order_record))
  CAF_ADD_TYPE_ID(paycoord, (paycoord::order_event))
  CAF_ADD_TYPE_ID(paycoord, (paycoord::write_set))
  CAF_ADD_TYPE_ID(paycoord, (paycoord::order_page))
  CAF_ADD_TYPE_ID(paycoord, (paycoord::store_stats))
  CAF_ADD_TYPE_ID(paycoord, (paycoord::order_lookup))
  CAF_ADD_TYPE_ID(paycoord, (paycoord::order_history))
  CAF_ADD_TYPE_ID(paycoord, (paycoord::orphan_event))
  CAF_ADD_TYPE_ID(paycoord, (paycoord::timer_entry))
  CAF_ADD_TYPE_ID(paycoord, (paycoord::refund_record))
  CAF_ADD_TYPE_ID(paycoord, (paycoord::refund_fact))
  CAF_ADD_TYPE_ID(paycoord, (paycoord::create_refund))
  CAF_ADD_TYPE_ID(paycoord, (paycoord::refund_result))
  CAF_ADD_TYPE_ID(paycoord, (paycoord::refund_delivery))
  CAF_ADD_TYPE_ID(paycoord, (paycoord::order_store::refund_page))

  CAF_ADD_ATOM(paycoord, paycoord, create_atom, "create")
  CAF_ADD_ATOM(paycoord, paycoord, notify_atom, "notify")
  CAF_ADD_ATOM(paycoord, paycoord, ack_atom, "ack")
  CAF_ADD_ATOM(paycoord, paycoord, timer_atom, "timer")
  CAF_ADD_ATOM(paycoord, paycoord, write_atom, "write")
  CAF_ADD_ATOM(paycoord, paycoord, flush_atom, "flush")
  CAF_ADD_ATOM(paycoord, paycoord, load_atom, "load")
  CAF_ADD_ATOM(paycoord, paycoord, events_atom, "events")
  CAF_ADD_ATOM(paycoord, paycoord, scan_atom, "scan")
  CAF_ADD_ATOM(paycoord, paycoord, stats_atom, "stats")
  CAF_ADD_ATOM(paycoord, paycoord, arm_atom, "arm")
  CAF_ADD_ATOM(paycoord, paycoord, cancel_atom, "cancel")
  CAF_ADD_ATOM(paycoord, paycoord, tick_atom, "tick")
  CAF_ADD_ATOM(paycoord, paycoord, rearm_atom, "rearm")
  CAF_ADD_ATOM(paycoord, paycoord, query_atom, "query")
  CAF_ADD_ATOM(paycoord, paycoord, close_atom, "close")
  CAF_ADD_ATOM(paycoord, paycoord, prepay_atom, "prepay")
  CAF_ADD_ATOM(paycoord, paycoord, forward_atom, "forward")
  CAF_ADD_ATOM(paycoord, paycoord, verify_atom, "verify")
  CAF_ADD_ATOM(paycoord, paycoord, snapshot_atom, "snapshot")
  CAF_ADD_ATOM(paycoord, paycoord, recover_atom, "recover")
  CAF_ADD_ATOM(paycoord, paycoord, live_atom, "live")
  CAF_ADD_ATOM(paycoord, paycoord, idle_atom, "idle")
  CAF_ADD_ATOM(paycoord, paycoord, stop_atom, "stop")
  CAF_ADD_ATOM(paycoord, paycoord, busy_atom, "busy")
  CAF_ADD_ATOM(paycoord, paycoord, history_atom, "history")
  CAF_ADD_ATOM(paycoord, paycoord, retry_atom, "retry")
  CAF_ADD_ATOM(paycoord, paycoord, resolve_atom, "resolve")
  CAF_ADD_ATOM(paycoord, paycoord, reopen_atom, "reopen")
  CAF_ADD_ATOM(paycoord, paycoord, orphans_atom, "orphans")
  CAF_ADD_ATOM(paycoord, paycoord, fault_atom, "fault")
  CAF_ADD_ATOM(paycoord, paycoord, index_atom, "index")
  CAF_ADD_ATOM(paycoord, paycoord, audit_atom, "audit")
  CAF_ADD_ATOM(paycoord, paycoord, refund_atom, "refund")
  CAF_ADD_ATOM(paycoord, paycoord, rf_apply_atom, "rfapply")
  CAF_ADD_ATOM(paycoord, paycoord, rf_query_atom, "rfquery")
  CAF_ADD_ATOM(paycoord, paycoord, refunds_atom, "refunds")

CAF_END_TYPE_ID_BLOCK(paycoord)
