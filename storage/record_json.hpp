#pragma once

// Reading and writing the store's JSON records strictly: an enum by name,
// a field of the wrong type makes the whole record corrupt (an error naming
// the key, never an exception). Private to storage/.

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/expected.hpp"
#include "storage/store_error.hpp"

namespace paycoord::record_json {

template <class Enum, size_t N>
std::optional<Enum> parse_enum(const std::array<const char*, N>& names,
                               std::string_view text) {
  for (size_t i = 0; i < N; ++i)
    if (text == names[i])
      return static_cast<Enum>(i);
  return std::nullopt;
}

inline store_error corrupt(std::string_view key, std::string what) {
  return store_error{store_errc::corrupt, std::string{key}, std::move(what)};
}

// Reads one optional field with a strict type; a present field of the wrong
// type makes the whole record corrupt.
class field_reader {
public:
  field_reader(const nlohmann::json& j, std::string_view key)
    : json_(j), key_(key) {
  }

  template <class T>
  void read(const char* name, T& out) {
    if (!ok())
      return;
    auto i = json_.find(name);
    if (i == json_.end())
      return;
    try {
      out = i->template get<T>();
    } catch (const nlohmann::json::exception&) {
      fail(std::string{"field '"} + name + "' has the wrong type");
    }
  }

  template <class Enum, class Parser>
  void read_enum(const char* name, Enum& out, Parser parse) {
    std::string text;
    read(name, text);
    if (!ok() || text.empty())
      return;
    if (auto v = parse(text))
      out = *v;
    else
      fail(std::string{"field '"} + name + "' has unknown value '" + text
           + "'");
  }

  void fail(std::string what) {
    if (ok())
      error_ = corrupt(key_, std::move(what));
  }

  bool ok() const {
    return !error_.has_value();
  }

  const store_error& error() const {
    return *error_;
  }

private:
  const nlohmann::json& json_;
  std::string_view key_;
  std::optional<store_error> error_;
};

inline expected<nlohmann::json, store_error> parse_object(std::string_view key,
                                                   std::string_view bytes) {
  auto j = nlohmann::json::parse(bytes, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return make_unexpected(corrupt(key, "not a JSON object"));
  return j;
}

/// The record's `v` is `current`: an error names a missing version, or one
/// written by a newer build.
inline expected<int, store_error> check_version(const nlohmann::json& j, std::string_view key,
                                                int current) {
  auto v = j.find("v");
  if (v == j.end() || !v->is_number_integer())
    return make_unexpected(corrupt(key, "record has no version"));
  if (v->get<int64_t>() != current)
    return make_unexpected(store_error{store_errc::unknown_version, std::string{key},
                                       "record version " + std::to_string(v->get<int64_t>())
                                         + " (this build reads " + std::to_string(current)
                                         + ")"});
  return current;
}

} // namespace paycoord::record_json
