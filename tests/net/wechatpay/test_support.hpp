#pragma once

// Fixtures shared by the WeChat Pay tests: the vectors file, the test-only
// keys beside it, temporary folders and test-only certificates made at run
// time.

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/time.hpp"
#include "net/wechatpay/keys.hpp"
#include "net/wechatpay/signed_headers.hpp"

namespace paycoord::wechatpay::test {

/// `$PAYCOORD_SOURCE_DIR/tests/data/wechatpay/<name>`; fails the test run
/// when ctest did not set PAYCOORD_SOURCE_DIR.
std::string fixture_path(std::string_view name);

std::string read_file(const std::string& path);

void write_file(const std::string& path, std::string_view text);

/// wechatpay_v3.json, parsed once.
const nlohmann::json& vectors();

/// A key named in the vectors' "keys" object (e.g. "merchant_private").
private_key load_private_key(std::string_view vector_name);
public_key load_public_key(std::string_view vector_name);

/// Unix seconds as a decimal string (as the headers carry them) to a time.
timestamp at_seconds(std::string_view unix_seconds);
timestamp at_seconds(int64_t unix_seconds);

/// The signature headers of a vector's "headers" object.
signed_headers headers_of(const nlohmann::json& headers);

/// A test-only self-signed X.509 certificate PEM for `key` with the given
/// hexadecimal serial, valid from now for a day.
std::string make_certificate_pem(const private_key& key, std::string_view serial_hex);

/// A fresh empty folder, removed with its contents on destruction.
class temp_dir {
public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::string& path() const {
    return path_;
  }

  /// `path()/name`.
  std::string file(std::string_view name) const;

private:
  std::string path_;
};

} // namespace paycoord::wechatpay::test
