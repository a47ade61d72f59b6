#include "common/json_input.hpp"

#include <set>
#include <vector>

#include "common/text.hpp"

namespace paycoord {

namespace {

using json = nlohmann::json;

struct refused {
  json_input_error error;
};

json_input_error problem(std::string message) {
  return json_input_error{std::move(message), {}};
}

/// The objects and arrays being parsed, innermost last, with the keys seen
/// in each object: the path of a duplicate key, at the moment it appears.
class key_tracker {
public:
  void on_event(json::parse_event_t event, const json& parsed) {
    using event_t = json::parse_event_t;
    switch (event) {
    case event_t::object_start:
    case event_t::array_start:
      frames_.push_back(frame{child_path(), {}, {}, event == event_t::object_start});
      break;
    case event_t::object_end:
    case event_t::array_end:
      if (!frames_.empty())
        frames_.pop_back();
      break;
    case event_t::key: {
      auto& top = frames_.back();
      top.key = parsed.get<std::string>();
      if (!top.keys.insert(top.key).second) {
        auto path = child_path();
        throw refused{{"duplicate key \"" + utf8_prefix(path, 128) + "\"", path}};
      }
      break;
    }
    case event_t::value:
      break;
    }
  }

private:
  struct frame {
    std::string path;
    std::set<std::string, std::less<>> keys;
    std::string key; ///< the current member of an object
    bool is_object;
  };

  std::string child_path() const {
    if (frames_.empty())
      return "";
    auto& top = frames_.back();
    if (!top.is_object)
      return top.path;
    return top.path.empty() ? top.key : top.path + "." + top.key;
  }

  std::vector<frame> frames_;
};

/// nlohmann's what() without its "[json.exception.parse_error.101] " prefix.
std::string parser_message(const json::exception& e) {
  std::string_view what = e.what();
  if (auto end = what.find("] "); what.starts_with("[json.exception") && end != what.npos)
    what.remove_prefix(end + 2);
  return std::string{what};
}

} // namespace

expected<json, json_input_error> parse_json_input(std::string_view text,
                                                  const json_limits& limits) {
  if (text.size() > limits.max_bytes)
    return make_unexpected(problem("body of " + std::to_string(text.size()) + " bytes exceeds "
                                   + std::to_string(limits.max_bytes) + " bytes"));
  key_tracker keys;
  auto check = [&](int depth, json::parse_event_t event, json& parsed) {
    // `depth` counts the containers around the event: a container that
    // starts at depth 16 would be the 17th level.
    bool opens = event == json::parse_event_t::object_start
                 || event == json::parse_event_t::array_start;
    if (opens && depth >= limits.max_depth)
      throw refused{problem("nested deeper than " + std::to_string(limits.max_depth))};
    if (limits.unique_keys)
      keys.on_event(event, parsed);
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), check);
  } catch (const refused& r) {
    return make_unexpected(r.error);
  } catch (const json::exception& e) {
    return make_unexpected(problem(parser_message(e)));
  }
}

} // namespace paycoord
