#include "tests/net/wechatpay/test_support.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace paycoord::wechatpay::test {

std::string fixture_path(std::string_view name) {
  const char* root = std::getenv("PAYCOORD_SOURCE_DIR");
  if (root == nullptr) {
    ADD_FAILURE() << "PAYCOORD_SOURCE_DIR is not set: run the tests with ctest";
    std::abort();
  }
  return std::string{root} + "/tests/data/wechatpay/" + std::string{name};
}

std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    throw std::runtime_error("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file(const std::string& path, std::string_view text) {
  std::ofstream out{path, std::ios::binary};
  out << text;
  if (!out)
    throw std::runtime_error("cannot write " + path);
}

const nlohmann::json& vectors() {
  static const nlohmann::json doc = nlohmann::json::parse(read_file(fixture_path("wechatpay_v3.json")));
  return doc;
}

namespace {

std::string key_file(std::string_view vector_name) {
  return fixture_path(vectors().at("keys").at(std::string{vector_name}).get<std::string>());
}

} // namespace

private_key load_private_key(std::string_view vector_name) {
  auto key = private_key::from_pem_file(key_file(vector_name));
  if (!key)
    throw std::runtime_error(key.error().message());
  return std::move(*key);
}

public_key load_public_key(std::string_view vector_name) {
  auto key = public_key::from_pem_file(key_file(vector_name));
  if (!key)
    throw std::runtime_error(key.error().message());
  return std::move(*key);
}

timestamp at_seconds(std::string_view unix_seconds) {
  return at_seconds(std::stoll(std::string{unix_seconds}));
}

timestamp at_seconds(int64_t unix_seconds) {
  return from_unix_ms(unix_seconds * 1000);
}

signed_headers headers_of(const nlohmann::json& headers) {
  auto get = [&](std::string_view name) {
    auto it = headers.find(std::string{name});
    return it == headers.end() ? std::string{} : it->get<std::string>();
  };
  return signed_headers{get(timestamp_header), get(nonce_header), get(signature_header),
                        get(serial_header), get(signature_type_header)};
}

std::string make_certificate_pem(const private_key& key, std::string_view serial_hex) {
  std::unique_ptr<X509, decltype(&X509_free)> cert{X509_new(), X509_free};
  BIGNUM* serial = nullptr;
  if (BN_hex2bn(&serial, std::string{serial_hex}.c_str()) == 0)
    throw std::runtime_error("bad serial hex");
  BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert.get()));
  BN_free(serial);
  X509_set_version(cert.get(), X509_VERSION_3);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("paycoord test only"), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.native());
  if (X509_sign(cert.get(), key.native(), EVP_sha256()) == 0)
    throw std::runtime_error("X509_sign failed");
  std::unique_ptr<BIO, decltype(&BIO_free)> bio{BIO_new(BIO_s_mem()), BIO_free};
  PEM_write_bio_X509(bio.get(), cert.get());
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

temp_dir::temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "paycoord-wechatpay-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string temp_dir::file(std::string_view name) const {
  return path_ + "/" + std::string{name};
}

} // namespace paycoord::wechatpay::test
