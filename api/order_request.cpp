#include "api/order_request.hpp"

#include <nlohmann/json.hpp>

#include "common/json_input.hpp"
#include "common/text.hpp"

namespace paycoord::api {

namespace {

using json = nlohmann::json;

constexpr int64_t max_total_fen = 100'000'000'000; // 1e9 yuan: absurd above

field_error bad(std::string field, std::string message) {
  return field_error{std::move(field), std::move(message)};
}


} // namespace

bool valid_out_trade_no(std::string_view id) {
  if (id.size() < 6 || id.size() > 32)
    return false;
  for (char c : id) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9') || c == '_' || c == '|' || c == '*'
              || c == '-';
    if (!ok)
      return false;
  }
  return true;
}

expected<create_order, field_error> parse_create_order(std::string_view body,
                                                       timestamp now) {
  auto parsed = parse_json_input(body);
  if (!parsed)
    return make_unexpected(bad("", "body is not valid JSON: " + parsed.error().message));
  const json& j = *parsed;
  if (!j.is_object())
    return make_unexpected(bad("", "body is not a JSON object"));
  create_order req;
  // out_trade_no
  auto id = j.find("out_trade_no");
  if (id == j.end() || !id->is_string())
    return make_unexpected(bad("out_trade_no", "required, a string"));
  req.out_trade_no = id->get<std::string>();
  if (!valid_out_trade_no(req.out_trade_no))
    return make_unexpected(
      bad("out_trade_no", "must be 6-32 characters of A-Z a-z 0-9 _ | * -"));
  // description
  auto desc = j.find("description");
  if (desc == j.end() || !desc->is_string())
    return make_unexpected(bad("description", "required, a string"));
  req.description = desc->get<std::string>();
  auto len = utf8_length(req.description);
  if (len < 1 || len > 127)
    return make_unexpected(bad("description", "must be 1-127 characters"));
  // amount
  auto amount = j.find("amount");
  if (amount == j.end() || !amount->is_object())
    return make_unexpected(bad("amount", "required, an object"));
  auto total = amount->find("total");
  if (total == amount->end() || !total->is_number_integer())
    return make_unexpected(
      bad("amount.total", "required, an integer number of fen"));
  if (total->is_number_unsigned()
      && total->get<uint64_t>() > static_cast<uint64_t>(max_total_fen))
    return make_unexpected(bad("amount.total", "is too large"));
  req.amount_total = total->get<int64_t>();
  if (req.amount_total <= 0)
    return make_unexpected(bad("amount.total", "must be greater than 0"));
  if (req.amount_total > max_total_fen)
    return make_unexpected(bad("amount.total", "is too large"));
  auto currency = amount->find("currency");
  if (currency != amount->end()) {
    if (!currency->is_string() || currency->get<std::string>() != "CNY")
      return make_unexpected(bad("amount.currency", "must be \"CNY\""));
  }
  req.currency = "CNY";
  // payer
  auto payer = j.find("payer");
  if (payer == j.end() || !payer->is_object())
    return make_unexpected(bad("payer", "required, an object"));
  auto openid = payer->find("openid");
  if (openid == payer->end() || !openid->is_string()
      || openid->get<std::string>().empty())
    return make_unexpected(bad("payer.openid", "required, a non-empty string"));
  req.payer_openid = openid->get<std::string>();
  if (req.payer_openid.size() > 128)
    return make_unexpected(bad("payer.openid", "must be at most 128 bytes"));
  // attach (WeChat allows 128 bytes)
  if (auto a = j.find("attach"); a != j.end() && !a->is_null()) {
    if (!a->is_string())
      return make_unexpected(bad("attach", "must be a string"));
    req.attach = a->get<std::string>();
    if (req.attach.size() > 128)
      return make_unexpected(bad("attach", "must be at most 128 bytes"));
  }
  // expire_at
  if (auto e = j.find("expire_at"); e != j.end() && !e->is_null()) {
    if (!e->is_string())
      return make_unexpected(bad("expire_at", "must be an RFC 3339 string"));
    auto t = parse_rfc3339(e->get<std::string>());
    if (!t)
      return make_unexpected(
        bad("expire_at", "must be RFC 3339 with offset, e.g. "
                         "2026-11-26T10:00:00+08:00"));
    auto ahead = *t - now;
    if (ahead < std::chrono::minutes{1} || ahead > std::chrono::hours{24 * 7})
      return make_unexpected(
        bad("expire_at", "must be at least 1 minute and at most 7 days ahead"));
    // Second precision: WeChat's time_expire has no fraction, and the
    // idempotent re-create compares by value.
    req.requested_expire_at_ms = to_unix_ms(*t) / 1000 * 1000;
  }
  return req;
}

std::string order_view_json(const order_record& x, const std::vector<refund_record>& refunds) {
  json j{
    {"out_trade_no", x.out_trade_no},
    {"state", to_string(x.state)},
    {"amount", {{"total", x.amount_total}, {"currency", x.currency}}},
    {"transaction_id",
     x.transaction_id.empty() ? json(nullptr) : json(x.transaction_id)},
    {"paid_at", time_or_null(x.paid_at_ms)},
    {"confirmed_at", time_or_null(x.confirmed_at_ms)},
    {"created_at", time_or_null(x.created_at_ms)},
    {"updated_at", time_or_null(x.updated_at_ms)},
    // Extensions (optional fields beyond CONTRACTS.md §3): how the payment
    // became known, and whether it arrived after paycoord closed the order.
    {"paid_via", x.via == paid_via::none ? json(nullptr) : json(to_string(x.via))},
    {"late", x.late},
  };
  int64_t refunded = 0;
  auto list = json::array();
  for (auto& r : refunds) {
    if (r.state == refund_state::success)
      refunded += r.amount_refund;
    list.push_back(json{{"out_refund_no", r.out_refund_no}, {"state", to_string(r.state)}});
  }
  j["refunded_total"] = refunded;
  j["refunds"] = std::move(list);
  return json_text(j);
}

} // namespace paycoord::api
