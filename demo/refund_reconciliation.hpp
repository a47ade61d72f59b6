#pragma once

// The refunds' part of the report: what the customers asked paycoord for,
// what WeChat refunded, and what the business server heard. Pure functions
// over what was collected (the invariants are added with the others in
// reconciliation.cpp), so every number can be tested from synthetic rows.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "demo/scenario.hpp"

namespace paycoord::demo {

// -- inputs --------------------------------------------------------------------

/// One refund request at the end of a run: the customer's side and
/// WeChat's and the business server's (paysim's refund entry).
struct refund_outcome {
  refund_request_kind kind = refund_request_kind::refund;
  std::string out_trade_no;
  std::string out_refund_no;
  int64_t amount = 0;
  /// The order's total and what WeChat was paid for it (fen).
  int64_t order_total = 0;
  int64_t order_paid = 0;
  /// paycoord's answer that ended the request (0: none came), its error
  /// code, and the calls it took.
  int api_status = 0;
  std::string api_code;
  int api_attempts = 0;
  /// paycoord's last known state of the refund.
  std::string paycoord_state;
  /// WeChat knows the refund (paysim has an entry paycoord applied for).
  bool at_wechat = false;
  std::string wechat_status;
  /// Callbacks the business server accepted for it, by event, and those
  /// that contradicted WeChat.
  int64_t delivered_succeeded = 0;
  int64_t delivered_closed = 0;
  int64_t delivered_abnormal = 0;
  int64_t wrong_deliveries = 0;
  /// The demo fixed it at WeChat after it was parked ABNORMAL.
  bool fixed = false;
  /// When WeChat resolved it (SUCCESS); unix ms, 0 = never.
  int64_t success_ms = 0;
};

/// paysim's refund totals (`GET /control/report`, sim/README.md).
struct sim_refund_totals {
  int64_t requested = 0;
  int64_t succeeded = 0;
  int64_t closed = 0;
  int64_t abnormal = 0;
  int64_t processing = 0;
  int64_t notifications_dropped = 0;
  int64_t deliveries_succeeded = 0;
  int64_t deliveries_closed = 0;
  int64_t deliveries_abnormal = 0;
  int64_t delivery_duplicates = 0;
  int64_t wrong_deliveries = 0;
  int64_t refunded_over_paid = 0;
  int64_t lost = 0;
  int64_t applies = 0;
  int64_t apply_errors = 0;
  int64_t answers_lost = 0;
  int64_t applies_refused = 0;
  int64_t queries = 0;
};

/// From paysim's report `totals` (missing keys read 0).
sim_refund_totals parse_sim_refund_totals(const nlohmann::json& totals);

// -- the report ----------------------------------------------------------------

struct refund_reconciliation {
  sim_refund_totals sim;

  // What the customers asked.
  int64_t customers = 0;
  int64_t requested = 0; ///< refunds asked for (distinct out_refund_no)
  int64_t partial = 0;   ///< of them, for less than the order's total
  int64_t two_step_customers = 0;
  int64_t refunded_fen = 0; ///< SUCCESS at WeChat, summed

  // How paycoord answered them.
  int64_t answered_accepted = 0;  ///< 201: WeChat accepted it
  int64_t answered_requested = 0; ///< 202: WeChat's apply failed, paycoord retries
  int64_t answered_again = 0;     ///< 200: an earlier call's answer was lost
  int64_t answered_refused = 0;   ///< a 4xx, or 502 REFUND_REFUSED
  int64_t unanswered = 0;
  int64_t held_by_paycoord = 0;   ///< 201, 202, 200 or 502

  // What WeChat did with them, and what the business server heard.
  int64_t succeeded_at_wechat = 0;
  int64_t closed_at_wechat = 0;
  int64_t abnormal_fixed = 0;  ///< fixed at WeChat by a person, then SUCCESS
  int64_t abnormal_parked = 0; ///< still ABNORMAL: a person must act
  int64_t delivered_succeeded = 0; ///< refunds with a refund.succeeded callback
  int64_t delivered_closed = 0;
  int64_t delivered_abnormal = 0;  ///< fixed ones too: they were ABNORMAL first
  int64_t parked_delivered = 0;    ///< parked ones with a refund.abnormal callback

  // Invariants (each must be 0).
  /// SUCCESS at WeChat, never delivered as refund.succeeded.
  int64_t lost = 0;
  /// Orders whose SUCCESS refunds add up to more than was paid.
  int64_t over_paid = 0;
  /// Refund callbacks that contradict WeChat.
  int64_t wrong_deliveries = 0;
  /// Refunds asked for and not settled: no answer or refused, not SUCCESS,
  /// CLOSED or ABNORMAL at paycoord, not what WeChat says, or their state's
  /// callback never delivered.
  int64_t unsettled = 0;
  /// Repeated requests not answered 200 with the same refund.
  int64_t repeats = 0;
  int64_t repeats_not_deduped = 0;
  /// Requests for more than is left not answered 409 REFUND_EXCEEDS_PAID.
  int64_t over_refunds = 0;
  int64_t over_refunds_not_refused = 0;

  /// Apply calls beyond one per refund WeChat took or refused.
  int64_t apply_retries = 0;

  std::vector<refund_outcome> outcomes;
};

refund_reconciliation reconcile_refunds(const std::vector<refund_outcome>& refunds,
                                        const sim_refund_totals& sim);

nlohmann::json to_json(const refund_reconciliation& r);

} // namespace paycoord::demo
