#include "net/wechatpay/error.hpp"

namespace paycoord::wechatpay {

const char* to_string(wechatpay_error code) {
  switch (code) {
    case wechatpay_error::missing_header:
      return "missing_header";
    case wechatpay_error::bad_header:
      return "bad_header";
    case wechatpay_error::unsupported_signature_type:
      return "unsupported_signature_type";
    case wechatpay_error::unknown_serial:
      return "unknown_serial";
    case wechatpay_error::stale_timestamp:
      return "stale_timestamp";
    case wechatpay_error::signature_probe:
      return "signature_probe";
    case wechatpay_error::signature_invalid:
      return "signature_invalid";
    case wechatpay_error::signing_failed:
      return "signing_failed";
    case wechatpay_error::bad_authorization:
      return "bad_authorization";
    case wechatpay_error::bad_base64:
      return "bad_base64";
    case wechatpay_error::unsupported_algorithm:
      return "unsupported_algorithm";
    case wechatpay_error::decryption_failed:
      return "decryption_failed";
    case wechatpay_error::bad_apiv3_key:
      return "bad_apiv3_key";
    case wechatpay_error::malformed_json:
      return "malformed_json";
    case wechatpay_error::missing_field:
      return "missing_field";
    case wechatpay_error::invalid_field:
      return "invalid_field";
    case wechatpay_error::key_file_unreadable:
      return "key_file_unreadable";
    case wechatpay_error::key_parse_failed:
      return "key_parse_failed";
    case wechatpay_error::key_is_merchant_own:
      return "key_is_merchant_own";
    case wechatpay_error::duplicate_key_id:
      return "duplicate_key_id";
    case wechatpay_error::no_platform_keys:
      return "no_platform_keys";
  }
  return "unknown_wechatpay_error";
}

bool is_signature_failure(wechatpay_error code) {
  switch (code) {
    case wechatpay_error::missing_header:
    case wechatpay_error::bad_header:
    case wechatpay_error::unsupported_signature_type:
    case wechatpay_error::unknown_serial:
    case wechatpay_error::stale_timestamp:
    case wechatpay_error::signature_probe:
    case wechatpay_error::signature_invalid:
      return true;
    default:
      return false;
  }
}

std::string protocol_error::message() const {
  std::string result = to_string(code);
  if (!detail.empty()) {
    result += ": ";
    result += detail;
  }
  return result;
}

} // namespace paycoord::wechatpay
