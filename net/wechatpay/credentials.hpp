#pragma once

#include <string>
#include <string_view>

#include "common/expected.hpp"
#include "net/wechatpay/error.hpp"
#include "net/wechatpay/key_set.hpp"
#include "net/wechatpay/keys.hpp"

namespace paycoord::wechatpay {

/// Where the merchant's keys are, as the `wechatpay.*` config keys say. An
/// empty string means "not configured".
struct credential_files {
  std::string merchant_private_key_file;
  std::string platform_public_key_id;
  std::string platform_public_key_file;
  /// A folder of `*.pem` platform certificates (matched by serial).
  std::string platform_certificates_dir;
};

/// The loaded keys: ours to sign with, WeChat's to verify with.
struct credentials {
  private_key merchant_key;
  key_set platform_keys;
};

/// Loads and cross-checks the merchant key and WeChat Pay's keys (the public
/// key by id, the certificates folder, or both). On failure the detail starts
/// with the config key to fix, e.g. `wechatpay.platform_public_key_file:
/// '/etc/pay/pub_key.pem' is the merchant's own public key (...)`, with the
/// code saying why: key_file_unreadable, key_parse_failed,
/// key_is_merchant_own (WeChat's slot holds the public half of
/// merchant_private_key_file, the classic mistake), missing_field,
/// invalid_field, duplicate_key_id, or no_platform_keys (neither configured,
/// or an empty folder). Reads files; call at start-up, not on a hot path.
expected<credentials, protocol_error> load_credentials(const credential_files& files);

/// Checks the APIv3 key is exactly 32 bytes (the AES-256 key). Fails with
/// bad_apiv3_key naming `wechatpay.apiv3_key` and the actual length; the key
/// itself never appears in the message.
check_result validate_apiv3_key(std::string_view apiv3_key);

} // namespace paycoord::wechatpay
