// paysim's rows merged with what the customers saw: an order's counts cover
// its refunds' notifications and callbacks too, so the payment's are what is
// left; a refund request finds its entry in its order's row.

#include "demo/sim_report.hpp"

#include <gtest/gtest.h>

using namespace paycoord;
using namespace paycoord::demo;
using json = nlohmann::json;

namespace {

scenario one_customer() {
  scenario s;
  customer c;
  c.out_trade_no = "PD7-000001";
  c.amount = 1000;
  c.pays = true;
  s.customers.push_back(c);
  return s;
}

/// The order's row: paid, its payment notified and delivered once; one
/// refund whose notification was lost and whose refund.succeeded was
/// delivered twice (a repeat after a lost ack).
sim_report report_with_a_refund() {
  sim_report sim;
  sim.rows["PD7-000001"] = json::parse(R"({
    "out_trade_no": "PD7-000001", "trade_state": "REFUND", "amount": 1000, "paid_amount": 1000,
    "queries": 3,
    "notify": {"dropped": 1},
    "business": {"requests": 3, "deliveries": 1, "first_delivery_ms": 1000},
    "refunds": [{"out_refund_no": "PD7-000001-R1", "requested": true, "status": "SUCCESS",
                 "amount": 400, "total": 1000, "success_time": "2027-01-15T08:00:00+08:00",
                 "notify": {"dropped": 1},
                 "business": {"succeeded": 2, "closed": 0, "abnormal": 0, "duplicates": 1,
                              "wrong": 0}}]})");
  return sim;
}

} // namespace

TEST(merge_outcomes, the_payment_keeps_only_its_own_notifications_and_callbacks) {
  std::vector<order_trace> traces(1);
  traces[0].paid_ms = 900;
  auto o = merge_outcomes(one_customer(), traces, report_with_a_refund()).at(0);
  EXPECT_FALSE(o.notification_lost) << "the refund's notification was lost, not the payment's";
  EXPECT_EQ(o.forward_requests, 1) << "the refund's two callbacks are not payment retries";
  EXPECT_EQ(o.deliveries, 1);
  EXPECT_EQ(o.wechat_state, "REFUND");
}

TEST(merge_refund_outcomes, a_request_finds_its_refund_in_its_order_row) {
  refund_trace asked;
  asked.customer = 0;
  asked.out_trade_no = "PD7-000001";
  asked.out_refund_no = "PD7-000001-R1";
  asked.amount = 400;
  asked.status = 201;
  asked.state = "SUCCESS";
  refund_trace over = asked;
  over.kind = refund_request_kind::over_refund;
  over.out_refund_no = "PD7-000001-RX";
  over.amount = 601;
  over.status = 409;
  over.code = "REFUND_EXCEEDS_PAID";
  over.state.clear();
  auto out = merge_refund_outcomes(one_customer(), {asked, over}, report_with_a_refund());
  ASSERT_EQ(out.size(), 2u);
  const auto& r = out[0];
  EXPECT_TRUE(r.at_wechat);
  EXPECT_EQ(r.wechat_status, "SUCCESS");
  EXPECT_EQ(r.order_total, 1000);
  EXPECT_EQ(r.order_paid, 1000);
  EXPECT_EQ(r.delivered_succeeded, 2);
  EXPECT_NE(r.success_ms, 0);
  EXPECT_FALSE(out[1].at_wechat) << "WeChat never saw the over-refund";
  EXPECT_EQ(out[1].api_code, "REFUND_EXCEEDS_PAID");
}
