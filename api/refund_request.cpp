#include "api/refund_request.hpp"

#include <nlohmann/json.hpp>

#include "common/json_input.hpp"
#include "common/text.hpp"

namespace paycoord::api {

namespace {

using json = nlohmann::json;

constexpr int64_t max_refund_fen = 100'000'000'000; // as the order's total

} // namespace

bool valid_out_refund_no(std::string_view id) {
  if (id.size() < 6 || id.size() > 64)
    return false;
  for (char c : id) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
              || c == '_' || c == '|' || c == '*' || c == '@' || c == '-';
    if (!ok)
      return false;
  }
  return true;
}

expected<create_refund, field_error> parse_create_refund(std::string_view body,
                                                         std::string out_trade_no) {
  auto parsed = parse_json_input(body);
  if (!parsed)
    return make_unexpected(field_error{"", "body is not valid JSON: " + parsed.error().message});
  const json& j = *parsed;
  if (!j.is_object())
    return make_unexpected(field_error{"", "body is not a JSON object"});
  create_refund req;
  req.out_trade_no = std::move(out_trade_no);
  auto no = j.find("out_refund_no");
  if (no == j.end() || !no->is_string())
    return make_unexpected(field_error{"out_refund_no", "required, a string"});
  req.out_refund_no = no->get<std::string>();
  if (!valid_out_refund_no(req.out_refund_no))
    return make_unexpected(
      field_error{"out_refund_no", "must be 6-64 characters of A-Z a-z 0-9 _ | * @ -"});
  auto amount = j.find("amount");
  if (amount == j.end() || !amount->is_object())
    return make_unexpected(field_error{"amount", "required, an object"});
  auto refund = amount->find("refund");
  if (refund == amount->end() || !refund->is_number_integer())
    return make_unexpected(field_error{"amount.refund", "required, an integer number of fen"});
  if (refund->is_number_unsigned()
      && refund->get<uint64_t>() > static_cast<uint64_t>(max_refund_fen))
    return make_unexpected(field_error{"amount.refund", "is too large"});
  req.amount_refund = refund->get<int64_t>();
  if (req.amount_refund <= 0)
    return make_unexpected(field_error{"amount.refund", "must be greater than 0"});
  if (auto currency = amount->find("currency"); currency != amount->end()) {
    if (!currency->is_string() || currency->get<std::string>() != "CNY")
      return make_unexpected(field_error{"amount.currency", "must be \"CNY\""});
  }
  req.currency = "CNY";
  if (auto reason = j.find("reason"); reason != j.end() && !reason->is_null()) {
    if (!reason->is_string())
      return make_unexpected(field_error{"reason", "must be a string"});
    req.reason = reason->get<std::string>();
    if (utf8_length(req.reason) > 80)
      return make_unexpected(field_error{"reason", "must be at most 80 characters"});
  }
  return req;
}

json refund_view(const refund_record& x) {
  json last_error = nullptr;
  if (!x.last_error_code.empty())
    last_error = json{{"code", x.last_error_code}, {"message", x.last_error_message}};
  // Stored texts came from peers (WeChat's messages): json_text never throws.
  return json{
    {"out_refund_no", x.out_refund_no},
    {"out_trade_no", x.out_trade_no},
    {"refund_id", x.refund_id.empty() ? json(nullptr) : json(x.refund_id)},
    {"state", to_string(x.state)},
    {"amount", {{"refund", x.amount_refund}, {"total", x.amount_total}, {"currency", x.currency}}},
    {"reason", x.reason},
    {"created_at", time_or_null(x.created_at_ms)},
    {"succeeded_at", time_or_null(x.succeeded_at_ms)},
    {"updated_at", time_or_null(x.updated_at_ms)},
    {"last_error", std::move(last_error)},
  };
}

} // namespace paycoord::api
