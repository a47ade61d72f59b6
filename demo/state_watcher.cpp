#include "demo/state_watcher.hpp"

#include "common/time.hpp"
#include "demo/json_call.hpp"

namespace paycoord::demo {

namespace {

using namespace std::chrono_literals;

void read_one(const scenario& script, const std::string& prefix, order_log& log,
              net::http_client& client, std::size_t index) {
  auto r = call_json(client, "GET", prefix + "/" + script.customers[index].out_trade_no);
  if (r.status != 200 || !r.body.is_object())
    return;
  auto via = r.body.value("paid_via", nlohmann::json{});
  auto late = r.body.value("late", nlohmann::json{});
  log.record_state(index, r.body.value("state", ""), via.is_string() ? via.get<std::string>() : "",
                   late.is_boolean() && late.get<bool>(), to_unix_ms(wall_clock::now()));
}

} // namespace

state_watcher::state_watcher(const scenario& script, std::string order_url_prefix,
                             order_log& log)
  : script_(script), order_url_prefix_(std::move(order_url_prefix)), log_(log) {
}

state_watcher::~state_watcher() {
  stop();
}

void state_watcher::start() {
  thread_ = std::thread{[this] { watch(); }};
}

void state_watcher::stop() {
  stop_ = true;
  if (thread_.joinable())
    thread_.join();
}

void state_watcher::watch() {
  auto client = make_demo_client();
  while (!stop_) {
    auto began = std::chrono::steady_clock::now();
    for (auto index : log_.paid_unconfirmed()) {
      if (stop_)
        return;
      read_one(script_, order_url_prefix_, log_, client, index);
    }
    std::this_thread::sleep_until(began + 200ms);
  }
}

void state_watcher::read_states(const std::vector<std::size_t>& indices, int threads) const {
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < threads; ++t)
    readers.emplace_back([&] {
      auto client = make_demo_client();
      for (auto i = next.fetch_add(1); i < indices.size(); i = next.fetch_add(1))
        read_one(script_, order_url_prefix_, log_, client, indices[i]);
    });
  for (auto& r : readers)
    r.join();
}

} // namespace paycoord::demo
