#include "storage/order_record.hpp"

#include <algorithm>
#include <array>

#include <nlohmann/json.hpp>

#include "common/text.hpp"
#include "storage/record_json.hpp"

namespace paycoord {

using namespace record_json;

namespace {

constexpr std::array<const char*, 7> state_names = {
  "PENDING", "PAID", "CONFIRMED", "CLOSED", "ANOMALY", "ORPHAN", "FAULTED"};

constexpr std::array<const char*, 6> action_names = {
  "none", "verify", "expire_query", "close", "close_confirm", "forward"};

constexpr std::array<const char*, 3> via_names = {"none", "notify", "query"};

} // namespace

const char* to_string(store_errc x) {
  switch (x) {
    case store_errc::io:
      return "io";
    case store_errc::corrupt:
      return "corrupt";
    case store_errc::unknown_version:
      return "unknown_version";
    case store_errc::not_found:
      return "not_found";
    case store_errc::closed:
      return "closed";
  }
  return "unknown";
}

std::string store_error::to_string() const {
  std::string result = paycoord::to_string(code);
  if (!key.empty()) {
    result += " at ";
    result += key;
  }
  if (!message.empty()) {
    result += ": ";
    result += message;
  }
  return result;
}

const char* to_string(order_state x) {
  return state_names.at(static_cast<size_t>(x));
}

std::optional<order_state> parse_order_state(std::string_view text) {
  return parse_enum<order_state>(state_names, text);
}

bool is_terminal(order_state x) {
  return x == order_state::confirmed || x == order_state::closed;
}

bool is_parked(order_state x) {
  return x == order_state::anomaly || x == order_state::orphan
         || x == order_state::faulted;
}

const char* to_string(next_action x) {
  return action_names.at(static_cast<size_t>(x));
}

std::optional<next_action> parse_next_action(std::string_view text) {
  return parse_enum<next_action>(action_names, text);
}

const char* to_string(paid_via x) {
  return via_names.at(static_cast<size_t>(x));
}

bool operator==(const order_record& x, const order_record& y) {
  return encode(x) == encode(y);
}

bool counts_as_stuck(const order_record& x) {
  return x.stuck && x.state == order_state::paid;
}

bool needs_a_person(const order_record& x) {
  return is_parked(x.state) && x.resolved_at_ms == 0;
}

bool operator==(const order_facts& x, const order_facts& y) {
  return x.state == y.state && x.stuck == y.stuck && x.unresolved == y.unresolved
         && x.timer_due_ms == y.timer_due_ms;
}

order_facts facts_of(const order_record& x) {
  order_facts f;
  f.state = x.state;
  f.stuck = counts_as_stuck(x);
  f.unresolved = needs_a_person(x);
  if (is_active(x.state) && x.action != next_action::none)
    f.timer_due_ms = std::max<int64_t>(x.next_due_ms, 0);
  if (x.refund_due_ms > 0 && (!f.has_timer() || x.refund_due_ms < f.timer_due_ms))
    f.timer_due_ms = x.refund_due_ms;
  return f;
}

bool operator==(const order_event& x, const order_event& y) {
  return x.seq == y.seq && x.at_ms == y.at_ms && x.kind == y.kind
         && x.detail == y.detail;
}

// -- records -----------------------------------------------------------------

std::string encode(const order_record& x) {
  // JSON: readable in a LevelDB dump during an incident, and versioned so a
  // later compact form can coexist.
  nlohmann::json j{
    {"v", order_record::current_version},
    {"out_trade_no", x.out_trade_no},
    {"state", to_string(x.state)},
    {"description", x.description},
    {"amount_total", x.amount_total},
    {"currency", x.currency},
    {"payer_openid", x.payer_openid},
    {"attach", x.attach},
    {"requested_expire_at_ms", x.requested_expire_at_ms},
    {"expire_at_ms", x.expire_at_ms},
    {"prepay_id", x.prepay_id},
    {"transaction_id", x.transaction_id},
    {"payer_total", x.payer_total},
    {"paid_at_ms", x.paid_at_ms},
    {"via", to_string(x.via)},
    {"late", x.late},
    {"paid_recorded_at_ms", x.paid_recorded_at_ms},
    {"created_at_ms", x.created_at_ms},
    {"updated_at_ms", x.updated_at_ms},
    {"confirmed_at_ms", x.confirmed_at_ms},
    {"action", to_string(x.action)},
    {"next_due_ms", x.next_due_ms},
    {"verify_step", x.verify_step},
    {"last_query_at_ms", x.last_query_at_ms},
    {"closed_at_wechat", x.closed_at_wechat},
    {"close_attempts", x.close_attempts},
    {"queries", x.queries},
    {"query_failures", x.query_failures},
    {"forward_attempts", x.forward_attempts},
    {"first_forward_failure_ms", x.first_forward_failure_ms},
    {"stuck", x.stuck},
    {"parked_reason", x.parked_reason},
    {"event_seq", x.event_seq},
  };
  // Written only when set, so the common record stays small.
  if (x.faulted_from != order_state::faulted)
    j["faulted_from"] = to_string(x.faulted_from);
  if (!x.held.transaction_id.empty())
    j["held"] = {{"transaction_id", x.held.transaction_id},
                 {"total", x.held.total},
                 {"payer_total", x.held.payer_total},
                 {"currency", x.held.currency},
                 {"paid_at_ms", x.held.paid_at_ms},
                 {"via", to_string(x.held.via)}};
  if (x.resolved_at_ms != 0) {
    j["resolved_at_ms"] = x.resolved_at_ms;
    j["resolved_note"] = x.resolved_note;
  }
  if (x.refund_due_ms != 0)
    j["refund_due_ms"] = x.refund_due_ms;
  // Peer text (a description, an error) may be any bytes: never throw.
  return json_text(j);
}


expected<order_record, store_error> decode_order(std::string_view key,
                                                 std::string_view bytes) {
  auto parsed = parse_object(key, bytes);
  if (!parsed)
    return make_unexpected(parsed.error());
  const auto& j = *parsed;
  if (auto v = check_version(j, key, order_record::current_version); !v)
    return make_unexpected(v.error());
  order_record x;
  field_reader r{j, key};
  r.read("out_trade_no", x.out_trade_no);
  r.read_enum("state", x.state, parse_order_state);
  r.read("description", x.description);
  r.read("amount_total", x.amount_total);
  r.read("currency", x.currency);
  r.read("payer_openid", x.payer_openid);
  r.read("attach", x.attach);
  r.read("requested_expire_at_ms", x.requested_expire_at_ms);
  r.read("expire_at_ms", x.expire_at_ms);
  r.read("prepay_id", x.prepay_id);
  r.read("transaction_id", x.transaction_id);
  r.read("payer_total", x.payer_total);
  r.read("paid_at_ms", x.paid_at_ms);
  r.read_enum("via", x.via, [](std::string_view s) {
    return parse_enum<paid_via>(via_names, s);
  });
  r.read("late", x.late);
  r.read("paid_recorded_at_ms", x.paid_recorded_at_ms);
  r.read("created_at_ms", x.created_at_ms);
  r.read("updated_at_ms", x.updated_at_ms);
  r.read("confirmed_at_ms", x.confirmed_at_ms);
  r.read_enum("action", x.action, parse_next_action);
  r.read("next_due_ms", x.next_due_ms);
  r.read("verify_step", x.verify_step);
  r.read("last_query_at_ms", x.last_query_at_ms);
  r.read("closed_at_wechat", x.closed_at_wechat);
  r.read("close_attempts", x.close_attempts);
  r.read("queries", x.queries);
  r.read("query_failures", x.query_failures);
  r.read("forward_attempts", x.forward_attempts);
  r.read("first_forward_failure_ms", x.first_forward_failure_ms);
  r.read("stuck", x.stuck);
  r.read("parked_reason", x.parked_reason);
  r.read("event_seq", x.event_seq);
  r.read_enum("faulted_from", x.faulted_from, parse_order_state);
  if (auto h = j.find("held"); r.ok() && h != j.end()) {
    if (!h->is_object()) {
      r.fail("field 'held' is not an object");
    } else {
      field_reader hr{*h, key};
      hr.read("transaction_id", x.held.transaction_id);
      hr.read("total", x.held.total);
      hr.read("payer_total", x.held.payer_total);
      hr.read("currency", x.held.currency);
      hr.read("paid_at_ms", x.held.paid_at_ms);
      hr.read_enum("via", x.held.via, [](std::string_view s) {
        return parse_enum<paid_via>(via_names, s);
      });
      if (!hr.ok())
        r.fail("held: " + hr.error().message);
    }
  }
  r.read("resolved_at_ms", x.resolved_at_ms);
  r.read("resolved_note", x.resolved_note);
  r.read("refund_due_ms", x.refund_due_ms);
  if (r.ok() && x.out_trade_no.empty())
    r.fail("record has no out_trade_no");
  if (!r.ok())
    return make_unexpected(r.error());
  return x;
}

// -- events ------------------------------------------------------------------

std::string encode(const order_event& x) {
  nlohmann::json j{{"v", 1}, {"seq", x.seq}, {"at_ms", x.at_ms},
                   {"kind", x.kind}, {"detail", x.detail}};
  return json_text(j);
}

expected<order_event, store_error> decode_event(std::string_view key,
                                                std::string_view bytes) {
  auto parsed = parse_object(key, bytes);
  if (!parsed)
    return make_unexpected(parsed.error());
  const auto& j = *parsed;
  auto v = j.find("v");
  if (v == j.end() || !v->is_number_integer() || v->get<int64_t>() != 1)
    return make_unexpected(store_error{store_errc::unknown_version,
                                       std::string{key},
                                       "unknown event version"});
  order_event x;
  field_reader r{j, key};
  r.read("seq", x.seq);
  r.read("at_ms", x.at_ms);
  r.read("kind", x.kind);
  r.read("detail", x.detail);
  if (!r.ok())
    return make_unexpected(r.error());
  return x;
}

} // namespace paycoord
