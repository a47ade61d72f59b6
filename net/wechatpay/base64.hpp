#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace paycoord::wechatpay {

/// Standard-alphabet (RFC 4648 §4), padded base64 of `bytes`.
std::string base64_encode(std::string_view bytes);

/// Decodes standard-alphabet, padded base64. Strict: no whitespace, length a
/// multiple of 4, padding only at the end, unused trailing bits zero (so one
/// text has one meaning). Returns nullopt for anything else, e.g. WeChat's
/// `WECHATPAY/SIGNTEST/...` probe; never throws.
std::optional<std::string> base64_decode(std::string_view text);

} // namespace paycoord::wechatpay
