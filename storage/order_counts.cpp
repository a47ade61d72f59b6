#include "storage/order_counts.hpp"

#include <nlohmann/json.hpp>

namespace paycoord {

void order_counts::moved(const std::optional<order_facts>& before, const order_facts& after) {
  auto at = [](order_state s) { return static_cast<size_t>(s); };
  if (before) {
    --by_state[at(before->state)];
    unresolved[at(before->state)] -= before->unresolved;
    stuck -= before->stuck;
  }
  ++by_state[at(after.state)];
  unresolved[at(after.state)] += after.unresolved;
  stuck += after.stuck;
}

void order_counts::moved(const std::optional<refund_facts>& before, const refund_facts& after) {
  if (before) {
    --refunds[static_cast<size_t>(before->state)];
    refunds_unresolved -= before->unresolved;
  }
  ++refunds[static_cast<size_t>(after.state)];
  refunds_unresolved += after.unresolved;
}

bool operator==(const order_counts& x, const order_counts& y) {
  return x.by_state == y.by_state && x.unresolved == y.unresolved && x.stuck == y.stuck
         && x.refunds == y.refunds && x.refunds_unresolved == y.refunds_unresolved;
}

std::string encode(const order_counts& x) {
  nlohmann::json states = nlohmann::json::object();
  nlohmann::json unresolved = nlohmann::json::object();
  for (size_t i = 0; i < order_counts::state_count; ++i) {
    auto name = to_string(static_cast<order_state>(i));
    states[name] = x.by_state[i];
    if (x.unresolved[i] != 0)
      unresolved[name] = x.unresolved[i];
  }
  nlohmann::json refunds = nlohmann::json::object();
  for (size_t i = 0; i < order_counts::refund_state_count; ++i)
    if (x.refunds[i] != 0)
      refunds[to_string(static_cast<refund_state>(i))] = x.refunds[i];
  return nlohmann::json{{"v", 1},
                        {"states", states},
                        {"unresolved", unresolved},
                        {"stuck", x.stuck},
                        {"refunds", refunds},
                        {"refunds_unresolved", x.refunds_unresolved}}
    .dump();
}

expected<order_counts, store_error> decode_counts(std::string_view key, std::string_view bytes) {
  auto corrupt = [&](std::string what) {
    return make_unexpected(store_error{store_errc::corrupt, std::string{key}, std::move(what)});
  };
  auto j = nlohmann::json::parse(bytes, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return corrupt("not a JSON object");
  if (j.value("v", 0) != 1)
    return make_unexpected(store_error{store_errc::unknown_version, std::string{key},
                                       "counts of another version"});
  order_counts x;
  auto read = [&](const char* field, order_counts::per_state& out) -> bool {
    auto i = j.find(field);
    if (i == j.end() || !i->is_object())
      return false;
    for (auto& [name, value] : i->items()) {
      auto s = parse_order_state(name);
      if (!s || !value.is_number_integer())
        return false;
      out[static_cast<size_t>(*s)] = value.get<int64_t>();
    }
    return true;
  };
  if (!read("states", x.by_state) || !read("unresolved", x.unresolved))
    return corrupt("counts by state do not parse");
  auto stuck = j.find("stuck");
  if (stuck == j.end() || !stuck->is_number_integer())
    return corrupt("no stuck count");
  x.stuck = stuck->get<int64_t>();
  // Counts written before refunds existed have none: zero is the truth.
  if (auto r = j.find("refunds"); r != j.end()) {
    if (!r->is_object())
      return corrupt("refund counts do not parse");
    for (auto& [name, value] : r->items()) {
      auto s = parse_refund_state(name);
      if (!s || !value.is_number_integer())
        return corrupt("refund counts do not parse");
      x.refunds[static_cast<size_t>(*s)] = value.get<int64_t>();
    }
  }
  if (auto u = j.find("refunds_unresolved"); u != j.end()) {
    if (!u->is_number_integer())
      return corrupt("refunds_unresolved is not a number");
    x.refunds_unresolved = u->get<int64_t>();
  }
  return x;
}

} // namespace paycoord
