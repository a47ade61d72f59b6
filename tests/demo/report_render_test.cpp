// The text and HTML renderings show the report's numbers and verdicts.

#include "demo/report_html.hpp"
#include "demo/report_tables.hpp"

#include <gtest/gtest.h>

#include "demo/reconciliation.hpp"

using namespace paycoord;
using namespace paycoord::demo;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

/// A refund of the sample's order; `delivered`: its refund.succeeded reached
/// the business server.
refund_outcome sample_refund(bool delivered) {
  refund_outcome r;
  r.out_trade_no = "PD7-<000001>";
  r.out_refund_no = "PD7-000001-R1";
  r.amount = 40;
  r.order_total = r.order_paid = 100;
  r.api_status = 201;
  r.paycoord_state = delivered ? "SUCCESS" : "PROCESSING";
  r.at_wechat = true;
  r.wechat_status = "SUCCESS";
  r.delivered_succeeded = delivered;
  return r;
}

json sample_report(bool delivered, bool refund_delivered = true) {
  order_outcome o;
  o.out_trade_no = "PD7-<000001>";
  o.created_ms = 1'000;
  o.paid_ms = 2'000;
  o.wechat_state = "SUCCESS";
  o.paycoord_state = delivered ? "CONFIRMED" : "PENDING";
  o.paid_via = "notify";
  o.forward_requests = delivered;
  o.deliveries = delivered;
  o.first_delivery_ms = delivered ? 2'040 : 0;
  run_facts f;
  f.start_ms = 0;
  f.end_ms = 10'000;
  sim_totals sim;
  sim.refunds.requested = 1;
  sim.refunds.applies = 2;
  sim.refunds.notifications_dropped = 1;
  auto j = to_json(reconcile({o}, f, sim, 0ms, {sample_refund(refund_delivered)}));
  j["run"]["orders"] = 1;
  j["run"]["seed"] = 7;
  j["queries"]["busiest_real_minute"] = 3;
  return j;
}

} // namespace

TEST(report_text, shows_the_counts_and_verdicts) {
  auto text = render_text(sample_report(true), false);
  EXPECT_NE(text.find("paid at WeChat"), std::string::npos);
  EXPECT_NE(text.find("unpaid orders delivered"), std::string::npos);
  EXPECT_NE(text.find("ok"), std::string::npos);
  EXPECT_EQ(text.find("FAIL"), std::string::npos);
  EXPECT_EQ(text.find("\x1b["), std::string::npos) << "no colour asked for";
  EXPECT_NE(text.find("40 ms"), std::string::npos) << text;
}

TEST(report_text, marks_a_failed_invariant) {
  auto text = render_text(sample_report(false), false);
  EXPECT_NE(text.find("FAIL"), std::string::npos);
  EXPECT_NE(text.find("never resolved"), std::string::npos);
}

TEST(report_html, is_self_contained_with_a_point_per_paid_order) {
  auto html = render_html(sample_report(true));
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"))
    << "no external resources";
  EXPECT_NE(html.find("<circle"), std::string::npos);
  EXPECT_NE(html.find("PD7-&lt;000001&gt;"), std::string::npos) << "ids are escaped";
}

TEST(report_text, shows_the_refunds_with_their_invariants) {
  auto text = render_text(sample_report(true), false);
  EXPECT_NE(text.find("Refunds: what WeChat refunded"), std::string::npos) << text;
  EXPECT_NE(text.find("delivered as succeeded to the business server"), std::string::npos);
  EXPECT_NE(text.find("lost: succeeded at WeChat, never delivered"), std::string::npos);
  EXPECT_NE(text.find("orders refunded more than was paid"), std::string::npos);
  EXPECT_NE(text.find("0.40 CNY"), std::string::npos);
  EXPECT_NE(text.find("refund notifications lost"), std::string::npos);
  EXPECT_EQ(text.find("FAIL"), std::string::npos);
}

TEST(report_text, marks_a_lost_refund) {
  auto text = render_text(sample_report(true, false), false);
  auto line_of = [&](const std::string& label) {
    auto at = text.find(label);
    EXPECT_NE(at, std::string::npos) << label;
    return text.substr(at, text.find('\n', at) - at);
  };
  EXPECT_NE(line_of("lost: succeeded at WeChat").find("FAIL"), std::string::npos) << text;
  EXPECT_NE(line_of("not settled").find("FAIL"), std::string::npos) << text;
  EXPECT_NE(line_of("orders refunded more than was paid").find("ok"), std::string::npos);
}

TEST(report_html, has_the_refunds_section) {
  auto ok = render_html(sample_report(true));
  EXPECT_NE(ok.find("<h2>Refunds: what WeChat refunded"), std::string::npos);
  EXPECT_NE(ok.find("every refund was settled"), std::string::npos);
  auto lost = render_html(sample_report(true, false));
  EXPECT_NE(lost.find("An invariant failed"), std::string::npos);
  EXPECT_NE(lost.find("<td class=\"l fail\">FAIL</td>"), std::string::npos);
}
