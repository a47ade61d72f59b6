#include "sim/strict_json.hpp"

#include <algorithm>
#include <cmath>

#include "common/json_input.hpp"

namespace paycoord::sim {

using json = nlohmann::json;

strict_object::strict_object(const json& object, std::string path,
                             std::optional<config_error>& error)
  : object_(object), path_(std::move(path)), error_(error) {
}

std::string strict_object::path_of(std::string_view key) const {
  return path_.empty() ? std::string{key} : path_ + "." + std::string{key};
}

void strict_object::fail(std::string_view key, std::string reason) {
  if (!error_)
    error_ = config_error{path_of(key), std::move(reason)};
}

const json* strict_object::find(std::string_view key) {
  read_.emplace(key);
  if (error_)
    return nullptr;
  auto it = object_.find(key);
  if (it == object_.end() || it->is_null())
    return nullptr;
  return &*it;
}

const json* strict_object::raw(std::string_view key) {
  return find(key);
}

void strict_object::text(std::string_view key, std::string& out, bool required) {
  const json* value = find(key);
  if (value == nullptr) {
    if (required)
      fail(key, "is required");
    return;
  }
  if (!value->is_string())
    return fail(key, std::string{"expected a string, got "} + value->type_name());
  if (required && value->get_ref<const std::string&>().empty())
    return fail(key, "must not be empty");
  out = value->get<std::string>();
}

void strict_object::number(std::string_view key, double& out, double min, double max) {
  const json* value = find(key);
  if (value == nullptr)
    return;
  if (!value->is_number())
    return fail(key, std::string{"expected a number, got "} + value->type_name());
  double v = value->get<double>();
  if (!std::isfinite(v) || v < min || v > max)
    return fail(key, value->dump() + " is outside [" + json(min).dump() + ", " + json(max).dump()
                       + "]");
  out = v;
}

void strict_object::integer(std::string_view key, int64_t& out, int64_t min, int64_t max) {
  const json* value = find(key);
  if (value == nullptr)
    return;
  if (!value->is_number_integer())
    return fail(key, std::string{"expected an integer, got "} + value->dump());
  // Unsigned JSON integers may exceed int64; compare them unsigned first.
  bool in_range = value->is_number_unsigned()
                    ? value->get<uint64_t>() <= static_cast<uint64_t>(std::max<int64_t>(max, 0))
                    : true;
  int64_t v = in_range ? value->get<int64_t>() : 0;
  if (!in_range || v < min || v > max)
    return fail(key, value->dump() + " is outside [" + std::to_string(min) + ", "
                       + std::to_string(max) + "]");
  out = v;
}

void strict_object::flag(std::string_view key, bool& out) {
  const json* value = find(key);
  if (value == nullptr)
    return;
  if (!value->is_boolean())
    return fail(key, std::string{"expected true or false, got "} + value->dump());
  out = value->get<bool>();
}

void strict_object::span(std::string_view key, duration& out) {
  const json* value = find(key);
  if (value == nullptr)
    return;
  auto parsed = value->is_string() ? parse_duration(value->get<std::string>()) : std::nullopt;
  if (!parsed)
    return fail(key, value->dump() + " is not a duration (use 250ms, 5s, 1m or 2h)");
  out = *parsed;
}

std::optional<strict_object> strict_object::object(std::string_view key) {
  const json* value = find(key);
  if (value == nullptr)
    return std::nullopt;
  if (!value->is_object()) {
    fail(key, std::string{"expected an object, got "} + value->type_name());
    return std::nullopt;
  }
  return strict_object{*value, path_of(key), error_};
}

void strict_object::reject_unknown_keys() {
  for (auto& [name, value] : object_.items()) {
    if (read_.contains(name))
      continue;
    std::string known;
    for (auto& k : read_)
      known += (known.empty() ? "" : ", ") + k;
    return fail(name, "unknown key (known here: " + known + ")");
  }
}

std::optional<json> parse_json_object(std::string_view text, std::string_view what,
                                      std::optional<config_error>& error) {
  auto document = parse_json_input(text);
  if (!document || !document->is_object()) {
    error = config_error{std::string{what},
                         document ? "is not a JSON object"
                                  : "is not a JSON object: " + document.error().message};
    return std::nullopt;
  }
  return std::move(*document);
}

} // namespace paycoord::sim
