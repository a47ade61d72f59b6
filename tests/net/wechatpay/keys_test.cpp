#include "net/wechatpay/keys.hpp"

#include <memory>

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>

#include "net/wechatpay/signing.hpp"
#include "tests/net/wechatpay/test_support.hpp"

using namespace paycoord::wechatpay;
using namespace paycoord::wechatpay::test;

namespace {

// The merchant key re-encoded as PKCS#1 (`BEGIN RSA PRIVATE KEY`), the form
// older merchant tooling writes.
std::string pkcs1_pem(const private_key& key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio{BIO_new(BIO_s_mem()), BIO_free};
  EXPECT_EQ(PEM_write_bio_PrivateKey_traditional(bio.get(), key.native(), nullptr, nullptr, 0,
                                                 nullptr, nullptr),
            1);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

} // namespace

TEST(keys, pkcs1_and_pkcs8_private_keys_are_the_same_key) {
  auto pkcs8 = load_private_key("merchant_private");
  auto pem = pkcs1_pem(pkcs8);
  ASSERT_NE(pem.find("BEGIN RSA PRIVATE KEY"), std::string::npos);
  auto pkcs1 = private_key::from_pem(pem);
  ASSERT_TRUE(pkcs1) << pkcs1.error().message();
  EXPECT_TRUE(public_key_of(*pkcs1) == public_key_of(pkcs8));
  EXPECT_EQ(*sign_sha256_rsa(*pkcs1, "message"), *sign_sha256_rsa(pkcs8, "message"));
}

TEST(keys, wrong_pem_kinds_name_what_was_found) {
  auto private_pem = read_file(fixture_path("merchant_private.pem"));
  auto as_public = public_key::from_pem(private_pem);
  ASSERT_FALSE(as_public);
  EXPECT_EQ(as_public.error().code, wechatpay_error::key_parse_failed);
  EXPECT_NE(as_public.error().detail.find("'PRIVATE KEY'"), std::string::npos)
    << as_public.error().detail;

  auto public_pem = read_file(fixture_path("merchant_public.pem"));
  auto as_private = private_key::from_pem(public_pem);
  ASSERT_FALSE(as_private);
  EXPECT_EQ(as_private.error().code, wechatpay_error::key_parse_failed);
  EXPECT_NE(as_private.error().detail.find("'PUBLIC KEY'"), std::string::npos);

  auto as_certificate = certificate_from_pem(public_pem);
  ASSERT_FALSE(as_certificate);
  EXPECT_EQ(as_certificate.error().code, wechatpay_error::key_parse_failed);

  for (std::string_view garbage : {"", "not a key", "-----BEGIN PUBLIC KEY-----\nAAAA\n"}) {
    EXPECT_FALSE(public_key::from_pem(garbage));
    EXPECT_FALSE(private_key::from_pem(garbage));
    EXPECT_FALSE(certificate_from_pem(garbage));
  }
}

TEST(keys, missing_file_is_unreadable_and_named) {
  auto key = private_key::from_pem_file("/nonexistent/apiclient_key.pem");
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().code, wechatpay_error::key_file_unreadable);
  EXPECT_NE(key.error().detail.find("/nonexistent/apiclient_key.pem"), std::string::npos);
}

TEST(keys, unparsable_file_names_the_file) {
  temp_dir dir;
  write_file(dir.file("pub_key.pem"), "hello");
  auto key = public_key::from_pem_file(dir.file("pub_key.pem"));
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().code, wechatpay_error::key_parse_failed);
  EXPECT_NE(key.error().detail.find(dir.file("pub_key.pem")), std::string::npos);
}

TEST(keys, certificate_gives_serial_and_key) {
  auto platform = load_private_key("platform_private");
  auto cert = certificate_from_pem(make_certificate_pem(platform, "5157F09EFDC096DE15EB"));
  ASSERT_TRUE(cert) << cert.error().message();
  EXPECT_EQ(cert->serial, "5157F09EFDC096DE15EB");
  EXPECT_TRUE(cert->key == load_public_key("platform_public"));
}

TEST(keys, copies_share_the_key_and_stay_usable) {
  auto key = load_public_key("platform_public");
  public_key copy = key;
  public_key assigned = load_public_key("merchant_public");
  assigned = copy;
  EXPECT_TRUE(copy == key);
  EXPECT_TRUE(assigned == key);
  auto signer = load_private_key("platform_private");
  private_key signer_copy = signer;
  auto signature = sign_sha256_rsa(signer_copy, "m");
  ASSERT_TRUE(signature);
  EXPECT_TRUE(verify_sha256_rsa(assigned, "m", *signature));
}
