#include "storage/refund_record.hpp"

#include <array>

#include <nlohmann/json.hpp>

#include "common/text.hpp"
#include "storage/record_json.hpp"

namespace paycoord {

using namespace record_json;

namespace {

constexpr std::array<const char*, 5> state_names = {"REQUESTED", "PROCESSING", "SUCCESS",
                                                    "CLOSED", "ABNORMAL"};

constexpr std::array<const char*, 4> action_names = {"none", "apply", "query", "deliver"};

} // namespace

const char* to_string(refund_state x) {
  return state_names.at(static_cast<size_t>(x));
}

std::optional<refund_state> parse_refund_state(std::string_view text) {
  return parse_enum<refund_state>(state_names, text);
}

const char* delivery_event(refund_state x) {
  switch (x) {
    case refund_state::success:
      return "refund.succeeded";
    case refund_state::closed:
      return "refund.closed";
    case refund_state::abnormal:
      return "refund.abnormal";
    case refund_state::requested:
    case refund_state::processing:
      break;
  }
  return nullptr;
}

const char* to_string(refund_action x) {
  return action_names.at(static_cast<size_t>(x));
}

std::optional<refund_action> parse_refund_action(std::string_view text) {
  return parse_enum<refund_action>(action_names, text);
}

bool operator==(const refund_record& x, const refund_record& y) {
  return encode(x) == encode(y);
}

std::string encode(const refund_record& x) {
  nlohmann::json j{
    {"v", refund_record::current_version},
    {"out_refund_no", x.out_refund_no},
    {"out_trade_no", x.out_trade_no},
    {"state", to_string(x.state)},
    {"amount_refund", x.amount_refund},
    {"amount_total", x.amount_total},
    {"currency", x.currency},
    {"reason", x.reason},
    {"refund_id", x.refund_id},
    {"succeeded_at_ms", x.succeeded_at_ms},
    {"accepted_at_ms", x.accepted_at_ms},
    {"last_error_code", x.last_error_code},
    {"last_error_message", x.last_error_message},
    {"created_at_ms", x.created_at_ms},
    {"updated_at_ms", x.updated_at_ms},
    {"action", to_string(x.action)},
    {"next_due_ms", x.next_due_ms},
    {"apply_attempts", x.apply_attempts},
    {"verify_step", x.verify_step},
    {"queries", x.queries},
    {"failures", x.failures},
    {"undelivered", x.undelivered},
    {"delivery_attempts", x.delivery_attempts},
    {"first_delivery_failure_ms", x.first_delivery_failure_ms},
  };
  if (x.resolved_at_ms != 0) {
    j["resolved_at_ms"] = x.resolved_at_ms;
    j["resolved_note"] = x.resolved_note;
  }
  // Peer text (a reason, WeChat's error message) may be any bytes.
  return json_text(j);
}

expected<refund_record, store_error> decode_refund(std::string_view key, std::string_view bytes) {
  auto parsed = parse_object(key, bytes);
  if (!parsed)
    return make_unexpected(parsed.error());
  const auto& j = *parsed;
  if (auto v = check_version(j, key, refund_record::current_version); !v)
    return make_unexpected(v.error());
  refund_record x;
  field_reader r{j, key};
  r.read("out_refund_no", x.out_refund_no);
  r.read("out_trade_no", x.out_trade_no);
  r.read_enum("state", x.state, parse_refund_state);
  r.read("amount_refund", x.amount_refund);
  r.read("amount_total", x.amount_total);
  r.read("currency", x.currency);
  r.read("reason", x.reason);
  r.read("refund_id", x.refund_id);
  r.read("succeeded_at_ms", x.succeeded_at_ms);
  r.read("accepted_at_ms", x.accepted_at_ms);
  r.read("last_error_code", x.last_error_code);
  r.read("last_error_message", x.last_error_message);
  r.read("created_at_ms", x.created_at_ms);
  r.read("updated_at_ms", x.updated_at_ms);
  r.read_enum("action", x.action, parse_refund_action);
  r.read("next_due_ms", x.next_due_ms);
  r.read("apply_attempts", x.apply_attempts);
  r.read("verify_step", x.verify_step);
  r.read("queries", x.queries);
  r.read("failures", x.failures);
  r.read("undelivered", x.undelivered);
  r.read("delivery_attempts", x.delivery_attempts);
  r.read("first_delivery_failure_ms", x.first_delivery_failure_ms);
  r.read("resolved_at_ms", x.resolved_at_ms);
  r.read("resolved_note", x.resolved_note);
  if (r.ok() && (x.out_refund_no.empty() || x.out_trade_no.empty()))
    r.fail("record has no out_refund_no or out_trade_no");
  if (!r.ok())
    return make_unexpected(r.error());
  return x;
}

const refund_record* find_refund(const refund_list& refunds, std::string_view out_refund_no) {
  for (auto& r : refunds)
    if (r.out_refund_no == out_refund_no)
      return &r;
  return nullptr;
}

} // namespace paycoord
