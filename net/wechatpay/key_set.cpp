#include "net/wechatpay/key_set.hpp"

#include <algorithm>
#include <optional>

namespace paycoord::wechatpay {

namespace {

// Public-key ids and certificate serials live in separate name spaces.
std::string id_match_key(std::string_view key_id) {
  return "id:" + std::string{key_id};
}

// A serial as a canonical hexadecimal number: upper case, no leading zeros.
// Nullopt when it is not hexadecimal (or absurdly long: X.509 caps serials at
// 20 bytes).
std::optional<std::string> serial_match_key(std::string_view serial) {
  if (serial.empty() || serial.size() > 128)
    return std::nullopt;
  std::string digits;
  for (char c : serial) {
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex)
      return std::nullopt;
    if (digits.empty() && c == '0')
      continue;
    digits += static_cast<char>(c >= 'a' ? c - 'a' + 'A' : c);
  }
  return "serial:" + (digits.empty() ? std::string{"0"} : digits);
}

std::optional<std::string> match_key_of(std::string_view serial) {
  if (serial.starts_with(public_key_id_prefix))
    return id_match_key(serial);
  return serial_match_key(serial);
}

} // namespace

check_result key_set::add_public_key(std::string key_id, public_key key) {
  if (!key_id.starts_with(public_key_id_prefix) || key_id.size() > 128)
    return fail(wechatpay_error::invalid_field,
                "public key id '" + key_id + "' does not start with "
                  + std::string{public_key_id_prefix});
  auto match = id_match_key(key_id);
  return add(std::move(key_id), std::move(match), std::move(key));
}

check_result key_set::add_certificate(const certificate& cert) {
  auto match = serial_match_key(cert.serial);
  if (!match)
    return fail(wechatpay_error::invalid_field,
                "certificate serial '" + cert.serial + "' is not hexadecimal");
  return add(cert.serial, std::move(*match), cert.key);
}

check_result key_set::add(std::string id, std::string match_key, public_key key) {
  for (const auto& existing : entries_)
    if (existing.match_key == match_key)
      return fail(wechatpay_error::duplicate_key_id,
                  "'" + id + "' is already in the key set as '" + existing.id + "'");
  entries_.push_back(entry{std::move(id), std::move(match_key), std::move(key)});
  return check_passed();
}

const public_key* key_set::find(std::string_view serial) const {
  auto match = match_key_of(serial);
  if (!match)
    return nullptr;
  auto found = std::find_if(entries_.begin(), entries_.end(),
                            [&](const entry& e) { return e.match_key == *match; });
  return found == entries_.end() ? nullptr : &found->key;
}

std::vector<std::string> key_set::known_ids() const {
  std::vector<std::string> ids;
  ids.reserve(entries_.size());
  for (const auto& e : entries_)
    ids.push_back(e.id);
  return ids;
}

} // namespace paycoord::wechatpay
