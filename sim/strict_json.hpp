#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/time.hpp"
#include "config/config.hpp"

namespace paycoord::sim {

/// Reads one JSON object strictly, for paysim's config file and the bodies of
/// its control API: each reader takes a key when present (absent keys keep
/// the caller's value), checks its type and range, and `unknown_key` then
/// names any key nobody read. The first problem wins and names the key by
/// its full path (`faults.notify.drop_rate`); later reads do nothing, so a
/// caller reads every field and checks once. Never throws.
class strict_object {
public:
  /// `object` must outlive this reader; `path` is its own key path ("" for
  /// the top level). `error` is shared by the readers of nested objects.
  strict_object(const nlohmann::json& object, std::string path,
                std::optional<config_error>& error);

  /// A string; with `required`, absence or "" is an error.
  void text(std::string_view key, std::string& out, bool required = false);

  /// A number within [min, max] (a rate, a factor).
  void number(std::string_view key, double& out, double min, double max);

  /// An integer within [min, max].
  void integer(std::string_view key, int64_t& out, int64_t min, int64_t max);

  void flag(std::string_view key, bool& out);

  /// A duration string with a unit (`"250ms"`, `"5s"`, see `parse_duration`).
  void span(std::string_view key, duration& out);

  /// The reader of the nested object `key`, or nullopt when it is absent or
  /// not an object (then an error).
  std::optional<strict_object> object(std::string_view key);

  /// The raw value of `key` (marked as read), or null when absent.
  const nlohmann::json* raw(std::string_view key);

  /// Records an error about `key` found by the caller.
  void fail(std::string_view key, std::string reason);

  /// Records an error for the first key that no reader took (reads all first).
  void reject_unknown_keys();

  /// The full path of `key` in this object.
  std::string path_of(std::string_view key) const;

  bool failed() const {
    return error_.has_value();
  }

private:
  const nlohmann::json* find(std::string_view key);

  const nlohmann::json& object_;
  std::string path_;
  std::optional<config_error>& error_;
  std::set<std::string, std::less<>> read_;
};

/// Parses `text` as a JSON object for a strict reader; the error names
/// `what` (a file path, or "body").
std::optional<nlohmann::json> parse_json_object(std::string_view text, std::string_view what,
                                                std::optional<config_error>& error);

} // namespace paycoord::sim
