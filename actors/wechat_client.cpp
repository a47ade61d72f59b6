#include "actors/wechat_client.hpp"

#include <chrono>
#include <utility>

#include <spdlog/spdlog.h>

#include "actors/blocking_pool.hpp"
#include "common/text.hpp"
#include "net/wechatpay/authorization.hpp"
#include "net/wechatpay/jsapi.hpp"
#include "net/wechatpay/models.hpp"
#include "net/wechatpay/signed_headers.hpp"

namespace paycoord {

// -- what came back --------------------------------------------------------------

/// One call's answer, classified by status and signature (the table in
/// wechat_client.hpp). `trade_state` stands for "a 2xx whose signature
/// verified"; only then is `body` set.
struct wechat_client::reply {
  query_outcome outcome = query_outcome::retry_later;
  int status = 0;
  std::string body;
  std::string error;
  std::string code; ///< WeChat's error code of a non-2xx answer, if it gave one
  int64_t latency_ms = 0;
};

namespace {

/// How a non-2xx status (or a 202) is read; 2xx needs the signature first.
query_outcome outcome_of_status(int status) {
  if (status == 404)
    return query_outcome::not_found;
  if (status == 202 || status == 429 || (status >= 500 && status <= 599))
    return query_outcome::retry_later;
  // 400/401/403: our request is wrong. Anything else (a redirect: a wrong
  // base_url) will not get better by itself either.
  return query_outcome::failed;
}

const char* to_string(query_outcome x) {
  switch (x) {
    case query_outcome::trade_state:
      return "ok";
    case query_outcome::not_found:
      return "not_found";
    case query_outcome::retry_later:
      return "retry_later";
    case query_outcome::failed:
      return "failed";
  }
  return "?";
}

/// "HTTP 500 SYSTEM_ERROR: message" from a WeChat error body when it has one.
std::string describe_status(int status, std::string_view body) {
  auto text = "HTTP " + std::to_string(status);
  auto err = wechatpay::parse_api_error(body);
  if (!err)
    return text;
  text += " " + log_text(err->code, 64);
  if (!err->message.empty())
    text += ": " + log_text(err->message);
  return text;
}

wechatpay::signed_headers signed_headers_of(const net::outbound_response& response) {
  auto get = [&](std::string_view name) {
    auto value = response.header(name);
    return value ? *value : std::string{};
  };
  return {get(wechatpay::timestamp_header), get(wechatpay::nonce_header),
          get(wechatpay::signature_header), get(wechatpay::serial_header),
          get(wechatpay::signature_type_header)};
}

/// `out_trade_no` as one path segment. The contract allows
/// `[A-Za-z0-9_|*-]`; whatever is not a plain path character is escaped, and
/// the escaped form is what gets signed.
std::string path_segment(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                 || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'
                 || c == '~' || c == '*';
    if (plain) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xF];
    }
  }
  return out;
}

std::string transaction_path(std::string_view out_trade_no) {
  return "/v3/pay/transactions/out-trade-no/" + path_segment(out_trade_no);
}

/// Why a verified transaction is not about our order, or "" when it is.
std::string foreign_transaction(const wechatpay::transaction& tx,
                                const wechatpay_config& config,
                                const std::string& out_trade_no) {
  if (tx.mchid != config.mchid)
    return "transaction for mchid " + log_text(tx.mchid, 64) + ", we are " + config.mchid;
  if (tx.appid != config.appid)
    return "transaction for appid " + log_text(tx.appid, 64) + ", we are " + config.appid;
  if (tx.out_trade_no != out_trade_no)
    return "transaction for out_trade_no " + log_text(tx.out_trade_no, 64);
  return {};
}

call_result call_result_of(const wechat_client::reply& r) {
  call_result c;
  c.ok = r.outcome == query_outcome::trade_state;
  c.retryable = r.outcome == query_outcome::retry_later;
  c.status = r.status;
  c.error = r.error;
  return c;
}

/// One line per call: info when WeChat answered as expected, warn when it is
/// retried later, error when retrying cannot help (loudest for 401: our own
/// signature is wrong). `subject` names what it was about (`out_trade_no=…`,
/// with `out_refund_no=…` for a refund).
void log_call(std::string_view endpoint, const std::string& subject,
              const wechat_client::reply& r, std::string_view outcome,
              const std::string& error) {
  auto level = spdlog::level::info;
  if (outcome == "retry_later")
    level = spdlog::level::warn;
  else if (outcome == "failed")
    level = spdlog::level::err;
  std::string_view hint;
  if (r.status == 401)
    hint = " hint=\"WeChat Pay rejected our signature: check "
           "wechatpay.merchant_serial_no and merchant_private_key_file\"";
  spdlog::log(level,
              "event=wechat_call endpoint={} {} status={} outcome={} "
              "latency_ms={} error=\"{}\"{}",
              endpoint, subject, r.status, outcome, r.latency_ms, error, hint);
}

} // namespace

// -- the client ------------------------------------------------------------------

payment_fact to_payment_fact(const wechatpay::transaction& tx) {
  payment_fact f;
  f.out_trade_no = tx.out_trade_no;
  f.transaction_id = tx.transaction_id;
  f.trade_state = wechatpay::to_string(tx.state);
  f.mchid = tx.mchid;
  f.appid = tx.appid;
  if (tx.amount) {
    f.total = tx.amount->total;
    // WeChat leaves payer_total out only when the payer paid it all.
    f.payer_total = tx.amount->payer_total.value_or(tx.amount->total);
    f.currency = tx.amount->currency;
  }
  if (tx.success_time)
    f.success_time_ms = to_unix_ms(*tx.success_time);
  return f;
}

wechat_client::wechat_client(wechatpay_config config,
                             std::shared_ptr<const wechatpay::credentials> credentials,
                             std::function<timestamp()> now, net::http_client_options http)
    : config_(std::move(config)),
      credentials_(std::move(credentials)),
      now_(now ? std::move(now) : [] { return wall_clock::now(); }),
      http_(std::move(http)) {
  while (!config_.base_url.empty() && config_.base_url.back() == '/')
    config_.base_url.pop_back();
}

wechat_client::reply wechat_client::call(std::string_view method,
                                         const std::string& path_and_query,
                                         std::string body) {
  reply r;
  net::outbound_request request;
  request.method = std::string{method};
  request.url = config_.base_url + path_and_query;
  // Sign exactly what goes on the request line (base_url may carry a path).
  auto signed_url = net::path_and_query(request.url);
  if (signed_url.empty()) {
    r.outcome = query_outcome::failed;
    r.error = "wechatpay.base_url is not an http(s) URL";
    return r;
  }
  auto auth = wechatpay::authorization_header(
    config_.mchid, config_.merchant_serial_no, credentials_->merchant_key, method,
    signed_url, body, now_(), wechatpay::make_nonce());
  if (!auth) {
    r.error = auth.error().message();
    return r;
  }
  request.headers = {{"Authorization", std::move(*auth)},
                     {"Accept", "application/json"},
                     {"User-Agent", "paycoord"}};
  if (!body.empty())
    request.headers.emplace_back("Content-Type", "application/json");
  request.body = std::move(body);

  auto started = std::chrono::steady_clock::now();
  auto response = http_.send(request);
  r.latency_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - started)
                   .count();
  if (!response) {
    r.error = std::string{net::to_string(response.error().code)} + ": "
              + response.error().message;
    return r;
  }
  r.status = response->status;
  if (r.status < 200 || r.status > 299 || r.status == 202) {
    r.outcome = outcome_of_status(r.status);
    r.error = describe_status(r.status, response->body);
    if (auto err = wechatpay::parse_api_error(response->body))
      r.code = utf8_prefix(err->code, 64);
    return r;
  }
  // A 2xx is believed only with WeChat's valid signature over the raw bytes.
  auto verified = wechatpay::verify_response(credentials_->platform_keys,
                                             signed_headers_of(*response),
                                             response->body, now_(),
                                             config_.max_clock_skew);
  if (!verified) {
    r.error = "unverified response: " + verified.error().message();
    return r;
  }
  r.outcome = query_outcome::trade_state;
  r.body = std::move(response->body);
  return r;
}

query_result wechat_client::query(const std::string& out_trade_no) {
  auto r = call("GET", transaction_path(out_trade_no) + "?mchid=" + config_.mchid, {});
  query_result out;
  out.outcome = r.outcome;
  out.status = r.status;
  out.error = r.error;
  if (r.outcome == query_outcome::trade_state) {
    auto tx = wechatpay::parse_transaction(r.body);
    auto foreign = tx ? foreign_transaction(*tx, config_, out_trade_no) : std::string{};
    if (!tx) {
      out.outcome = query_outcome::retry_later;
      out.error = "unreadable transaction: " + tx.error().message();
    } else if (!foreign.empty()) {
      out.outcome = query_outcome::failed;
      out.error = std::move(foreign);
    } else {
      out.fact = to_payment_fact(*tx);
    }
  }
  auto said = out.outcome == query_outcome::trade_state ? out.fact.trade_state
                                                        : to_string(out.outcome);
  log_call("query", "out_trade_no=" + out_trade_no, r, said, out.error);
  return out;
}

namespace {

/// A refund's fact from a verified refund object.
refund_fact to_refund_fact(const wechatpay::refund_object& x) {
  refund_fact f;
  f.out_trade_no = x.out_trade_no;
  f.out_refund_no = x.out_refund_no;
  f.refund_id = x.refund_id;
  f.status = x.status;
  f.refund = x.amount.refund;
  f.total = x.amount.total;
  if (x.success_time)
    f.success_time_ms = to_unix_ms(*x.success_time);
  return f;
}

/// Reads a refund call's answer: a verified refund object about
/// `out_refund_no` (and `out_trade_no` when given), or the outcome of its
/// status (`apply`: a 4xx other than 401 and 404 is WeChat's refusal).
refund_result refund_result_of(const wechat_client::reply& r, const std::string& out_refund_no,
                               const std::string& out_trade_no, bool apply) {
  refund_result out;
  out.status = r.status;
  out.error = r.error;
  switch (r.outcome) {
    case query_outcome::trade_state: {
      auto x = wechatpay::parse_refund_object(r.body);
      if (!x) {
        out.outcome = refund_outcome::retry_later;
        out.error = "unreadable refund: " + x.error().message();
      } else if (x->out_refund_no != out_refund_no
                 || (!out_trade_no.empty() && x->out_trade_no != out_trade_no)) {
        out.outcome = refund_outcome::failed;
        out.error = "refund object for " + log_text(x->out_refund_no, 64) + " / "
                    + log_text(x->out_trade_no, 64);
      } else {
        out.outcome = refund_outcome::refund;
        out.fact = to_refund_fact(*x);
      }
      return out;
    }
    case query_outcome::not_found:
      out.outcome = refund_outcome::not_found;
      break;
    case query_outcome::retry_later:
      out.outcome = refund_outcome::retry_later;
      break;
    case query_outcome::failed:
      out.outcome = apply && r.status >= 400 && r.status <= 499 && r.status != 401
                      ? refund_outcome::refused
                      : refund_outcome::failed;
      break;
  }
  out.code = r.code;
  return out;
}

std::string refund_said(const refund_result& x) {
  return x.outcome == refund_outcome::refund ? log_text(x.fact.status, 32)
                                             : std::string{to_string(x.outcome)};
}

} // namespace

refund_result wechat_client::apply_refund(const refund_record& refund) {
  wechatpay::refund_request body;
  body.out_trade_no = refund.out_trade_no;
  body.out_refund_no = refund.out_refund_no;
  body.reason = refund.reason;
  body.notify_url = config_.notify_url;
  body.amount.refund = refund.amount_refund;
  body.amount.total = refund.amount_total;
  body.amount.currency = refund.currency;
  auto r = call("POST", "/v3/refund/domestic/refunds", wechatpay::to_json(body));
  auto out = refund_result_of(r, refund.out_refund_no, refund.out_trade_no, true);
  log_call("refund_apply",
           "out_trade_no=" + refund.out_trade_no + " out_refund_no=" + refund.out_refund_no, r,
           refund_said(out), out.error);
  return out;
}

refund_result wechat_client::query_refund(const std::string& out_refund_no) {
  auto r = call("GET", "/v3/refund/domestic/refunds/" + path_segment(out_refund_no), {});
  auto out = refund_result_of(r, out_refund_no, {}, false);
  log_call("refund_query", "out_refund_no=" + out_refund_no, r, refund_said(out), out.error);
  return out;
}

call_result wechat_client::close(const std::string& out_trade_no) {
  auto r = call("POST", transaction_path(out_trade_no) + "/close",
                wechatpay::to_json(wechatpay::close_request{config_.mchid}));
  log_call("close", "out_trade_no=" + out_trade_no, r, to_string(r.outcome), r.error);
  return call_result_of(r);
}

call_result wechat_client::prepay(const order_record& record) {
  wechatpay::prepay_request body;
  body.appid = config_.appid;
  body.mchid = config_.mchid;
  body.description = record.description;
  body.out_trade_no = record.out_trade_no;
  if (record.expire_at_ms > 0)
    body.time_expire = from_unix_ms(record.expire_at_ms);
  body.attach = record.attach;
  body.notify_url = config_.notify_url;
  body.amount = {record.amount_total, record.currency};
  body.payer_openid = record.payer_openid;
  auto r = call("POST", "/v3/pay/transactions/jsapi", wechatpay::to_json(body));
  std::string prepay_id;
  if (r.outcome == query_outcome::trade_state) {
    auto answer = wechatpay::parse_prepay_response(r.body);
    if (answer) {
      prepay_id = std::move(answer->prepay_id);
    } else {
      r.outcome = query_outcome::retry_later;
      r.error = "unreadable prepay response: " + answer.error().message();
    }
  }
  log_call("prepay", "out_trade_no=" + record.out_trade_no, r, to_string(r.outcome), r.error);
  auto result = call_result_of(r);
  result.prepay_id = std::move(prepay_id);
  return result;
}

// -- the pool ----------------------------------------------------------------------

namespace {

wechat_outcome metric_outcome(query_outcome x) {
  switch (x) {
    case query_outcome::trade_state:
      return wechat_outcome::ok;
    case query_outcome::not_found:
      return wechat_outcome::not_found;
    case query_outcome::retry_later:
      return wechat_outcome::retry_later;
    case query_outcome::failed:
      return wechat_outcome::failed;
  }
  return wechat_outcome::failed;
}

wechat_outcome metric_outcome(const refund_result& x) {
  switch (x.outcome) {
    case refund_outcome::refund:
      return wechat_outcome::ok;
    case refund_outcome::not_found:
      return wechat_outcome::not_found;
    case refund_outcome::retry_later:
      return wechat_outcome::retry_later;
    case refund_outcome::failed:
    case refund_outcome::refused:
      return wechat_outcome::failed;
  }
  return wechat_outcome::failed;
}

wechat_outcome metric_outcome(const call_result& x) {
  if (x.ok)
    return wechat_outcome::ok;
  if (x.status == 404)
    return wechat_outcome::not_found;
  return x.retryable ? wechat_outcome::retry_later : wechat_outcome::failed;
}

/// Runs one blocking call and counts it (when there are metrics).
template <class Call>
auto counted(const std::shared_ptr<metrics>& m, wechat_endpoint endpoint, Call call) {
  auto started = std::chrono::steady_clock::now();
  auto result = call();
  if (m) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - started)
                .count();
    if constexpr (std::is_same_v<decltype(result), query_result>)
      m->wechat_call(endpoint, metric_outcome(result.outcome), ms);
    else
      m->wechat_call(endpoint, metric_outcome(result), ms);
  }
  return result;
}

} // namespace

caf::actor spawn_wechat_pool(caf::actor_system& system, wechat_pool_config config) {
  config.http.timeout = config.wechatpay.timeout;
  auto m = config.metrics;
  auto make_executor = [config, m] {
    auto client = std::make_shared<wechat_client>(config.wechatpay, config.credentials,
                                                  config.now, config.http);
    return caf::message_handler{
      [client, m](query_atom, const std::string& id) {
        return counted(m, wechat_endpoint::query, [&] { return client->query(id); });
      },
      [client, m](close_atom, const std::string& id) {
        return counted(m, wechat_endpoint::close, [&] { return client->close(id); });
      },
      [client, m](prepay_atom, const order_record& x) {
        return counted(m, wechat_endpoint::prepay, [&] { return client->prepay(x); });
      },
      [client, m](rf_apply_atom, const refund_record& x) {
        return counted(m, wechat_endpoint::refund_apply,
                       [&] { return client->apply_refund(x); });
      },
      [client, m](rf_query_atom, const std::string& no) {
        return counted(m, wechat_endpoint::refund_query,
                       [&] { return client->query_refund(no); });
      },
    };
  };
  auto refusals = [](const std::string& reason) {
    call_result refused_call;
    refused_call.error = reason;
    query_result refused_query;
    refused_query.outcome = query_outcome::retry_later;
    refused_query.error = reason;
    refund_result refused_refund;
    refused_refund.error = reason;
    return caf::message_handler{
      [=](query_atom, const std::string&) { return refused_query; },
      [=](close_atom, const std::string&) { return refused_call; },
      [=](prepay_atom, const order_record&) { return refused_call; },
      [=](rf_apply_atom, const refund_record&) { return refused_refund; },
      [=](rf_query_atom, const std::string&) { return refused_refund; },
    };
  };
  auto on_refused = [m](const caf::message& request) {
    if (!m)
      return;
    auto endpoint = request.match_element<query_atom>(0)      ? wechat_endpoint::query
                    : request.match_element<close_atom>(0)    ? wechat_endpoint::close
                    : request.match_element<rf_apply_atom>(0) ? wechat_endpoint::refund_apply
                    : request.match_element<rf_query_atom>(0) ? wechat_endpoint::refund_query
                                                              : wechat_endpoint::prepay;
    m->wechat_call(endpoint, wechat_outcome::refused, 0);
  };
  return spawn_blocking_pool(system, {.name = "wechat",
                                      .workers = config.workers,
                                      .queue_limit = config.queue_limit,
                                      .rate_limit_qps = config.wechatpay.rate_limit_qps,
                                      .now_ns = config.steady_now_ns,
                                      .make_executor = std::move(make_executor),
                                      .refusals = std::move(refusals),
                                      .on_refused = std::move(on_refused),
                                      // A customer waits for the prepay; the
                                      // queries and closes are background.
                                      .is_urgent = [](const caf::message& m) {
                                        return m.match_element<prepay_atom>(0);
                                      }});
}

} // namespace paycoord
