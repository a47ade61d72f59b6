#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "actors/metrics.hpp"
#include "actors/token_bucket.hpp"
#include "common/time.hpp"
#include "config/config.hpp"
#include "net/http_client.hpp"
#include "net/wechatpay/credentials.hpp"
#include "net/wechatpay/models.hpp"

namespace paycoord {

/// Blocking, signed calls to WeChat Pay API v3 (wechatpay-v3.md §4), each
/// answered as the value the order actors expect. Every request carries the
/// v3 `Authorization` header; every 2xx response is believed only after its
/// signature verified against WeChat's keys (a 2xx without a valid signature
/// is forged, or a signature probe: retry later). Non-2xx answers are decided
/// on the HTTP status alone, as the official SDKs do:
///
/// | status                                   | query         | close / prepay        |
/// | ---                                      | ---           | ---                   |
/// | verified 2xx but 202 (200; 204 to close) | trade_state   | ok                    |
/// | 404                                      | not_found     | failed, not retryable |
/// | 202, 429, 5xx, no answer, unverifiable   | retry_later   | failed, retryable     |
/// | 400, 401, 403, any other status          | failed        | failed, not retryable |
///
/// A verified body that does not parse is retried later too. 401 means our
/// signing is wrong and is logged at error level. A verified
/// transaction for another mchid, appid or out_trade_no is never a fact about
/// our order: `failed` (logged at error level; it means a misconfigured
/// merchant, which retrying soon cannot fix; the order actor retries slowly).
///
/// Not thread-safe (it owns one HTTP client): one instance per worker thread.
class wechat_client {
public:
  /// `credentials` must hold the merchant key and WeChat's key set. `now` is
  /// the wall clock used to sign and to check the replay window (empty: the
  /// system clock).
  wechat_client(wechatpay_config config,
                std::shared_ptr<const wechatpay::credentials> credentials,
                std::function<timestamp()> now, net::http_client_options http = {});

  /// `GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={mchid}`.
  query_result query(const std::string& out_trade_no);

  /// `POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close`.
  call_result close(const std::string& out_trade_no);

  /// `POST /v3/pay/transactions/jsapi` for `record`; `prepay_id` on success.
  call_result prepay(const order_record& record);

  /// `POST /v3/refund/domestic/refunds` for `refund` (wechatpay-v3.md §7):
  /// the same body on every try, so WeChat dedupes on out_refund_no. A 4xx
  /// other than 401 and 404 is `refused` (with WeChat's code): WeChat will
  /// not refund; 404 (the order is unknown there) is `not_found`; 401 is
  /// `failed` (our signature: retried slowly, never read as a refusal).
  refund_result apply_refund(const refund_record& refund);

  /// `GET /v3/refund/domestic/refunds/{out_refund_no}`: 404 is `not_found`
  /// (WeChat never accepted it), other 4xx `failed`.
  refund_result query_refund(const std::string& out_refund_no);

  /// One call's answer classified by status and signature (defined in the
  /// .cpp; public only for its helpers there).
  struct reply;

private:

  /// Signs and sends one call and classifies its answer by status and
  /// signature.
  reply call(std::string_view method, const std::string& path_and_query,
             std::string body);

  wechatpay_config config_;
  std::shared_ptr<const wechatpay::credentials> credentials_;
  std::function<timestamp()> now_;
  net::http_client http_;
};

/// The payment fact a verified transaction states (a query response or a
/// decrypted payment notification: the same shape, the same fact). An absent
/// `payer_total` means the payer paid the whole `total`.
payment_fact to_payment_fact(const wechatpay::transaction& tx);

/// What the `wechat` pool is made of.
struct wechat_pool_config {
  wechatpay_config wechatpay;
  std::shared_ptr<const wechatpay::credentials> credentials;
  /// Worker threads (calls in progress at once).
  size_t workers = 4;
  /// Calls waiting for a worker or a token; beyond it: retry_later "overloaded".
  size_t queue_limit = 10'000;
  /// Wall clock for signing and the replay window; empty means the system clock.
  std::function<timestamp()> now;
  /// Steady nanoseconds for the rate limit; empty means steady_clock.
  token_bucket::clock steady_now_ns;
  /// Transport settings; `timeout` is replaced by `wechatpay.timeout`.
  net::http_client_options http;
  /// Counts every call by endpoint and outcome (optional).
  std::shared_ptr<paycoord::metrics> metrics;
};

/// Spawns the `wechat` pool. Protocol (what the order actors call):
/// - `(query_atom, std::string out_trade_no)` -> `query_result`
/// - `(close_atom, std::string out_trade_no)` -> `call_result`
/// - `(prepay_atom, order_record)` -> `call_result` with `prepay_id`
/// - `(rf_apply_atom, refund_record)`, `(rf_query_atom, std::string
///   out_refund_no)` -> `refund_result`
/// Calls start at most `wechatpay.rate_limit_qps` a second (burst of the same
/// size). An exit message stops it and its workers.
caf::actor spawn_wechat_pool(caf::actor_system& system, wechat_pool_config config);

} // namespace paycoord
