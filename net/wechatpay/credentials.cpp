#include "net/wechatpay/credentials.hpp"

#include <algorithm>
#include <filesystem>
#include <vector>

namespace paycoord::wechatpay {

namespace {

constexpr std::string_view merchant_key_config = "wechatpay.merchant_private_key_file";
constexpr std::string_view public_key_id_config = "wechatpay.platform_public_key_id";
constexpr std::string_view public_key_file_config = "wechatpay.platform_public_key_file";
constexpr std::string_view certificates_dir_config = "wechatpay.platform_certificates_dir";

// A certificates folder holds a handful of files; more is a wrong path.
constexpr size_t max_certificate_files = 64;

unexpected<protocol_error> config_error(std::string_view config_key, const protocol_error& e) {
  return fail(e.code, std::string{config_key} + ": " + e.detail);
}

unexpected<protocol_error> config_error(std::string_view config_key, wechatpay_error code,
                                        std::string reason) {
  return config_error(config_key, protocol_error{code, std::move(reason)});
}

unexpected<protocol_error> merchant_own_key(std::string_view config_key, const std::string& path) {
  return config_error(config_key, wechatpay_error::key_is_merchant_own,
                      "'" + path + "' is the merchant's own public key (the public half of "
                        + std::string{merchant_key_config}
                        + "); configure WeChat Pay's key downloaded from the merchant platform");
}

check_result load_public_key(const credential_files& files, const public_key& merchant_public,
                             key_set& keys) {
  if (files.platform_public_key_id.empty())
    return config_error(public_key_id_config, wechatpay_error::missing_field,
                        "required with " + std::string{public_key_file_config});
  auto key = public_key::from_pem_file(files.platform_public_key_file);
  if (!key)
    return config_error(public_key_file_config, key.error());
  if (*key == merchant_public)
    return merchant_own_key(public_key_file_config, files.platform_public_key_file);
  if (auto added = keys.add_public_key(files.platform_public_key_id, std::move(*key)); !added)
    return config_error(public_key_id_config, added.error());
  return check_passed();
}

check_result load_certificates(const std::string& dir, const public_key& merchant_public,
                               key_set& keys) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::string> paths;
  fs::directory_iterator it{dir, ec};
  for (; !ec && it != fs::directory_iterator{}; it.increment(ec)) {
    if (it->path().extension() == ".pem" && it->is_regular_file(ec))
      paths.push_back(it->path().string());
    if (paths.size() > max_certificate_files)
      return config_error(certificates_dir_config, wechatpay_error::invalid_field,
                          "'" + dir + "' holds more than "
                            + std::to_string(max_certificate_files) + " .pem files");
  }
  if (ec)
    return config_error(certificates_dir_config, wechatpay_error::key_file_unreadable,
                        "cannot list '" + dir + "': " + ec.message());
  if (paths.empty())
    return config_error(certificates_dir_config, wechatpay_error::no_platform_keys,
                        "'" + dir + "' holds no .pem certificate");
  std::sort(paths.begin(), paths.end()); // deterministic errors
  for (const auto& path : paths) {
    auto cert = certificate_from_pem_file(path);
    if (!cert)
      return config_error(certificates_dir_config, cert.error());
    if (cert->key == merchant_public)
      return merchant_own_key(certificates_dir_config, path);
    if (auto added = keys.add_certificate(*cert); !added)
      return config_error(certificates_dir_config,
                          protocol_error{added.error().code,
                                         "'" + path + "': " + added.error().detail});
  }
  return check_passed();
}

} // namespace

expected<credentials, protocol_error> load_credentials(const credential_files& files) {
  if (files.merchant_private_key_file.empty())
    return config_error(merchant_key_config, wechatpay_error::missing_field, "is required");
  auto merchant_key = private_key::from_pem_file(files.merchant_private_key_file);
  if (!merchant_key)
    return config_error(merchant_key_config, merchant_key.error());
  auto merchant_public = public_key_of(*merchant_key);
  key_set keys;
  if (!files.platform_public_key_file.empty()) {
    if (auto loaded = load_public_key(files, merchant_public, keys); !loaded)
      return make_unexpected(loaded.error());
  } else if (!files.platform_public_key_id.empty()) {
    return config_error(public_key_file_config, wechatpay_error::missing_field,
                        "required with " + std::string{public_key_id_config});
  }
  if (!files.platform_certificates_dir.empty()) {
    auto loaded = load_certificates(files.platform_certificates_dir, merchant_public, keys);
    if (!loaded)
      return make_unexpected(loaded.error());
  }
  if (keys.empty())
    return config_error(public_key_file_config, wechatpay_error::no_platform_keys,
                        "WeChat Pay's key is not configured: set it with "
                          + std::string{public_key_id_config} + ", or set "
                          + std::string{certificates_dir_config});
  return credentials{std::move(*merchant_key), std::move(keys)};
}

check_result validate_apiv3_key(std::string_view apiv3_key) {
  if (apiv3_key.size() != 32)
    return fail(wechatpay_error::bad_apiv3_key,
                "wechatpay.apiv3_key must be exactly 32 bytes, it is "
                  + std::to_string(apiv3_key.size())
                  + " (the APIv3 key as set in the merchant platform)");
  return check_passed();
}

} // namespace paycoord::wechatpay
