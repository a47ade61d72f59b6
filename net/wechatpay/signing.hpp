#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

#include "common/expected.hpp"
#include "common/time.hpp"
#include "net/wechatpay/error.hpp"
#include "net/wechatpay/keys.hpp"

namespace paycoord::wechatpay {

/// The signature scheme of WeChat Pay v3 (requests, responses, notifications).
inline constexpr std::string_view signature_scheme = "WECHATPAY2-SHA256-RSA2048";

/// The prefix of WeChat's deliberate bad signatures (signature probes).
inline constexpr std::string_view signature_probe_prefix = "WECHATPAY/SIGNTEST/";

/// SHA256withRSA (PKCS#1 v1.5) of `message`, base64. Deterministic: the same
/// key and message give the same text. Fails with signing_failed only if
/// OpenSSL does.
expected<std::string, protocol_error> sign_sha256_rsa(const private_key& key,
                                                      std::string_view message);

/// Verifies a base64 SHA256withRSA signature over the exact bytes of
/// `message`. Fails with signature_probe for a `WECHATPAY/SIGNTEST/`
/// signature, else signature_invalid (also when it is not base64).
check_result verify_sha256_rsa(const public_key& key, std::string_view message,
                               std::string_view signature_base64);

/// The lines joined, each followed by `\n` (the last one too, even when
/// empty): the shape of every message WeChat Pay v3 signs.
std::string signature_message(std::initializer_list<std::string_view> lines);

/// `METHOD\nURL\ntimestamp\nnonce\nbody\n`: what a merchant request signs.
/// `url` is the path and query as sent; an empty body still has its line.
std::string request_signature_message(std::string_view method, std::string_view url,
                                      std::string_view timestamp_text, std::string_view nonce,
                                      std::string_view body);

/// `timestamp\nnonce\nbody\n`: what a WeChat response or notification signs.
std::string response_signature_message(std::string_view timestamp_text, std::string_view nonce,
                                       std::string_view body);

/// `t` as whole unix seconds in decimal, as the signature headers write it.
std::string unix_seconds_text(timestamp t);

/// Parses a signed unix-seconds text (1 to 12 digits) and checks it lies
/// strictly within `max_skew` of `now`; `what` names the header in messages.
/// Fails with bad_header when it is not such a number, or stale_timestamp
/// saying how far off it is (a wrong host clock is the usual cause).
check_result check_signed_time(std::string_view what, std::string_view timestamp_text,
                               timestamp now, duration max_skew);

} // namespace paycoord::wechatpay
