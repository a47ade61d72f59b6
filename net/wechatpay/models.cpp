#include "net/wechatpay/models.hpp"

#include <array>
#include <limits>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/json_input.hpp"

namespace paycoord::wechatpay {

namespace {

using json = nlohmann::json;

constexpr size_t max_json_bytes = 1 << 20;
constexpr int max_json_depth = 16;
constexpr size_t max_string_bytes = 4096;

enum class presence { required, optional };

// Parses `text` as a JSON object within the size and depth bounds. WeChat's
// documents are signed: a duplicate key is read as nlohmann reads it (the
// last wins) rather than refusing a real payment (common/json_input.hpp).
expected<json, protocol_error> parse_object(std::string_view text) {
  auto doc = parse_json_input(text, {max_json_bytes, max_json_depth, /*unique_keys=*/false});
  if (!doc)
    return fail(wechatpay_error::malformed_json, doc.error().message);
  if (!doc->is_object())
    return fail(wechatpay_error::malformed_json, "not a JSON object");
  return std::move(*doc);
}

// Reads the fields of one JSON object into a model. The first problem is
// kept in the shared `error` slot and later reads do nothing, so a parser
// reads every field and checks once at the end.
class field_reader {
public:
  field_reader(const json& object, std::string prefix, std::optional<protocol_error>& error)
    : object_(object), prefix_(std::move(prefix)), error_(error) {
  }

  void text(std::string_view name, std::string& out, presence p,
            size_t max_bytes = max_string_bytes) {
    const json* value = find(name, p);
    if (value == nullptr)
      return;
    if (!value->is_string())
      return invalid(name, "is not a string");
    const auto& s = value->get_ref<const std::string&>();
    if (s.size() > max_bytes)
      return invalid(name, "is longer than " + std::to_string(max_bytes) + " bytes");
    if (p == presence::required && s.empty())
      return invalid(name, "is empty");
    out = s;
  }

  void money(std::string_view name, int64_t& out) {
    if (const json* value = find(name, presence::required))
      read_money(name, *value, out);
  }

  void money(std::string_view name, std::optional<int64_t>& out) {
    if (const json* value = find(name, presence::optional))
      read_money(name, *value, out.emplace());
  }

  void time(std::string_view name, std::optional<timestamp>& out) {
    std::string s;
    text(name, s, presence::optional);
    if (s.empty())
      return;
    out = parse_rfc3339(s);
    if (!out)
      invalid(name, "is not an RFC 3339 time");
  }

  /// The reader of a nested object, or nullopt when it is absent (optional)
  /// or there is an error.
  std::optional<field_reader> object(std::string_view name, presence p) {
    const json* value = find(name, p);
    if (value == nullptr)
      return std::nullopt;
    if (!value->is_object()) {
      invalid(name, "is not an object");
      return std::nullopt;
    }
    return field_reader{*value, path(name) + ".", error_};
  }

  /// True when the field is present and not null.
  bool has(std::string_view name) const {
    auto it = object_.find(name);
    return it != object_.end() && !it->is_null();
  }

  /// Records a failure about `name` that the model, not the reader, found.
  void require(std::string_view name, bool condition, const char* why) {
    if (!condition)
      set(wechatpay_error::missing_field, path(name) + " " + why);
  }

private:
  const json* find(std::string_view name, presence p) {
    if (error_)
      return nullptr;
    auto it = object_.find(name);
    if (it == object_.end() || it->is_null()) {
      if (p == presence::required)
        set(wechatpay_error::missing_field, path(name));
      return nullptr;
    }
    return &*it;
  }

  void read_money(std::string_view name, const json& value, int64_t& out) {
    if (value.is_number_unsigned()) {
      auto v = value.get<uint64_t>();
      if (v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        out = static_cast<int64_t>(v);
        return;
      }
    }
    if (value.is_number_integer() && !value.is_number_unsigned())
      return invalid(name, "is negative");
    invalid(name, "is not a non-negative integer amount in fen");
  }

  std::string path(std::string_view name) const {
    return prefix_ + std::string{name};
  }

  void invalid(std::string_view name, const std::string& why) {
    set(wechatpay_error::invalid_field, path(name) + " " + why);
  }

  void set(wechatpay_error code, std::string detail) {
    if (!error_)
      error_ = protocol_error{code, std::move(detail)};
  }

  const json& object_;
  std::string prefix_;
  std::optional<protocol_error>& error_;
};

// Runs `read` over the object parsed from `text`; returns the model or the
// first error.
template <class Model, class Read>
expected<Model, protocol_error> parse_model(std::string_view text, Read read) {
  auto doc = parse_object(text);
  if (!doc)
    return make_unexpected(doc.error());
  std::optional<protocol_error> error;
  field_reader reader{*doc, "", error};
  Model model;
  read(reader, model);
  if (error)
    return make_unexpected(std::move(*error));
  return model;
}

// Invalid UTF-8 in a string becomes U+FFFD instead of an exception.
std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

void put_if_set(json& out, const char* name, const std::string& value) {
  if (!value.empty())
    out[name] = value;
}

void put_if_set(json& out, const char* name, const std::optional<int64_t>& value) {
  if (value)
    out[name] = *value;
}

void put_if_set(json& out, const char* name, const std::optional<timestamp>& value) {
  if (value)
    out[name] = format_rfc3339(*value);
}

constexpr std::array<std::pair<trade_state, const char*>, 8> trade_state_names{{
  {trade_state::success, "SUCCESS"},
  {trade_state::refund, "REFUND"},
  {trade_state::notpay, "NOTPAY"},
  {trade_state::closed, "CLOSED"},
  {trade_state::revoked, "REVOKED"},
  {trade_state::userpaying, "USERPAYING"},
  {trade_state::payerror, "PAYERROR"},
  {trade_state::accept, "ACCEPT"},
}};

} // namespace

// -- notifications --------------------------------------------------------------

expected<notification, protocol_error> parse_notification(std::string_view text) {
  return parse_model<notification>(text, [](field_reader& r, notification& n) {
    r.text("id", n.id, presence::required);
    r.text("create_time", n.create_time, presence::optional);
    r.text("resource_type", n.resource_type, presence::optional);
    r.text("event_type", n.event_type, presence::required);
    r.text("summary", n.summary, presence::optional);
    if (auto res = r.object("resource", presence::required)) {
      res->text("original_type", n.resource.original_type, presence::optional);
      res->text("algorithm", n.resource.algorithm, presence::required);
      res->text("ciphertext", n.resource.ciphertext, presence::required, max_json_bytes);
      res->text("associated_data", n.resource.associated_data, presence::optional);
      res->text("nonce", n.resource.nonce, presence::required);
    }
  });
}

std::string to_json(const notification& value) {
  json resource{{"original_type", value.resource.original_type},
                {"algorithm", value.resource.algorithm},
                {"ciphertext", value.resource.ciphertext},
                {"associated_data", value.resource.associated_data},
                {"nonce", value.resource.nonce}};
  json out{{"id", value.id},
           {"create_time", value.create_time},
           {"resource_type", value.resource_type},
           {"event_type", value.event_type},
           {"summary", value.summary},
           {"resource", std::move(resource)}};
  return dump(out);
}

event_kind classify_event(std::string_view event_type) {
  if (event_type.starts_with("TRANSACTION."))
    return event_kind::payment;
  if (event_type.starts_with("REFUND."))
    return event_kind::refund;
  return event_kind::other;
}

// -- transactions ---------------------------------------------------------------

const char* to_string(trade_state state) {
  for (const auto& [value, name] : trade_state_names)
    if (value == state)
      return name;
  return "UNKNOWN";
}

trade_state trade_state_from_string(std::string_view text) {
  for (const auto& [value, name] : trade_state_names)
    if (text == name)
      return value;
  return trade_state::unknown;
}

expected<transaction, protocol_error> parse_transaction(std::string_view text) {
  return parse_model<transaction>(text, [](field_reader& r, transaction& t) {
    r.text("mchid", t.mchid, presence::required);
    r.text("appid", t.appid, presence::required);
    r.text("out_trade_no", t.out_trade_no, presence::required);
    r.text("transaction_id", t.transaction_id, presence::optional);
    r.text("trade_type", t.trade_type, presence::optional);
    std::string state;
    r.text("trade_state", state, presence::required);
    t.state = trade_state_from_string(state);
    r.text("trade_state_desc", t.trade_state_desc, presence::optional);
    r.text("bank_type", t.bank_type, presence::optional);
    r.text("attach", t.attach, presence::optional);
    r.time("success_time", t.success_time);
    if (auto payer = r.object("payer", presence::optional))
      payer->text("openid", t.payer_openid, presence::optional);
    bool paid = t.state == trade_state::success || t.state == trade_state::refund;
    if (auto amount = r.object("amount", paid ? presence::required : presence::optional)) {
      auto& a = t.amount.emplace();
      auto need = paid ? presence::required : presence::optional;
      if (paid || amount->has("total"))
        amount->money("total", a.total);
      amount->money("payer_total", a.payer_total);
      amount->text("currency", a.currency, need);
      amount->text("payer_currency", a.payer_currency, presence::optional);
    }
    if (paid)
      r.require("transaction_id", !t.transaction_id.empty(), "is required when paid");
  });
}

std::string to_json(const transaction& value) {
  json out{{"mchid", value.mchid},
           {"appid", value.appid},
           {"out_trade_no", value.out_trade_no},
           {"trade_state", to_string(value.state)}};
  put_if_set(out, "transaction_id", value.transaction_id);
  put_if_set(out, "trade_type", value.trade_type);
  put_if_set(out, "trade_state_desc", value.trade_state_desc);
  put_if_set(out, "bank_type", value.bank_type);
  put_if_set(out, "attach", value.attach);
  put_if_set(out, "success_time", value.success_time);
  if (!value.payer_openid.empty())
    out["payer"] = json{{"openid", value.payer_openid}};
  if (value.amount) {
    json amount{{"total", value.amount->total}};
    put_if_set(amount, "payer_total", value.amount->payer_total);
    put_if_set(amount, "currency", value.amount->currency);
    put_if_set(amount, "payer_currency", value.amount->payer_currency);
    out["amount"] = std::move(amount);
  }
  return dump(out);
}

// -- refunds --------------------------------------------------------------------

expected<refund_event, protocol_error> parse_refund_event(std::string_view text) {
  return parse_model<refund_event>(text, [](field_reader& r, refund_event& e) {
    r.text("mchid", e.mchid, presence::optional);
    r.text("out_trade_no", e.out_trade_no, presence::required);
    r.text("transaction_id", e.transaction_id, presence::optional);
    r.text("out_refund_no", e.out_refund_no, presence::required);
    r.text("refund_id", e.refund_id, presence::required);
    r.text("refund_status", e.refund_status, presence::required);
    r.time("success_time", e.success_time);
    r.text("user_received_account", e.user_received_account, presence::optional);
    if (auto amount = r.object("amount", presence::required)) {
      amount->money("total", e.amount.total);
      amount->money("refund", e.amount.refund);
      amount->money("payer_total", e.amount.payer_total);
      amount->money("payer_refund", e.amount.payer_refund);
    }
  });
}

std::string to_json(const refund_event& value) {
  json amount{{"total", value.amount.total}, {"refund", value.amount.refund}};
  put_if_set(amount, "payer_total", value.amount.payer_total);
  put_if_set(amount, "payer_refund", value.amount.payer_refund);
  json out{{"out_trade_no", value.out_trade_no},
           {"out_refund_no", value.out_refund_no},
           {"refund_id", value.refund_id},
           {"refund_status", value.refund_status},
           {"amount", std::move(amount)}};
  put_if_set(out, "mchid", value.mchid);
  put_if_set(out, "transaction_id", value.transaction_id);
  put_if_set(out, "success_time", value.success_time);
  put_if_set(out, "user_received_account", value.user_received_account);
  return dump(out);
}

expected<refund_request, protocol_error> parse_refund_request(std::string_view text) {
  return parse_model<refund_request>(text, [](field_reader& r, refund_request& q) {
    r.text("out_trade_no", q.out_trade_no, presence::required);
    r.text("out_refund_no", q.out_refund_no, presence::required);
    r.text("reason", q.reason, presence::optional);
    r.text("notify_url", q.notify_url, presence::optional);
    if (auto amount = r.object("amount", presence::required)) {
      amount->money("refund", q.amount.refund);
      amount->money("total", q.amount.total);
      amount->text("currency", q.amount.currency, presence::required);
    }
  });
}

std::string to_json(const refund_request& value) {
  json out{{"out_trade_no", value.out_trade_no},
           {"out_refund_no", value.out_refund_no},
           {"amount",
            {{"refund", value.amount.refund},
             {"total", value.amount.total},
             {"currency", value.amount.currency}}}};
  put_if_set(out, "reason", value.reason);
  put_if_set(out, "notify_url", value.notify_url);
  return dump(out);
}

expected<refund_object, protocol_error> parse_refund_object(std::string_view text) {
  return parse_model<refund_object>(text, [](field_reader& r, refund_object& o) {
    r.text("refund_id", o.refund_id, presence::required);
    r.text("out_refund_no", o.out_refund_no, presence::required);
    r.text("transaction_id", o.transaction_id, presence::optional);
    r.text("out_trade_no", o.out_trade_no, presence::required);
    r.text("channel", o.channel, presence::optional);
    r.text("user_received_account", o.user_received_account, presence::optional);
    r.time("success_time", o.success_time);
    r.time("create_time", o.create_time);
    r.text("status", o.status, presence::required);
    if (auto amount = r.object("amount", presence::required)) {
      amount->money("total", o.amount.total);
      amount->money("refund", o.amount.refund);
      amount->money("payer_total", o.amount.payer_total);
      amount->money("payer_refund", o.amount.payer_refund);
      amount->text("currency", o.amount.currency, presence::optional);
    }
  });
}

std::string to_json(const refund_object& value) {
  json amount{{"total", value.amount.total}, {"refund", value.amount.refund}};
  put_if_set(amount, "payer_total", value.amount.payer_total);
  put_if_set(amount, "payer_refund", value.amount.payer_refund);
  put_if_set(amount, "currency", value.amount.currency);
  json out{{"refund_id", value.refund_id},
           {"out_refund_no", value.out_refund_no},
           {"out_trade_no", value.out_trade_no},
           {"status", value.status},
           {"amount", std::move(amount)}};
  put_if_set(out, "transaction_id", value.transaction_id);
  put_if_set(out, "channel", value.channel);
  put_if_set(out, "user_received_account", value.user_received_account);
  put_if_set(out, "success_time", value.success_time);
  put_if_set(out, "create_time", value.create_time);
  return dump(out);
}

// -- errors -------------------------------------------------------------------------

expected<api_error, protocol_error> parse_api_error(std::string_view text) {
  return parse_model<api_error>(text, [](field_reader& r, api_error& e) {
    r.text("code", e.code, presence::required);
    r.text("message", e.message, presence::optional);
  });
}

std::string to_json(const api_error& value) {
  return dump(json{{"code", value.code}, {"message", value.message}});
}

// -- JSAPI prepay and close -----------------------------------------------------------

expected<prepay_request, protocol_error> parse_prepay_request(std::string_view text) {
  return parse_model<prepay_request>(text, [](field_reader& r, prepay_request& p) {
    r.text("appid", p.appid, presence::required);
    r.text("mchid", p.mchid, presence::required);
    r.text("description", p.description, presence::required);
    r.text("out_trade_no", p.out_trade_no, presence::required);
    r.time("time_expire", p.time_expire);
    r.text("attach", p.attach, presence::optional);
    r.text("notify_url", p.notify_url, presence::required);
    if (auto amount = r.object("amount", presence::required)) {
      amount->money("total", p.amount.total);
      amount->text("currency", p.amount.currency, presence::optional);
    }
    if (auto payer = r.object("payer", presence::required))
      payer->text("openid", p.payer_openid, presence::required);
  });
}

std::string to_json(const prepay_request& value) {
  json out{{"appid", value.appid},
           {"mchid", value.mchid},
           {"description", value.description},
           {"out_trade_no", value.out_trade_no},
           {"notify_url", value.notify_url},
           {"amount", {{"total", value.amount.total}, {"currency", value.amount.currency}}},
           {"payer", {{"openid", value.payer_openid}}}};
  put_if_set(out, "time_expire", value.time_expire);
  put_if_set(out, "attach", value.attach);
  return dump(out);
}

expected<prepay_response, protocol_error> parse_prepay_response(std::string_view text) {
  return parse_model<prepay_response>(text, [](field_reader& r, prepay_response& p) {
    r.text("prepay_id", p.prepay_id, presence::required);
  });
}

std::string to_json(const prepay_response& value) {
  return dump(json{{"prepay_id", value.prepay_id}});
}

expected<close_request, protocol_error> parse_close_request(std::string_view text) {
  return parse_model<close_request>(text, [](field_reader& r, close_request& c) {
    r.text("mchid", c.mchid, presence::required);
  });
}

std::string to_json(const close_request& value) {
  return dump(json{{"mchid", value.mchid}});
}

} // namespace paycoord::wechatpay
