#include "net/wechatpay/credentials.hpp"

#include <filesystem>

#include <gtest/gtest.h>

#include "tests/net/wechatpay/test_support.hpp"

using namespace paycoord::wechatpay;
using namespace paycoord::wechatpay::test;

namespace {

constexpr std::string_view pub_key_id = "PUB_KEY_ID_0119000000012026112600000000000001";

credential_files with_public_key() {
  return credential_files{fixture_path("merchant_private.pem"), std::string{pub_key_id},
                          fixture_path("platform_public.pem"), ""};
}

// Expects failure with `code` and a detail that starts with `config_key`.
void expect_config_error(const credential_files& files, wechatpay_error code,
                         std::string_view config_key) {
  auto loaded = load_credentials(files);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code, code) << loaded.error().message();
  EXPECT_EQ(loaded.error().detail.rfind(std::string{config_key} + ": ", 0), 0u)
    << loaded.error().message();
}

} // namespace

TEST(credentials, loads_merchant_key_and_public_key_by_id) {
  auto loaded = load_credentials(with_public_key());
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_TRUE(public_key_of(loaded->merchant_key) == load_public_key("merchant_public"));
  ASSERT_NE(loaded->platform_keys.find(pub_key_id), nullptr);
  EXPECT_TRUE(*loaded->platform_keys.find(pub_key_id) == load_public_key("platform_public"));
}

TEST(credentials, loads_certificates_folder_alone_or_with_public_key) {
  temp_dir dir;
  auto platform = load_private_key("platform_private");
  write_file(dir.file("wechatpay_old.pem"), make_certificate_pem(platform, "0A1B"));
  write_file(dir.file("wechatpay_new.pem"), make_certificate_pem(platform, "0C2D"));
  write_file(dir.file("README.txt"), "not a certificate, and not a .pem");

  credential_files files{fixture_path("merchant_private.pem"), "", "", dir.path()};
  auto alone = load_credentials(files);
  ASSERT_TRUE(alone) << alone.error().message();
  EXPECT_EQ(alone->platform_keys.size(), 2u);
  EXPECT_NE(alone->platform_keys.find("a1b"), nullptr);
  EXPECT_NE(alone->platform_keys.find("C2D"), nullptr);

  auto both_files = with_public_key();
  both_files.platform_certificates_dir = dir.path();
  auto both = load_credentials(both_files);
  ASSERT_TRUE(both) << both.error().message();
  EXPECT_EQ(both->platform_keys.size(), 3u);
}

TEST(credentials, merchant_own_public_key_in_wechat_slot_is_named) {
  auto files = with_public_key();
  files.platform_public_key_file = fixture_path("merchant_public.pem");
  expect_config_error(files, wechatpay_error::key_is_merchant_own,
                      "wechatpay.platform_public_key_file");
}

TEST(credentials, merchant_own_certificate_in_folder_is_named) {
  temp_dir dir;
  write_file(dir.file("apiclient_cert.pem"),
             make_certificate_pem(load_private_key("merchant_private"), "5157F09E"));
  credential_files files{fixture_path("merchant_private.pem"), "", "", dir.path()};
  expect_config_error(files, wechatpay_error::key_is_merchant_own,
                      "wechatpay.platform_certificates_dir");
  auto loaded = load_credentials(files);
  EXPECT_NE(loaded.error().detail.find("apiclient_cert.pem"), std::string::npos);
}

TEST(credentials, missing_or_unparsable_files_name_the_config_key) {
  auto files = with_public_key();
  files.merchant_private_key_file = "/nonexistent/apiclient_key.pem";
  expect_config_error(files, wechatpay_error::key_file_unreadable,
                      "wechatpay.merchant_private_key_file");

  files = with_public_key();
  files.merchant_private_key_file = fixture_path("merchant_public.pem");
  expect_config_error(files, wechatpay_error::key_parse_failed,
                      "wechatpay.merchant_private_key_file");

  files = with_public_key();
  files.platform_public_key_file = fixture_path("platform_private.pem");
  expect_config_error(files, wechatpay_error::key_parse_failed,
                      "wechatpay.platform_public_key_file");

  files = with_public_key();
  files.platform_public_key_file = "/nonexistent/pub_key.pem";
  expect_config_error(files, wechatpay_error::key_file_unreadable,
                      "wechatpay.platform_public_key_file");

  temp_dir dir;
  write_file(dir.file("broken.pem"), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  files = with_public_key();
  files.platform_certificates_dir = dir.path();
  expect_config_error(files, wechatpay_error::key_parse_failed,
                      "wechatpay.platform_certificates_dir");

  files.platform_certificates_dir = dir.file("missing");
  expect_config_error(files, wechatpay_error::key_file_unreadable,
                      "wechatpay.platform_certificates_dir");
}

TEST(credentials, incomplete_configuration_is_named) {
  auto files = with_public_key();
  files.merchant_private_key_file.clear();
  expect_config_error(files, wechatpay_error::missing_field,
                      "wechatpay.merchant_private_key_file");

  files = with_public_key();
  files.platform_public_key_id.clear();
  expect_config_error(files, wechatpay_error::missing_field, "wechatpay.platform_public_key_id");

  files = with_public_key();
  files.platform_public_key_file.clear();
  expect_config_error(files, wechatpay_error::missing_field,
                      "wechatpay.platform_public_key_file");

  files = with_public_key();
  files.platform_public_key_id = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
  expect_config_error(files, wechatpay_error::invalid_field, "wechatpay.platform_public_key_id");

  files = credential_files{fixture_path("merchant_private.pem"), "", "", ""};
  expect_config_error(files, wechatpay_error::no_platform_keys,
                      "wechatpay.platform_public_key_file");

  temp_dir empty;
  files.platform_certificates_dir = empty.path();
  expect_config_error(files, wechatpay_error::no_platform_keys,
                      "wechatpay.platform_certificates_dir");
}

TEST(credentials, apiv3_key_must_be_exactly_32_bytes) {
  EXPECT_TRUE(validate_apiv3_key(std::string(32, 'k')));
  for (size_t length : {0, 1, 31, 33, 64}) {
    std::string key(length, 'k');
    auto checked = validate_apiv3_key(key);
    ASSERT_FALSE(checked) << length;
    EXPECT_EQ(checked.error().code, wechatpay_error::bad_apiv3_key);
    EXPECT_NE(checked.error().detail.find("wechatpay.apiv3_key"), std::string::npos);
    EXPECT_NE(checked.error().detail.find(std::to_string(length)), std::string::npos);
  }
  auto secret = std::string{"Secret-Do-Not-Log-0123456789abc"};
  auto checked = validate_apiv3_key(secret);
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().message().find(secret), std::string::npos);
}
