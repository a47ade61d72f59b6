#include "net/wechatpay/signing.hpp"

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "net/wechatpay/base64.hpp"

namespace paycoord::wechatpay {

namespace {

struct md_ctx_deleter {
  void operator()(EVP_MD_CTX* ctx) const {
    EVP_MD_CTX_free(ctx);
  }
};

using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, md_ctx_deleter>;

const unsigned char* bytes_of(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

} // namespace

std::string signature_message(std::initializer_list<std::string_view> lines) {
  size_t size = 0;
  for (auto line : lines)
    size += line.size() + 1;
  std::string out;
  out.reserve(size);
  for (auto line : lines) {
    out += line;
    out += '\n';
  }
  return out;
}

expected<std::string, protocol_error> sign_sha256_rsa(const private_key& key,
                                                      std::string_view message) {
  md_ctx_ptr ctx{EVP_MD_CTX_new()};
  size_t length = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.native()) != 1
      || EVP_DigestSign(ctx.get(), nullptr, &length, bytes_of(message), message.size()) != 1) {
    ERR_clear_error();
    return fail(wechatpay_error::signing_failed, "EVP_DigestSign setup failed");
  }
  std::string signature(length, '\0');
  auto* out = reinterpret_cast<unsigned char*>(signature.data());
  if (EVP_DigestSign(ctx.get(), out, &length, bytes_of(message), message.size()) != 1) {
    ERR_clear_error();
    return fail(wechatpay_error::signing_failed, "EVP_DigestSign failed");
  }
  signature.resize(length);
  return base64_encode(signature);
}

check_result verify_sha256_rsa(const public_key& key, std::string_view message,
                               std::string_view signature_base64) {
  if (signature_base64.starts_with(signature_probe_prefix))
    return fail(wechatpay_error::signature_probe,
                "a WECHATPAY/SIGNTEST/ probe: WeChat Pay checks that we verify; it re-sends "
                "with a real signature");
  auto signature = base64_decode(signature_base64);
  if (!signature)
    return fail(wechatpay_error::signature_invalid, "the signature is not base64");
  md_ctx_ptr ctx{EVP_MD_CTX_new()};
  bool ok = ctx
            && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.native()) == 1
            && EVP_DigestVerify(ctx.get(), bytes_of(*signature), signature->size(),
                                bytes_of(message), message.size())
                 == 1;
  // A failed verification leaves OpenSSL errors queued: not ours to keep.
  ERR_clear_error();
  if (!ok)
    return fail(wechatpay_error::signature_invalid,
                "the signature does not match the message and key");
  return check_passed();
}

std::string request_signature_message(std::string_view method, std::string_view url,
                                      std::string_view timestamp_text, std::string_view nonce,
                                      std::string_view body) {
  return signature_message({method, url, timestamp_text, nonce, body});
}

std::string response_signature_message(std::string_view timestamp_text, std::string_view nonce,
                                       std::string_view body) {
  return signature_message({timestamp_text, nonce, body});
}

std::string unix_seconds_text(timestamp t) {
  auto seconds = std::chrono::floor<std::chrono::seconds>(t.time_since_epoch());
  return std::to_string(seconds.count());
}

check_result check_signed_time(std::string_view what, std::string_view timestamp_text,
                               timestamp now, duration max_skew) {
  if (timestamp_text.empty() || timestamp_text.size() > 12)
    return fail(wechatpay_error::bad_header,
                std::string{what} + " is not unix seconds");
  int64_t seconds = 0;
  for (char c : timestamp_text) {
    if (c < '0' || c > '9')
      return fail(wechatpay_error::bad_header, std::string{what} + " is not unix seconds");
    seconds = seconds * 10 + (c - '0');
  }
  // In milliseconds as integers: 12 digits of seconds fit, and no time
  // point is built from a peer's number (that could overflow the clock).
  auto now_ms = std::chrono::duration_cast<duration>(now.time_since_epoch()).count();
  auto skew = duration{now_ms - seconds * 1000};
  auto distance = skew < duration::zero() ? -skew : skew;
  if (distance >= max_skew) {
    auto whole_seconds = [](duration d) {
      return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count());
    };
    return fail(wechatpay_error::stale_timestamp,
                std::string{what} + " " + std::string{timestamp_text} + " is "
                  + whole_seconds(distance) + " s " + (skew < duration::zero() ? "ahead of" : "behind")
                  + " the local clock, max " + whole_seconds(max_skew)
                  + " s: a replay, or check the host clock");
  }
  return check_passed();
}

} // namespace paycoord::wechatpay
