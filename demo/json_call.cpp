#include "demo/json_call.hpp"

namespace paycoord::demo {

net::http_client make_demo_client() {
  net::http_client_options o;
  o.connect_timeout = std::chrono::seconds{2};
  o.timeout = std::chrono::seconds{5};
  // paysim's report pages are large; everything else is small.
  o.max_response_bytes = std::size_t{8} << 20;
  return net::http_client{o};
}

int64_t json_int(const nlohmann::json& j, const char* section, const char* key) {
  auto s = j.find(section);
  if (s == j.end() || !s->is_object())
    return 0;
  auto v = s->find(key);
  return v != s->end() && v->is_number_integer() ? v->get<int64_t>() : 0;
}

json_answer call_json(net::http_client& client, const std::string& method,
                      const std::string& url, const nlohmann::json& body,
                      const std::vector<std::pair<std::string, std::string>>& headers) {
  net::outbound_request req{method, url, {{"Content-Type", "application/json"}},
                            body.is_null() ? std::string{} : body.dump()};
  req.headers.insert(req.headers.end(), headers.begin(), headers.end());
  auto r = client.send(req);
  if (!r)
    return {};
  auto parsed = nlohmann::json::parse(r->body, nullptr, false);
  if (parsed.is_discarded())
    parsed = nullptr;
  return {r->status, std::move(parsed)};
}

} // namespace paycoord::demo
