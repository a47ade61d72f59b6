#pragma once

// paysim's side of a run (GET /control/report): its totals and its row of
// every order (with its refunds), and those rows merged with what the
// customers saw into the outcomes the reconciliation reads. Shared by
// paydemo and paysoak.

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "demo/order_log.hpp"
#include "demo/reconciliation.hpp"
#include "demo/refund_log.hpp"
#include "demo/sandbox_stack.hpp"
#include "demo/scenario.hpp"
#include "net/http_client.hpp"

namespace paycoord::demo {

/// paysim's view: its totals and every order row by id.
struct sim_report {
  nlohmann::json totals;
  std::map<std::string, nlohmann::json> rows;
};

/// Every page of paysim's report (blocking; a page that fails ends it).
sim_report fetch_sim_report(const sandbox_stack& stack);

/// paysim's totals alone (all zero when it does not answer).
sim_totals fetch_sim_totals(net::http_client& client, const sandbox_stack& stack);

/// One outcome per customer of `script`, by index: the customer's trace and
/// paysim's row of its order.
std::vector<order_outcome> merge_outcomes(const scenario& script,
                                          const std::vector<order_trace>& traces,
                                          const sim_report& sim);

/// One outcome per refund request of `traces`: the customer's side and
/// paysim's entry of the refund (in its order's row).
std::vector<refund_outcome> merge_refund_outcomes(const scenario& script,
                                                  const std::vector<refund_trace>& traces,
                                                  const sim_report& sim);

} // namespace paycoord::demo
