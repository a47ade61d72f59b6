#pragma once

// WeChat Pay's side of the notify route, inside the test: builds the raw HTTP
// requests of real notifications (signed with the sandbox platform key,
// resource AES-GCM encrypted with the APIv3 key, as paysim's notifier does)
// and of forgeries, so that a test can time them or abuse the route with them.

#include <fstream>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/time.hpp"
#include "demo/process.hpp"
#include "net/wechatpay/aead.hpp"
#include "net/wechatpay/base64.hpp"
#include "net/wechatpay/jsapi.hpp"
#include "net/wechatpay/keys.hpp"
#include "net/wechatpay/models.hpp"
#include "net/wechatpay/notification_opener.hpp"
#include "net/wechatpay/signed_headers.hpp"

namespace paycoord::testing {

/// An order paid at paysim: what its payment notification says.
struct paid_order {
  std::string out_trade_no;
  std::string transaction_id;
  int64_t total = 0;
  std::string paid_at; ///< RFC 3339, as paysim reports it
  std::string payer_openid;
};

/// Builds notification requests. Immutable after construction; safe to use
/// from several threads (OpenSSL keys are shared read-only).
class notification_maker {
public:
  /// The sandbox identities and keys of config/paysim.example.json (the same
  /// ones paycoord's example config trusts), for the route at `path`.
  explicit notification_maker(std::string path = "/v1/wechatpay/notify") : path_(std::move(path)) {
    std::ifstream in{demo::source_path("config/paysim.example.json")};
    auto cfg = nlohmann::json::parse(in);
    const auto& w = cfg["wechatpay"];
    mchid = w["mchid"].get<std::string>();
    appid = w["appid"].get<std::string>();
    apiv3_key_ = w["apiv3_key"].get<std::string>();
    key_id_ = w["platform_public_key_id"].get<std::string>();
    platform_key_ = load_key("config/" + w["platform_private_key_file"].get<std::string>());
    merchant_key_ = load_key("config/sandbox/merchant_key.pem");
  }

  std::string mchid;
  std::string appid;

  const std::string& path() const {
    return path_;
  }

  // -- the plaintexts -----------------------------------------------------------------

  /// The TRANSACTION.SUCCESS resource of `order`, as WeChat sends it.
  std::string transaction_plaintext(const paid_order& order) const {
    wechatpay::transaction t;
    t.mchid = mchid;
    t.appid = appid;
    t.out_trade_no = order.out_trade_no;
    t.transaction_id = order.transaction_id;
    t.trade_type = "JSAPI";
    t.state = wechatpay::trade_state::success;
    t.trade_state_desc = "支付成功";
    t.bank_type = "OTHERS";
    t.success_time = parse_rfc3339(order.paid_at);
    t.payer_openid = order.payer_openid;
    t.amount = wechatpay::transaction_amount{order.total, order.total, "CNY", "CNY"};
    return wechatpay::to_json(t);
  }

  // -- genuine requests ----------------------------------------------------------------

  /// A genuine payment notification of `order`: what WeChat would POST.
  std::string payment_request(const paid_order& order) const {
    return sealed_request(transaction_plaintext(order));
  }

  /// `plaintext` (any bytes) encrypted into a genuine, signed envelope.
  std::string sealed_request(std::string_view plaintext,
                             std::string event_type = "TRANSACTION.SUCCESS") const {
    wechatpay::notification envelope;
    envelope.id = "EV-ABUSE-" + wechatpay::make_nonce(16);
    envelope.create_time = format_rfc3339(wall_clock::now());
    envelope.resource_type = "encrypt-resource";
    envelope.event_type = std::move(event_type);
    envelope.summary = "支付成功";
    envelope.resource.original_type = "transaction";
    envelope.resource.associated_data = "transaction";
    envelope.resource.nonce = wechatpay::make_nonce(12);
    auto sealed = wechatpay::seal_notification(*platform_key_, key_id_, apiv3_key_,
                                               std::move(envelope), plaintext,
                                               wall_clock::now(), wechatpay::make_nonce(32));
    if (!sealed)
      throw std::runtime_error("seal_notification: " + sealed.error().message());
    return request(sealed->body, sealed->headers);
  }

  /// `body` (any bytes, not necessarily a notification) with WeChat's valid
  /// signature over it: what only WeChat could send.
  std::string signed_request(std::string_view body) const {
    return request(body, sign(*platform_key_, key_id_, body, wall_clock::now()));
  }

  // -- forgeries ------------------------------------------------------------------------

  enum class forgery {
    random_signature, ///< 256 random bytes where the RSA signature goes
    wrong_key,        ///< signed, but with the merchant's key, not WeChat's
    tampered_body,    ///< genuinely signed, then the amount changed
    probe,            ///< a WECHATPAY/SIGNTEST/ probe signature
    unknown_serial,   ///< names a key id paycoord does not know
    stale_timestamp,  ///< signed by WeChat, but an hour ago
    no_signature,     ///< the Wechatpay-* headers left out
  };
  static constexpr int forgery_kinds = 7;

  /// A forged payment notification of `order` (which need not be paid):
  /// every kind must be answered 401.
  std::string forged_request(const paid_order& order, forgery kind) const {
    wechatpay::notification envelope;
    envelope.id = "EV-FORGED-" + wechatpay::make_nonce(16);
    envelope.create_time = format_rfc3339(wall_clock::now());
    envelope.resource_type = "encrypt-resource";
    envelope.event_type = "TRANSACTION.SUCCESS";
    envelope.summary = "支付成功";
    // A forger does not know the APIv3 key either; some try anyway.
    auto resource = wechatpay::encrypt_resource(apiv3_key_, "transaction", "transaction",
                                                wechatpay::make_nonce(12),
                                                transaction_plaintext(order));
    if (!resource)
      throw std::runtime_error("encrypt_resource: " + resource.error().message());
    envelope.resource = std::move(*resource);
    auto body = wechatpay::to_json(envelope);
    auto now = wall_clock::now();
    switch (kind) {
      case forgery::random_signature: {
        auto headers = sign(*platform_key_, key_id_, body, now);
        headers.signature = wechatpay::base64_encode(random_bytes(256));
        return request(body, headers);
      }
      case forgery::wrong_key:
        return request(body, sign(*merchant_key_, key_id_, body, now));
      case forgery::tampered_body: {
        auto headers = sign(*platform_key_, key_id_, body, now);
        // Same length, one byte different: the ciphertext is not checked
        // before the signature is.
        auto at = body.find("\"ciphertext\":\"") + 14;
        body[at] = body[at] == 'A' ? 'B' : 'A';
        return request(body, headers);
      }
      case forgery::probe: {
        auto headers = sign(*platform_key_, key_id_, body, now);
        headers.signature = "WECHATPAY/SIGNTEST/" + headers.signature.substr(19);
        return request(body, headers);
      }
      case forgery::unknown_serial:
        return request(body, sign(*platform_key_, "PUB_KEY_ID_0000000000000000000000000000000000009",
                                  body, now));
      case forgery::stale_timestamp:
        return request(body, sign(*platform_key_, key_id_, body, now - std::chrono::hours{1}));
      case forgery::no_signature:
        return request(body, wechatpay::signed_headers{});
    }
    throw std::logic_error("unknown forgery");
  }

  // -- plain requests -------------------------------------------------------------------

  /// A POST of `body` to `path` with `headers` (lines, each ending in CRLF).
  static std::string post(std::string_view path, std::string_view body,
                          std::string_view headers = "") {
    std::string r = "POST ";
    r += path;
    r += " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ";
    r += std::to_string(body.size());
    r += "\r\n";
    r += headers;
    r += "\r\n";
    r += body;
    return r;
  }

  static std::string get(std::string_view path) {
    std::string r = "GET ";
    r += path;
    r += " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    return r;
  }

private:
  static wechatpay::private_key load_key(const std::string& relative) {
    auto key = wechatpay::private_key::from_pem_file(demo::source_path(relative));
    if (!key)
      throw std::runtime_error(relative + ": " + key.error().message());
    return std::move(*key);
  }

  static wechatpay::signed_headers sign(const wechatpay::private_key& key, std::string_view serial,
                                        std::string_view body, timestamp at) {
    auto headers = wechatpay::sign_response(key, serial, at, wechatpay::make_nonce(32), body);
    if (!headers)
      throw std::runtime_error("sign_response: " + headers.error().message());
    return std::move(*headers);
  }

  static std::string random_bytes(std::size_t n) {
    thread_local std::mt19937 random{std::random_device{}()};
    std::string bytes(n, '\0');
    for (auto& b : bytes)
      b = static_cast<char>(random() & 0xFF);
    return bytes;
  }

  std::string request(std::string_view body, const wechatpay::signed_headers& h) const {
    std::string lines;
    auto add = [&](std::string_view name, const std::string& value) {
      if (value.empty())
        return;
      lines += name;
      lines += ": ";
      lines += value;
      lines += "\r\n";
    };
    add(wechatpay::timestamp_header, h.timestamp);
    add(wechatpay::nonce_header, h.nonce);
    add(wechatpay::signature_header, h.signature);
    add(wechatpay::serial_header, h.serial);
    add(wechatpay::signature_type_header, h.signature_type);
    return post(path_, body, lines);
  }

  std::string path_;
  std::string apiv3_key_;
  std::string key_id_;
  // Always set after construction (optional: the key type has no empty state).
  std::optional<wechatpay::private_key> platform_key_;
  std::optional<wechatpay::private_key> merchant_key_;
};

} // namespace paycoord::testing
