#pragma once

#include <string>

#include <boost/asio/io_context.hpp>

#include "common/time.hpp"
#include "net/http_server.hpp"
#include "net/router.hpp"
#include "net/wechatpay/keys.hpp"
#include "sim/notifier.hpp"
#include "sim/run_after.hpp"
#include "sim/sandbox_signer.hpp"
#include "sim/sim_state.hpp"

namespace paycoord::sim {

/// The WeChat Pay v3 API as the merchant sees it: JSAPI prepay, query by
/// out_trade_no and close, refund apply and refund query. Every request's
/// `Authorization` is verified with
/// the merchant's public key (401 SIGN_ERROR, counted, when it fails); every
/// response, errors included, is signed with the platform key. Faults
/// (latency, query 5xx/429, probe signatures) come from `sim_state`; latency
/// waits on an asio timer, never on the io thread, and so does an accepted
/// refund until its deadline (then its notification is queued).
///
/// The routes refer to this object: it must outlive the server serving them.
class wechat_sandbox {
public:
  struct options {
    std::string mchid;
    /// When set, the request's serial_no must name it.
    std::string merchant_serial_no;
    duration max_clock_skew = std::chrono::minutes{5};
  };

  wechat_sandbox(options opts, wechatpay::public_key merchant_key, const sandbox_signer& signer,
                 sim_state& state, notifier& notifications, boost::asio::io_context& io);

  /// The API routes.
  net::router routes();

  /// Cancels the refund deadlines still pending, so that the io threads can
  /// return: those refunds still resolve when read, but send no notification.
  void stop();

private:
  /// Whether the request carries a valid merchant signature; answers 401
  /// itself when not.
  bool authorized(const net::request_context& ctx);

  /// Signs `answer` (a probe signature at `probe_rate`) and sends it after
  /// the configured latency.
  void reply(const net::responder& respond, sim_answer answer);

  void on_prepay(net::request_context ctx);
  void on_query(net::request_context ctx);
  void on_close(net::request_context ctx);
  void on_refund_apply(net::request_context ctx);
  void on_refund_query(net::request_context ctx);

  /// Answers a drawn query fault (500 or 429) and returns true, or false.
  bool answered_query_fault(const net::responder& respond);

  /// At the refund's deadline, settles it and queues its notification.
  void start_refund_timer(refund_timer timer);

  const options options_;
  const wechatpay::public_key merchant_key_;
  const sandbox_signer& signer_;
  sim_state& state_;
  notifier& notifier_;
  boost::asio::io_context& io_;
  cancellable_timers refund_timers_;
};

} // namespace paycoord::sim
