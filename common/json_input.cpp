#include "common/json_input.hpp"

#include <set>
#include <vector>

#include "common/text.hpp"

namespace paycoord {

namespace {

using json = nlohmann::json;

struct refused {
  std::string why;
};

} // namespace

expected<json, std::string> parse_json_input(std::string_view text, const json_limits& limits) {
  if (text.size() > limits.max_bytes)
    return make_unexpected("body of " + std::to_string(text.size()) + " bytes exceeds "
                           + std::to_string(limits.max_bytes) + " bytes");
  // The keys seen so far in each object being parsed, innermost last.
  std::vector<std::set<std::string, std::less<>>> open_objects;
  auto check = [&](int depth, json::parse_event_t event, json& parsed) {
    // `depth` counts the containers around the event: a container that
    // starts at depth 16 would be the 17th level.
    bool opens = event == json::parse_event_t::object_start
                 || event == json::parse_event_t::array_start;
    if (opens && depth >= limits.max_depth)
      throw refused{"nested deeper than " + std::to_string(limits.max_depth)};
    if (!limits.unique_keys)
      return true;
    switch (event) {
    case json::parse_event_t::object_start:
      open_objects.emplace_back();
      break;
    case json::parse_event_t::object_end:
      if (!open_objects.empty())
        open_objects.pop_back();
      break;
    case json::parse_event_t::key: {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!open_objects.empty() && !open_objects.back().insert(key).second)
        throw refused{"duplicate key \"" + utf8_prefix(key, 64) + "\""};
      break;
    }
    default:
      break;
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), check);
  } catch (const refused& r) {
    return make_unexpected(r.why);
  } catch (const json::exception& e) {
    return make_unexpected(std::string{e.what()});
  }
}

} // namespace paycoord
