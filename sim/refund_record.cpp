#include "sim/refund_record.hpp"

#include <algorithm>

namespace paycoord::sim {

using json = nlohmann::json;

namespace {

/// What WeChat writes for a refund back to the payer's WeChat balance.
constexpr std::string_view user_received_account = "支付用户零钱";

json optional_time(const std::optional<timestamp>& t) {
  return t ? json(format_rfc3339(*t)) : json(nullptr);
}

} // namespace

const char* to_string(refund_status status) {
  switch (status) {
    case refund_status::processing: return "PROCESSING";
    case refund_status::success: return "SUCCESS";
    case refund_status::closed: return "CLOSED";
    case refund_status::abnormal: return "ABNORMAL";
  }
  return "PROCESSING";
}

const char* to_string(refund_callback_event event) {
  switch (event) {
    case refund_callback_event::succeeded: return "refund.succeeded";
    case refund_callback_event::closed: return "refund.closed";
    case refund_callback_event::abnormal: return "refund.abnormal";
  }
  return "refund.succeeded";
}

std::optional<refund_callback_event> refund_callback_event_from(std::string_view text) {
  for (auto event : {refund_callback_event::succeeded, refund_callback_event::closed,
                     refund_callback_event::abnormal})
    if (text == to_string(event))
      return event;
  return std::nullopt;
}

bool valid_out_refund_no(std::string_view text) {
  constexpr std::string_view punctuation = "_|*@-";
  return !text.empty() && text.size() <= 64
         && std::all_of(text.begin(), text.end(), [&](char c) {
              return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                     || punctuation.find(c) != std::string_view::npos;
            });
}

refund_view view_at(const refund_record& record, std::chrono::steady_clock::time_point now) {
  if (record.status != refund_status::processing || now < record.due)
    return {record.status, record.success_time};
  auto status = record.outcome;
  return {status, status == refund_status::success ? std::optional{record.due_at}
                                                   : std::nullopt};
}

void settle(refund_record& record, std::chrono::steady_clock::time_point now) {
  auto view = view_at(record, now);
  record.status = view.status;
  record.success_time = view.success_time;
}

bool same_apply(const refund_record& record, const wechatpay::refund_request& request) {
  return record.requested && record.out_trade_no == request.out_trade_no
         && record.refund == request.amount.refund && record.total == request.amount.total
         && record.currency == request.amount.currency && record.reason == request.reason
         && record.notify_url == request.notify_url;
}

wechatpay::refund_object to_refund_object(const refund_record& record, const refund_view& view) {
  wechatpay::refund_object object;
  object.refund_id = record.refund_id;
  object.out_refund_no = record.out_refund_no;
  object.transaction_id = record.transaction_id;
  object.out_trade_no = record.out_trade_no;
  object.channel = "ORIGINAL";
  object.user_received_account = user_received_account;
  object.success_time = view.success_time;
  object.create_time = record.created_at;
  object.status = to_string(view.status);
  // No coupons in the sandbox: the payer paid and gets back everything.
  object.amount = {record.total, record.refund, record.total, record.refund, record.currency};
  return object;
}

wechatpay::refund_event to_refund_event(const refund_record& record, const refund_view& view,
                                        std::string_view mchid) {
  wechatpay::refund_event event;
  event.mchid = mchid;
  event.out_trade_no = record.out_trade_no;
  event.transaction_id = record.transaction_id;
  event.out_refund_no = record.out_refund_no;
  event.refund_id = record.refund_id;
  event.refund_status = to_string(view.status);
  event.success_time = view.success_time;
  event.user_received_account = user_received_account;
  event.amount = {record.total, record.refund, record.total, record.refund};
  return event;
}

const char* notification_event_type(refund_status status) {
  switch (status) {
    case refund_status::success: return "REFUND.SUCCESS";
    case refund_status::closed: return "REFUND.CLOSED";
    case refund_status::abnormal: return "REFUND.ABNORMAL";
    case refund_status::processing: break;
  }
  return "";
}

const char* notification_summary(refund_status status) {
  switch (status) {
    case refund_status::success: return "退款成功";
    case refund_status::closed: return "退款关闭";
    case refund_status::abnormal: return "退款异常";
    case refund_status::processing: break;
  }
  return "";
}

json report_json(const refund_record& record, const refund_view& view) {
  auto delivered = [&](refund_callback_event event) {
    return record.deliveries[static_cast<std::size_t>(event)];
  };
  return {
    {"out_refund_no", record.out_refund_no},
    {"refund_id", record.refund_id},
    {"requested", record.requested},
    {"status", to_string(view.status)},
    {"amount", record.refund},
    {"total", record.total},
    {"reason", record.reason},
    {"created_at", format_rfc3339(record.created_at)},
    {"due_at", format_rfc3339(record.due_at)},
    {"success_time", optional_time(view.success_time)},
    {"resolved_at", optional_time(record.resolved_at)},
    {"queries", record.queries},
    {"notify",
     {{"notification_ids", record.notification_ids},
      {"sent", record.notifications_sent},
      {"dropped", record.notifications_dropped},
      {"attempts", record.notify_attempts},
      {"answered_2xx", record.notify_answered_2xx}}},
    {"business",
     {{"succeeded", delivered(refund_callback_event::succeeded)},
      {"closed", delivered(refund_callback_event::closed)},
      {"abnormal", delivered(refund_callback_event::abnormal)},
      {"duplicates", record.duplicate_deliveries},
      {"wrong", record.wrong_deliveries}}},
  };
}

} // namespace paycoord::sim
