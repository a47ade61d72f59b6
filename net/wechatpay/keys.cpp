#include "net/wechatpay/keys.hpp"

#include <cassert>
#include <cerrno>
#include <cstring>
#include <fstream>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace paycoord::wechatpay {

namespace {

constexpr size_t max_pem_bytes = 1 << 20;

struct bio_deleter {
  void operator()(BIO* bio) const {
    BIO_free(bio);
  }
};

struct x509_deleter {
  void operator()(X509* cert) const {
    X509_free(cert);
  }
};

struct bignum_deleter {
  void operator()(BIGNUM* bn) const {
    BN_free(bn);
  }
};

using bio_ptr = std::unique_ptr<BIO, bio_deleter>;

// A read-only memory BIO over `pem`, or null when it is too large.
bio_ptr memory_bio(std::string_view pem) {
  if (pem.size() > max_pem_bytes)
    return nullptr;
  return bio_ptr{BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))};
}

// Refuses encrypted PEM instead of OpenSSL's default: prompting on the tty.
int refuse_password(char*, int, int, void*) {
  return -1;
}

// Why OpenSSL failed, for the operator; also clears the thread's error queue
// so that the failure does not surface in an unrelated later call.
std::string drain_openssl_errors() {
  std::string reason;
  while (unsigned long code = ERR_get_error()) {
    if (reason.empty()) {
      char buf[256];
      ERR_error_string_n(code, buf, sizeof(buf));
      reason = buf;
    }
  }
  return reason;
}

// "found a 'CERTIFICATE' PEM block" or "found no PEM block": tells the
// operator which file went into which slot.
std::string describe_pem(std::string_view pem) {
  constexpr std::string_view begin = "-----BEGIN ";
  auto start = pem.find(begin);
  if (start == std::string_view::npos)
    return "found no PEM block";
  start += begin.size();
  auto end = pem.find("-----", start);
  if (end == std::string_view::npos || end - start > 64)
    return "found no PEM block";
  return "found a '" + std::string{pem.substr(start, end - start)} + "' PEM block";
}

unexpected<protocol_error> parse_failure(std::string_view pem, std::string_view expected_kind) {
  auto reason = drain_openssl_errors();
  std::string detail = "not a PEM " + std::string{expected_kind} + " (" + describe_pem(pem);
  if (!reason.empty())
    detail += "; openssl: " + reason;
  detail += ")";
  return fail(wechatpay_error::key_parse_failed, std::move(detail));
}

// Reads the first PEM object of `pem` with `read` (a PEM_read_bio_*
// function), or fails naming the kind expected and the block found.
template <class Object, class Deleter>
expected<std::unique_ptr<Object, Deleter>, protocol_error>
read_pem(std::string_view pem, Object* (*read)(BIO*, Object**, pem_password_cb*, void*),
         std::string_view expected_kind) {
  auto bio = memory_bio(pem);
  if (!bio)
    return fail(wechatpay_error::key_parse_failed, "PEM text larger than 1 MiB");
  std::unique_ptr<Object, Deleter> object{read(bio.get(), nullptr, refuse_password, nullptr)};
  if (!object)
    return parse_failure(pem, expected_kind);
  return object;
}

expected<evp_pkey_ptr, protocol_error> require_rsa(evp_pkey_ptr key) {
  if (!key)
    return fail(wechatpay_error::key_parse_failed, "no usable public key: "
                                                     + drain_openssl_errors());
  if (EVP_PKEY_is_a(key.get(), "RSA") != 1)
    return fail(wechatpay_error::key_parse_failed,
                "key type " + std::string{EVP_PKEY_get0_type_name(key.get()) != nullptr
                                            ? EVP_PKEY_get0_type_name(key.get())
                                            : "unknown"}
                  + " is not RSA (WeChat Pay v3 uses RSA 2048)");
  return key;
}

// An RSA key read from `pem` with `read`, wrapped as `Key`.
template <class Key>
expected<Key, protocol_error> read_rsa_key(std::string_view pem,
                                           EVP_PKEY* (*read)(BIO*, EVP_PKEY**, pem_password_cb*,
                                                             void*),
                                           std::string_view expected_kind) {
  auto key = read_pem<EVP_PKEY, evp_pkey_deleter>(pem, read, expected_kind);
  if (!key)
    return make_unexpected(key.error());
  auto rsa = require_rsa(std::move(*key));
  if (!rsa)
    return make_unexpected(rsa.error());
  return Key{std::move(*rsa)};
}

expected<std::string, protocol_error> read_small_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return fail(wechatpay_error::key_file_unreadable,
                "cannot read '" + path + "': " + std::strerror(errno));
  std::string text;
  char buf[4096];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > max_pem_bytes)
      return fail(wechatpay_error::key_file_unreadable,
                  "'" + path + "' is larger than 1 MiB: not a key file");
  }
  if (in.bad())
    return fail(wechatpay_error::key_file_unreadable, "error reading '" + path + "'");
  return text;
}

// Loads `path` with `parse`, naming the file in any error.
template <class Parse>
auto parse_file(const std::string& path, Parse parse) -> decltype(parse(std::string_view{})) {
  auto text = read_small_file(path);
  if (!text)
    return make_unexpected(text.error());
  auto result = parse(*text);
  if (!result)
    return fail(result.error().code, "'" + path + "': " + result.error().detail);
  return result;
}

EVP_PKEY* up_ref(EVP_PKEY* key) {
  if (key != nullptr)
    EVP_PKEY_up_ref(key);
  return key;
}

} // namespace

void evp_pkey_deleter::operator()(EVP_PKEY* key) const {
  EVP_PKEY_free(key);
}

shared_evp_pkey::shared_evp_pkey(const shared_evp_pkey& other) : key_(up_ref(other.get())) {
}

shared_evp_pkey& shared_evp_pkey::operator=(const shared_evp_pkey& other) {
  if (this != &other)
    key_.reset(up_ref(other.get()));
  return *this;
}

// -- public_key ---------------------------------------------------------------

expected<public_key, protocol_error> public_key::from_pem(std::string_view pem) {
  return read_rsa_key<public_key>(pem, PEM_read_bio_PUBKEY, "'PUBLIC KEY' (SPKI)");
}

expected<public_key, protocol_error> public_key::from_pem_file(const std::string& path) {
  return parse_file(path, public_key::from_pem);
}

public_key::public_key(evp_pkey_ptr key) : key_(std::move(key)) {
}

bool public_key::operator==(const public_key& other) const {
  if (native() == nullptr || other.native() == nullptr)
    return native() == other.native();
  return EVP_PKEY_eq(native(), other.native()) == 1;
}

// -- private_key --------------------------------------------------------------

expected<private_key, protocol_error> private_key::from_pem(std::string_view pem) {
  return read_rsa_key<private_key>(pem, PEM_read_bio_PrivateKey,
                                   "'PRIVATE KEY' (PKCS#8) or 'RSA PRIVATE KEY' (PKCS#1)");
}

expected<private_key, protocol_error> private_key::from_pem_file(const std::string& path) {
  return parse_file(path, private_key::from_pem);
}

private_key::private_key(evp_pkey_ptr key) : key_(std::move(key)) {
}

public_key public_key_of(const private_key& key) {
  // A DER round trip through SubjectPublicKeyInfo drops the private parts.
  unsigned char* der = nullptr;
  int length = i2d_PUBKEY(key.native(), &der);
  assert(length > 0);
  const unsigned char* cursor = der;
  evp_pkey_ptr pub{d2i_PUBKEY(nullptr, &cursor, length)};
  OPENSSL_free(der);
  assert(pub);
  return public_key{std::move(pub)};
}

// -- certificate --------------------------------------------------------------

expected<certificate, protocol_error> certificate_from_pem(std::string_view pem) {
  auto cert = read_pem<X509, x509_deleter>(pem, PEM_read_bio_X509, "'CERTIFICATE' (X.509)");
  if (!cert)
    return make_unexpected(cert.error());
  std::unique_ptr<BIGNUM, bignum_deleter> serial{
    ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert->get()), nullptr)};
  if (!serial)
    return parse_failure(pem, "certificate with a serial number");
  char* hex = BN_bn2hex(serial.get());
  std::string serial_hex = hex != nullptr ? hex : "";
  OPENSSL_free(hex);
  auto key = require_rsa(evp_pkey_ptr{X509_get_pubkey(cert->get())});
  if (!key)
    return make_unexpected(key.error());
  return certificate{std::move(serial_hex), public_key{std::move(*key)}};
}

expected<certificate, protocol_error> certificate_from_pem_file(const std::string& path) {
  return parse_file(path, certificate_from_pem);
}

} // namespace paycoord::wechatpay
