// libFuzzer over every JSON model parser of net/wechatpay/models.hpp.
//
// Input layout: none; the whole input is the JSON text, and every parser
// reads it (the formats overlap, so one seed of each kind feeds all).
//
// Beyond "never throws, never crashes", for each model that parses: its
// to_json parses back, to an equal value (times compared to the second:
// to_json writes RFC 3339 seconds), and serialises to the same text.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "net/wechatpay/models.hpp"

using namespace paycoord;
using namespace paycoord::wechatpay;

namespace {

[[noreturn]] void die(const char* model, const char* what, const std::string& text) {
  std::fprintf(stderr, "models_fuzz: %s: %s\n  serialised: %.400s\n", model, what, text.c_str());
  std::abort();
}

bool same_second(const std::optional<timestamp>& a, const std::optional<timestamp>& b) {
  if (!a || !b)
    return a.has_value() == b.has_value();
  using std::chrono::floor;
  using std::chrono::seconds;
  return floor<seconds>(*a) == floor<seconds>(*b);
}

bool equal(const notification& a, const notification& b) {
  return a.id == b.id && a.create_time == b.create_time && a.resource_type == b.resource_type
         && a.event_type == b.event_type && a.summary == b.summary
         && a.resource.original_type == b.resource.original_type
         && a.resource.algorithm == b.resource.algorithm
         && a.resource.ciphertext == b.resource.ciphertext
         && a.resource.associated_data == b.resource.associated_data
         && a.resource.nonce == b.resource.nonce;
}

bool equal(const transaction& a, const transaction& b) {
  bool amounts = a.amount.has_value() == b.amount.has_value();
  if (amounts && a.amount)
    amounts = a.amount->total == b.amount->total && a.amount->payer_total == b.amount->payer_total
              && a.amount->currency == b.amount->currency
              && a.amount->payer_currency == b.amount->payer_currency;
  return amounts && a.mchid == b.mchid && a.appid == b.appid && a.out_trade_no == b.out_trade_no
         && a.transaction_id == b.transaction_id && a.trade_type == b.trade_type
         && a.state == b.state && a.trade_state_desc == b.trade_state_desc
         && a.bank_type == b.bank_type && a.attach == b.attach
         && same_second(a.success_time, b.success_time) && a.payer_openid == b.payer_openid;
}

bool equal(const refund_event& a, const refund_event& b) {
  return a.mchid == b.mchid && a.out_trade_no == b.out_trade_no
         && a.transaction_id == b.transaction_id && a.out_refund_no == b.out_refund_no
         && a.refund_id == b.refund_id && a.refund_status == b.refund_status
         && same_second(a.success_time, b.success_time)
         && a.user_received_account == b.user_received_account
         && a.amount.total == b.amount.total && a.amount.refund == b.amount.refund
         && a.amount.payer_total == b.amount.payer_total
         && a.amount.payer_refund == b.amount.payer_refund;
}

bool equal(const api_error& a, const api_error& b) {
  return a.code == b.code && a.message == b.message;
}

bool equal(const prepay_request& a, const prepay_request& b) {
  return a.appid == b.appid && a.mchid == b.mchid && a.description == b.description
         && a.out_trade_no == b.out_trade_no && same_second(a.time_expire, b.time_expire)
         && a.attach == b.attach && a.notify_url == b.notify_url
         && a.amount.total == b.amount.total && a.amount.currency == b.amount.currency
         && a.payer_openid == b.payer_openid;
}

bool equal(const prepay_response& a, const prepay_response& b) {
  return a.prepay_id == b.prepay_id;
}

bool equal(const close_request& a, const close_request& b) {
  return a.mchid == b.mchid;
}

// Parses `text` with `parse`; when it succeeds, checks the round trip.
template <class Parse>
void check_model(const char* model, Parse parse, std::string_view text) {
  auto first = parse(text);
  if (!first) {
    if (first.error().detail.empty() && first.error().code != wechatpay_error::malformed_json)
      die(model, "a field error without the field's path", std::string{text});
    return;
  }
  std::string serialised = to_json(*first);
  auto second = parse(serialised);
  if (!second)
    die(model, ("its to_json does not parse back: " + second.error().message()).c_str(),
        serialised);
  if (!equal(*first, *second))
    die(model, "parses back to a different value", serialised);
  if (to_json(*second) != serialised)
    die(model, "serialises differently the second time", serialised);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  check_model("notification", parse_notification, text);
  check_model("transaction", parse_transaction, text);
  check_model("refund_event", parse_refund_event, text);
  check_model("api_error", parse_api_error, text);
  check_model("prepay_request", parse_prepay_request, text);
  check_model("prepay_response", parse_prepay_response, text);
  check_model("close_request", parse_close_request, text);
  if (auto n = parse_notification(text)) {
    (void) classify_event(n->event_type);
  }
  if (auto t = parse_transaction(text)) {
    if (t->state != trade_state::unknown
        && trade_state_from_string(to_string(t->state)) != t->state)
      die("transaction", "trade_state does not survive its own spelling", to_json(*t));
  }
  return 0;
}
