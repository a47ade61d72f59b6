#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "net/wechatpay/error.hpp"
#include "net/wechatpay/keys.hpp"

namespace paycoord::wechatpay {

/// The prefix of a WeChat Pay public-key id, as opposed to a certificate serial.
inline constexpr std::string_view public_key_id_prefix = "PUB_KEY_ID_";

/// WeChat Pay's verification keys, chosen by the `Wechatpay-Serial` header:
/// the public key by its `PUB_KEY_ID_...` id and any number of platform
/// certificates by serial, all live at once (during a switch-over WeChat signs
/// with either). Built once at start-up, then read-only: concurrent `find`
/// calls are safe, adding while others read is not.
class key_set {
public:
  /// Adds WeChat Pay's public key under `key_id`, which must start with
  /// `PUB_KEY_ID_` (matched exactly). Fails with invalid_field for another
  /// id and duplicate_key_id when the id is already present.
  check_result add_public_key(std::string key_id, public_key key);

  /// Adds a platform certificate under its serial, matched as a hexadecimal
  /// number (case and leading zeros do not matter). Fails with
  /// duplicate_key_id when that serial is already present.
  check_result add_certificate(const certificate& cert);

  /// The key for a `Wechatpay-Serial` value, or null when none matches. The
  /// pointer stays valid while this set lives and is not modified.
  const public_key* find(std::string_view serial) const;

  /// The ids and serials as added, for error messages ("known: ...").
  std::vector<std::string> known_ids() const;

  bool empty() const {
    return entries_.empty();
  }

  size_t size() const {
    return entries_.size();
  }

private:
  struct entry {
    std::string id;        // as configured, for messages
    std::string match_key; // what `find` compares
    public_key key;
  };

  check_result add(std::string id, std::string match_key, public_key key);

  std::vector<entry> entries_;
};

} // namespace paycoord::wechatpay
