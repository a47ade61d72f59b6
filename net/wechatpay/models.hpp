#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/expected.hpp"
#include "common/time.hpp"
#include "net/wechatpay/error.hpp"

namespace paycoord::wechatpay {

// The JSON bodies of WeChat Pay v3 that paycoord reads or writes. Parsers take
// untrusted text: at most 1 MiB, nesting at most 16 deep, strings at most
// 4 KiB (the ciphertext excepted), money a non-negative integer (fen) that
// fits int64. They fail with malformed_json (not JSON, not an object, too
// large or deep), missing_field or invalid_field (wrong type or range), the
// detail naming the field's path such as `amount.total`; they never throw.
// Unknown fields are ignored; an explicit null counts as absent. Serialisers
// (`to_json`) write compact JSON with absent optional fields left out.

// -- notifications --------------------------------------------------------------

/// The encrypted `resource` of a notification.
struct encrypted_resource {
  std::string original_type;   ///< "transaction", "refund", ...
  std::string algorithm;       ///< "AEAD_AES_256_GCM"
  std::string ciphertext;      ///< base64(ciphertext ‖ 16-byte tag)
  std::string associated_data; ///< may be empty
  std::string nonce;           ///< 12 characters
};

/// The notification envelope WeChat Pay POSTs to `notify_url`.
struct notification {
  std::string id;
  std::string create_time; ///< RFC 3339 as sent (informational only)
  std::string resource_type;
  std::string event_type; ///< "TRANSACTION.SUCCESS", "REFUND.SUCCESS", ...
  std::string summary;
  encrypted_resource resource;
};

/// Requires id, event_type and resource{algorithm, ciphertext, nonce}.
expected<notification, protocol_error> parse_notification(std::string_view json);
std::string to_json(const notification& value);

/// What a notification is about; decide this before decoding the plaintext.
enum class event_kind {
  payment, ///< TRANSACTION.* (only TRANSACTION.SUCCESS is sent for JSAPI)
  refund,  ///< REFUND.SUCCESS, REFUND.ABNORMAL, REFUND.CLOSED
  other,
};

event_kind classify_event(std::string_view event_type);

// -- transactions ---------------------------------------------------------------

/// `trade_state` of a transaction (query response or payment notification).
enum class trade_state {
  success,
  refund,
  notpay,
  closed,
  revoked,
  userpaying,
  payerror,
  accept,
  unknown, ///< a state this code does not know: never treat it as paid
};

/// The wire spelling, e.g. "SUCCESS"; "UNKNOWN" for `unknown`.
const char* to_string(trade_state state);

/// The state for a wire spelling (exact, upper case); `unknown` otherwise.
trade_state trade_state_from_string(std::string_view text);

struct transaction_amount {
  int64_t total = 0; ///< fen
  std::optional<int64_t> payer_total;
  std::string currency;
  std::string payer_currency;
};

/// A transaction: the plaintext of a payment notification and the body of a
/// query response. Requires mchid, appid, out_trade_no and trade_state; a
/// SUCCESS or REFUND one also transaction_id, amount.total and
/// amount.currency (the fields a payment is checked against). Unpaid ones
/// may lack the rest.
struct transaction {
  std::string mchid;
  std::string appid;
  std::string out_trade_no;
  std::string transaction_id;
  std::string trade_type;
  trade_state state = trade_state::unknown;
  std::string trade_state_desc;
  std::string bank_type;
  std::string attach;
  std::optional<timestamp> success_time;
  std::string payer_openid;
  std::optional<transaction_amount> amount;
};

expected<transaction, protocol_error> parse_transaction(std::string_view json);
std::string to_json(const transaction& value);

// -- refunds --------------------------------------------------------------------

struct refund_amount {
  int64_t total = 0;  ///< the order's total, fen
  int64_t refund = 0; ///< refunded, fen
  std::optional<int64_t> payer_total;
  std::optional<int64_t> payer_refund;
};

/// The plaintext of a REFUND.* notification. Requires out_trade_no,
/// out_refund_no, refund_id, refund_status and amount{total, refund}.
struct refund_event {
  std::string mchid;
  std::string out_trade_no;
  std::string transaction_id;
  std::string out_refund_no;
  std::string refund_id;
  std::string refund_status; ///< SUCCESS, CLOSED, ABNORMAL
  std::optional<timestamp> success_time;
  std::string user_received_account;
  refund_amount amount;
};

expected<refund_event, protocol_error> parse_refund_event(std::string_view json);
std::string to_json(const refund_event& value);

struct refund_request_amount {
  int64_t refund = 0; ///< to refund now, fen
  int64_t total = 0;  ///< the order's total, fen
  std::string currency = "CNY";
};

/// `POST /v3/refund/domestic/refunds`. Requires out_trade_no, out_refund_no
/// and amount{refund, total, currency}; reason and notify_url are optional
/// (left out when empty).
struct refund_request {
  std::string out_trade_no;
  std::string out_refund_no;
  std::string reason;
  std::string notify_url;
  refund_request_amount amount;
};

expected<refund_request, protocol_error> parse_refund_request(std::string_view json);
std::string to_json(const refund_request& value);

struct refund_object_amount {
  int64_t total = 0;  ///< the order's total, fen
  int64_t refund = 0; ///< this refund, fen
  std::optional<int64_t> payer_total;
  std::optional<int64_t> payer_refund;
  std::string currency;
};

/// The refund object WeChat answers an apply and a refund query with.
/// Requires refund_id, out_refund_no, out_trade_no, status and
/// amount{total, refund}. `status` is SUCCESS, CLOSED, PROCESSING or ABNORMAL
/// (kept as sent: decide on the known spellings, never on an unknown one).
struct refund_object {
  std::string refund_id;
  std::string out_refund_no;
  std::string transaction_id;
  std::string out_trade_no;
  std::string channel; ///< ORIGINAL, BALANCE, ...
  std::string user_received_account;
  std::optional<timestamp> success_time;
  std::optional<timestamp> create_time;
  std::string status;
  refund_object_amount amount;
};

expected<refund_object, protocol_error> parse_refund_object(std::string_view json);
std::string to_json(const refund_object& value);

// -- errors -------------------------------------------------------------------------

/// A WeChat Pay error body `{"code","message","detail"?}`. Decide on the HTTP
/// status, not on `code`: its spellings differ between doc versions.
struct api_error {
  std::string code;
  std::string message;
};

/// Requires code; message may be absent.
expected<api_error, protocol_error> parse_api_error(std::string_view json);
std::string to_json(const api_error& value);

// -- JSAPI prepay and close -----------------------------------------------------------

struct order_amount {
  int64_t total = 0; ///< fen
  std::string currency = "CNY";
};

/// `POST /v3/pay/transactions/jsapi`. Requires all but time_expire, attach
/// and amount.currency (default CNY).
struct prepay_request {
  std::string appid;
  std::string mchid;
  std::string description;
  std::string out_trade_no;
  std::optional<timestamp> time_expire; ///< pay-by deadline, not an auto-close
  std::string attach;                   ///< left out when empty
  std::string notify_url;
  order_amount amount;
  std::string payer_openid;
};

expected<prepay_request, protocol_error> parse_prepay_request(std::string_view json);
std::string to_json(const prepay_request& value);

struct prepay_response {
  std::string prepay_id;
};

expected<prepay_response, protocol_error> parse_prepay_response(std::string_view json);
std::string to_json(const prepay_response& value);

/// `POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close`.
struct close_request {
  std::string mchid;
};

expected<close_request, protocol_error> parse_close_request(std::string_view json);
std::string to_json(const close_request& value);

} // namespace paycoord::wechatpay
