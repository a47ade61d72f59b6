#include "demo/sim_report.hpp"

#include "common/time.hpp"
#include "demo/json_call.hpp"

namespace paycoord::demo {

using json = nlohmann::json;

sim_report fetch_sim_report(const sandbox_stack& stack) {
  auto client = make_demo_client();
  sim_report out;
  std::string after;
  for (int page = 0; page < 10'000; ++page) {
    auto url = stack.control_url("/control/report?limit=500" + (after.empty() ? "" : "&after=" + after));
    auto r = call_json(client, "GET", url);
    if (r.status != 200 || !r.body.is_object())
      break;
    if (out.totals.is_null())
      out.totals = r.body.value("totals", json::object());
    for (auto& row : r.body.value("orders", json::array()))
      out.rows[row.value("out_trade_no", "")] = row;
    auto next = r.body.value("next", json{});
    if (!next.is_string())
      break;
    after = next.get<std::string>();
  }
  return out;
}

sim_totals fetch_sim_totals(net::http_client& client, const sandbox_stack& stack) {
  auto r = call_json(client, "GET", stack.control_url("/control/report?orders=false"));
  return r.status == 200 && r.body.is_object() ? parse_sim_totals(r.body.value("totals", json{}))
                                               : sim_totals{};
}

std::vector<order_outcome> merge_outcomes(const scenario& script,
                                          const std::vector<order_trace>& traces,
                                          const sim_report& sim) {
  std::vector<order_outcome> out;
  for (std::size_t i = 0; i < script.customers.size(); ++i) {
    const auto& c = script.customers[i];
    const auto& t = traces[i];
    order_outcome o;
    o.out_trade_no = c.out_trade_no;
    o.pays = c.pays;
    o.created_ms = t.created_ms;
    o.paid_ms = t.paid_ms;
    o.paycoord_state = t.state;
    o.paid_via = t.paid_via;
    auto it = sim.rows.find(c.out_trade_no);
    if (it != sim.rows.end()) {
      const auto& row = it->second;
      o.wechat_state = row.value("trade_state", "");
      o.queries = row.value("queries", int64_t{0});
      // The row's notification and callback counts cover its refunds' too:
      // the payment's are what is left. (A refund callback the business
      // server refused is not counted per refund, so it stays in
      // forward_requests: the order then reads as retried.)
      auto dropped = json_int(row, "notify", "dropped");
      o.forward_requests = json_int(row, "business", "requests");
      for (const auto& refund : row.value("refunds", json::array())) {
        dropped -= json_int(refund, "notify", "dropped");
        o.forward_requests -= json_int(refund, "business", "succeeded")
                              + json_int(refund, "business", "closed")
                              + json_int(refund, "business", "abnormal");
      }
      o.notification_lost = dropped > 0;
      o.deliveries = json_int(row, "business", "deliveries");
      o.first_delivery_ms = json_int(row, "business", "first_delivery_ms");
      // A payment whose answer the customer never got: WeChat's own time.
      if (o.paid_ms == 0 && row.value("paid_at", json{}).is_string())
        if (auto at = parse_rfc3339(row["paid_at"].get<std::string>()))
          o.paid_ms = to_unix_ms(*at);
    }
    out.push_back(std::move(o));
  }
  return out;
}

std::vector<refund_outcome> merge_refund_outcomes(const scenario& script,
                                                  const std::vector<refund_trace>& traces,
                                                  const sim_report& sim) {
  std::vector<refund_outcome> out;
  for (const auto& t : traces) {
    refund_outcome o;
    o.kind = t.kind;
    o.out_trade_no = t.out_trade_no;
    o.out_refund_no = t.out_refund_no;
    o.amount = t.amount;
    o.order_total = script.customers.at(t.customer).amount;
    o.api_status = t.status;
    o.api_code = t.code;
    o.api_attempts = t.attempts;
    o.paycoord_state = t.state;
    o.fixed = t.fixed_ms != 0;
    auto row = sim.rows.find(t.out_trade_no);
    if (row != sim.rows.end()) {
      o.order_paid = row->second.value("paid_amount", int64_t{0});
      for (const auto& entry : row->second.value("refunds", json::array())) {
        if (!entry.is_object() || entry.value("out_refund_no", "") != t.out_refund_no
            || !entry.value("requested", false))
          continue;
        o.at_wechat = true;
        o.wechat_status = entry.value("status", "");
        o.delivered_succeeded = json_int(entry, "business", "succeeded");
        o.delivered_closed = json_int(entry, "business", "closed");
        o.delivered_abnormal = json_int(entry, "business", "abnormal");
        o.wrong_deliveries = json_int(entry, "business", "wrong");
        if (entry.value("success_time", json{}).is_string())
          if (auto at = parse_rfc3339(entry["success_time"].get<std::string>()))
            o.success_ms = to_unix_ms(*at);
      }
    }
    out.push_back(std::move(o));
  }
  return out;
}

} // namespace paycoord::demo
