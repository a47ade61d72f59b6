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

json sample_report(bool delivered) {
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
  auto j = to_json(reconcile({o}, f, {}, 0ms));
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
