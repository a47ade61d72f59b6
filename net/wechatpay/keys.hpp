#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <openssl/types.h>

#include "common/expected.hpp"
#include "net/wechatpay/error.hpp"

namespace paycoord::wechatpay {

/// Frees an OpenSSL key; lets `std::unique_ptr` own one.
struct evp_pkey_deleter {
  void operator()(EVP_PKEY* key) const;
};

using evp_pkey_ptr = std::unique_ptr<EVP_PKEY, evp_pkey_deleter>;

/// Shared ownership of an immutable OpenSSL key: a copy takes another
/// reference (EVP_PKEY_up_ref) instead of duplicating the key.
class shared_evp_pkey {
public:
  explicit shared_evp_pkey(evp_pkey_ptr key) : key_(std::move(key)) {
  }

  shared_evp_pkey(const shared_evp_pkey& other);
  shared_evp_pkey& operator=(const shared_evp_pkey& other);
  shared_evp_pkey(shared_evp_pkey&&) noexcept = default;
  shared_evp_pkey& operator=(shared_evp_pkey&&) noexcept = default;

  EVP_PKEY* get() const {
    return key_.get();
  }

private:
  evp_pkey_ptr key_;
};

/// An RSA public key (WeChat Pay's key, or a merchant's for our sandbox).
/// Immutable after loading, so one instance may verify from many threads at
/// once. Copies share the underlying OpenSSL key (reference counted).
class public_key {
public:
  /// Parses an SPKI `-----BEGIN PUBLIC KEY-----` PEM holding an RSA key.
  /// Fails with key_parse_failed, naming the PEM block found instead, if any.
  static expected<public_key, protocol_error> from_pem(std::string_view pem);

  /// Reads `path` (at most 1 MiB) and parses it as `from_pem`. Fails with
  /// key_file_unreadable (and the OS reason) or key_parse_failed.
  static expected<public_key, protocol_error> from_pem_file(const std::string& path);

  /// Takes ownership of `key`, which must be non-null.
  explicit public_key(evp_pkey_ptr key);

  /// True when both hold the same RSA modulus and exponent.
  bool operator==(const public_key& other) const;

  /// The OpenSSL key, owned by this object; valid while it lives.
  EVP_PKEY* native() const {
    return key_.get();
  }

private:
  shared_evp_pkey key_;
};

/// An RSA private key (the merchant API key, or WeChat's for our sandbox).
/// Immutable after loading; may sign from many threads at once. Copies share
/// the underlying OpenSSL key.
class private_key {
public:
  /// Parses an RSA private key PEM: PKCS#8 (`BEGIN PRIVATE KEY`, what the
  /// merchant platform hands out as apiclient_key.pem) or PKCS#1 (`BEGIN RSA
  /// PRIVATE KEY`). Encrypted PEM is refused (never prompts for a password).
  /// Fails with key_parse_failed.
  static expected<private_key, protocol_error> from_pem(std::string_view pem);

  /// Reads `path` (at most 1 MiB) and parses it as `from_pem`. Fails with
  /// key_file_unreadable or key_parse_failed.
  static expected<private_key, protocol_error> from_pem_file(const std::string& path);

  /// Takes ownership of `key`, which must be non-null and hold a private key.
  explicit private_key(evp_pkey_ptr key);

  /// The OpenSSL key, owned by this object; valid while it lives.
  EVP_PKEY* native() const {
    return key_.get();
  }

private:
  shared_evp_pkey key_;
};

/// The public half of `key` as a key that holds no private material.
public_key public_key_of(const private_key& key);

/// A platform certificate reduced to what verification needs.
struct certificate {
  /// The serial number as upper-case hex, as WeChat Pay's `Wechatpay-Serial`
  /// writes it (BN_bn2hex: whole bytes, so it may start with a 0).
  std::string serial;
  public_key key;
};

/// Parses an X.509 `-----BEGIN CERTIFICATE-----` PEM with an RSA key. Does
/// not check validity dates or the issuer: the configured certificates are
/// trusted as given. Fails with key_parse_failed.
expected<certificate, protocol_error> certificate_from_pem(std::string_view pem);

/// Reads `path` (at most 1 MiB) and parses it as `certificate_from_pem`.
expected<certificate, protocol_error> certificate_from_pem_file(const std::string& path);

} // namespace paycoord::wechatpay
