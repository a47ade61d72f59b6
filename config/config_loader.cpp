// load_config and paycoord_environment: the layers file -> env -> overrides.

#include "config/config.hpp"

#include "common/json_input.hpp"
#include "common/text.hpp"
#include "config/config_fields.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <type_traits>

#include <unistd.h> // environ

namespace paycoord {

namespace {

using config_detail::field_kind;
using config_detail::for_each_field;
using json = nlohmann::json;
using problem = std::optional<config_error>;

/// A config file is a few KiB; anything near this is a mistake (or an attack).
constexpr std::size_t max_file_bytes = 1 << 20;

constexpr std::string_view env_prefix = "PAYCOORD_";

config_error error_at(std::string_view key, std::string reason) {
  return config_error{std::string(key), std::move(reason)};
}

// -- the key space, derived from for_each_field -----------------------------------

const std::set<std::string, std::less<>>& leaf_keys() {
  static const auto keys = [] {
    std::set<std::string, std::less<>> result;
    paycoord_config cfg;
    for_each_field(cfg, [&](std::string_view key, auto&, field_kind) { result.emplace(key); });
    return result;
  }();
  return keys;
}

/// Environment variable name -> key path.
const std::map<std::string, std::string, std::less<>>& env_keys() {
  static const auto names = [] {
    std::map<std::string, std::string, std::less<>> result;
    for (auto& key : leaf_keys())
      result.emplace(environment_name(key), key);
    return result;
  }();
  return names;
}

bool is_leaf(std::string_view path) {
  return leaf_keys().contains(path);
}

/// The direct children of `section` ("" for the top level), for hints.
std::string children_of(std::string_view section) {
  std::string prefix = section.empty() ? "" : std::string(section) + ".";
  std::vector<std::string> names;
  for (auto& key : leaf_keys()) {
    if (!key.starts_with(prefix))
      continue;
    auto child = key.substr(prefix.size(), key.find('.', prefix.size()) - prefix.size());
    if (std::find(names.begin(), names.end(), child) == names.end())
      names.push_back(child);
  }
  std::string list;
  for (auto& name : names)
    list += (list.empty() ? "" : ", ") + name;
  return list;
}

bool is_section(std::string_view path) {
  return !is_leaf(path) && !children_of(path).empty();
}

std::string squashed(std::string_view name) {
  std::string result;
  for (char c : name)
    if (c != '_')
      result += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return result;
}

std::string unknown_variable_reason(std::string_view name) {
  std::string reason = "unknown variable: no config key has this name (PAYCOORD_ then the "
                       "key path in upper case with dots as __, e.g. "
                       "PAYCOORD_WECHATPAY__APIV3_KEY)";
  // The usual slip is the number of underscores.
  for (auto& [known, key] : env_keys())
    if (squashed(known) == squashed(name))
      return reason + "; did you mean " + known + "?";
  return reason;
}

// -- typed assignment ---------------------------------------------------------

/// A value from one layer. `text` is the env or override text a string key
/// falls back to when it parsed as non-string JSON; null for file values.
struct layer_value {
  const json& value;
  const std::string* text = nullptr;
};

bool valid_utf8(const std::string& text) {
  try {
    (void) json(text).dump();
    return true;
  } catch (const json::type_error&) {
    return false;
  }
}

std::string describe(const json& value, field_kind kind) {
  if (kind == field_kind::secret) {
    std::string type = value.type_name();
    return (type == "array" || type == "object" ? "an " : "a ") + type;
  }
  return utf8_prefix(json_text(value), 80);
}

config_error type_error(std::string_view key, std::string_view expected_what,
                        const json& value, field_kind kind) {
  return error_at(key, "expected " + std::string(expected_what) + ", got "
                         + describe(value, kind));
}

problem assign(std::string& out, const layer_value& in, std::string_view key, field_kind kind) {
  if (in.value.is_string())
    out = in.value.get<std::string>();
  else if (in.text != nullptr)
    out = *in.text;
  else
    return type_error(key, "a string", in.value, kind);
  return std::nullopt;
}

problem assign(int& out, const layer_value& in, std::string_view key, field_kind kind) {
  if (!in.value.is_number_integer())
    return type_error(key, "an integer", in.value, kind);
  constexpr auto int_max = std::numeric_limits<int>::max();
  constexpr auto int_min = std::numeric_limits<int>::min();
  if (in.value.is_number_unsigned() ? in.value.get<uint64_t>() > uint64_t{int_max}
                                    : (in.value.get<int64_t>() > int_max
                                       || in.value.get<int64_t>() < int_min))
    return error_at(key, describe(in.value, kind) + " is out of range");
  out = in.value.get<int>();
  return std::nullopt;
}

problem assign_duration(duration& out, const json& value, std::string_view key, field_kind kind) {
  if (!value.is_string())
    return type_error(key, "a duration string like \"5s\"", value, kind);
  auto parsed = parse_duration(value.get<std::string>());
  if (!parsed)
    return error_at(key, describe(value, kind) + " is not a duration (use 250ms, 5s, 1m or 2h)");
  out = *parsed;
  return std::nullopt;
}

problem assign(duration& out, const layer_value& in, std::string_view key, field_kind kind) {
  return assign_duration(out, in.value, key, kind);
}

problem assign(std::vector<duration>& out, const layer_value& in, std::string_view key,
               field_kind kind) {
  if (!in.value.is_array())
    return type_error(key, "a list of durations like [\"5s\", \"30s\"]", in.value, kind);
  std::vector<duration> list(in.value.size());
  for (std::size_t i = 0; i < list.size(); ++i)
    if (auto e = assign_duration(list[i], in.value[i], key, kind))
      return e;
  out = std::move(list);
  return std::nullopt;
}

/// Sets the leaf `path` (which must exist) from `in`.
problem set_field(paycoord_config& cfg, std::string_view path, const layer_value& in) {
  problem result;
  for_each_field(cfg, [&](std::string_view key, auto& member, field_kind kind) {
    if (key == path)
      result = assign(member, in, key, kind);
  });
  return result;
}

/// Env and override values: JSON when the text parses as JSON, else the text.
problem set_field_from_text(paycoord_config& cfg, std::string_view path,
                            const std::string& text) {
  if (!valid_utf8(text))
    return error_at(path, "the value is not valid UTF-8");
  auto value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded())
    value = text;
  return set_field(cfg, path, layer_value{value, &text});
}

// -- the file layer -------------------------------------------------------------

expected<std::string, config_error> read_bounded(const std::string& file) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec))
    return make_unexpected(error_at(file, "is a directory, not a config file"));
  std::ifstream in(file, std::ios::binary);
  if (!in)
    return make_unexpected(error_at(file, std::string("cannot open: ") + std::strerror(errno)));
  std::string text(max_file_bytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad())
    return make_unexpected(error_at(file, std::string("cannot read: ") + std::strerror(errno)));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > max_file_bytes)
    return make_unexpected(error_at(file, "is larger than 1 MiB; a config file is a few KiB"));
  return text;
}

expected<json, config_error> parse_file(const std::string& file) {
  auto text = read_bounded(file);
  if (!text)
    return make_unexpected(text.error());
  auto document = parse_json_input(*text, {max_file_bytes});
  if (!document && !document.error().duplicate.empty())
    return make_unexpected(error_at(document.error().duplicate,
                                    "appears twice in " + file
                                      + " (the last one would silently win)"));
  if (!document)
    return make_unexpected(error_at(file, "is not valid JSON: " + document.error().message));
  if (!document->is_object())
    return make_unexpected(
      error_at(file, std::string("must hold a JSON object, not a JSON ") + document->type_name()));
  return std::move(*document);
}

problem apply_object(paycoord_config& cfg, const json& object, const std::string& section,
                     const std::string& file) {
  for (auto& [name, value] : object.items()) {
    auto path = section.empty() ? name : section + "." + name;
    if (name.empty()) // "" would read as the top level itself
      return error_at(section.empty() ? "\"\"" : section + ".\"\"",
                      "an empty key in " + file + " (" + (section.empty() ? "the top level" : section)
                        + " has: " + children_of(section) + ")");
    if (is_leaf(path)) {
      if (auto e = set_field(cfg, path, layer_value{value}))
        return e;
    } else if (is_section(path)) {
      if (!value.is_object())
        return type_error(path, "an object", value, field_kind::plain);
      if (auto e = apply_object(cfg, value, path, file))
        return e;
    } else {
      std::string where = section.empty() ? "the top level" : section;
      return error_at(path, "unknown key in " + file + " (" + where
                              + " has: " + children_of(section) + ")");
    }
  }
  return std::nullopt;
}

/// Rewrites relative key-file paths against `dir`. Runs right after the file
/// layer, so it touches only values the file set (those keys default to "").
void resolve_file_relative_paths(paycoord_config& cfg, const std::filesystem::path& dir) {
  for_each_field(cfg, [&](std::string_view, auto& member, field_kind kind) {
    if constexpr (std::is_same_v<std::decay_t<decltype(member)>, std::string>) {
      if (kind == field_kind::file_relative && !member.empty()
          && std::filesystem::path(member).is_relative())
        member = (dir / member).lexically_normal().string();
    }
  });
}

problem apply_file(paycoord_config& cfg, const std::string& file) {
  auto document = parse_file(file);
  if (!document)
    return document.error();
  if (auto e = apply_object(cfg, *document, "", file))
    return e;
  std::error_code ec;
  auto absolute = std::filesystem::absolute(file, ec);
  resolve_file_relative_paths(cfg, (ec ? std::filesystem::path(file) : absolute).parent_path());
  return std::nullopt;
}

// -- env and overrides ------------------------------------------------------------

bool is_reserved(std::string_view name) {
  return std::find(std::begin(reserved_environment_names), std::end(reserved_environment_names),
                   name)
         != std::end(reserved_environment_names);
}

problem apply_environment(paycoord_config& cfg, const std::map<std::string, std::string>& env) {
  for (auto& [name, text] : env) {
    if (!name.starts_with(env_prefix) || is_reserved(name))
      continue;
    auto known = env_keys().find(name);
    if (known == env_keys().end())
      return error_at(name, unknown_variable_reason(name));
    if (auto e = set_field_from_text(cfg, known->second, text)) {
      e->reason += " (set by " + name + ")";
      return e;
    }
  }
  return std::nullopt;
}

problem apply_overrides(paycoord_config& cfg,
                        const std::vector<std::pair<std::string, std::string>>& overrides) {
  for (auto& [path, text] : overrides) {
    if (path.empty())
      return error_at("--set", "an empty key (overrides name a key like schedule.verify)");
    if (!is_leaf(path))
      return error_at(path, "unknown key (overrides name a key like schedule.verify)");
    if (auto e = set_field_from_text(cfg, path, text))
      return e;
  }
  return std::nullopt;
}

} // namespace

expected<nlohmann::json, config_error> read_config_file(const std::string& file) {
  return parse_file(file);
}

expected<paycoord_config, config_error>
load_config(const std::string& file, const std::map<std::string, std::string>& env,
            const std::vector<std::pair<std::string, std::string>>& overrides) {
  paycoord_config cfg;
  if (!file.empty())
    if (auto e = apply_file(cfg, file))
      return make_unexpected(std::move(*e));
  if (auto e = apply_environment(cfg, env))
    return make_unexpected(std::move(*e));
  if (auto e = apply_overrides(cfg, overrides))
    return make_unexpected(std::move(*e));
  return validate(std::move(cfg));
}

std::map<std::string, std::string> paycoord_environment() {
  std::map<std::string, std::string> result;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text = *entry;
    auto equals = text.find('=');
    if (equals != std::string_view::npos && text.starts_with(env_prefix))
      result.emplace(text.substr(0, equals), text.substr(equals + 1));
  }
  return result;
}

} // namespace paycoord
