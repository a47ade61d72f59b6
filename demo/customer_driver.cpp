#include "demo/customer_driver.hpp"

#include <thread>

#include "common/time.hpp"
#include "demo/json_call.hpp"

namespace paycoord::demo {

namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

/// How long a customer keeps retrying (paycoord restarting takes a second or
/// two; this is far beyond).
constexpr auto give_up_after = 60s;
constexpr auto retry_pause = 100ms;
/// Payments go out from this many threads.
constexpr int payers = 2;

int64_t now_ms() {
  return to_unix_ms(wall_clock::now());
}

json create_body(const customer& c) {
  return {{"out_trade_no", c.out_trade_no},
          {"description", "Monthly plan"},
          {"amount", {{"total", c.amount}, {"currency", "CNY"}}},
          {"payer", {{"openid", "o-demo-" + c.out_trade_no}}}};
}

} // namespace

customer_driver::customer_driver(const scenario& script, customer_endpoints endpoints,
                                 order_log& log, int clients,
                                 std::chrono::steady_clock::time_point start,
                                 const std::atomic<bool>& stop)
  : script_(script),
    endpoints_(std::move(endpoints)),
    log_(log),
    clients_(clients),
    start_(start),
    stop_(stop) {
}

void customer_driver::run() {
  {
    std::lock_guard guard{mutex_};
    creators_running_ = clients_;
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < clients_; ++i)
    threads.emplace_back([this] { create_orders(); });
  for (int i = 0; i < payers; ++i)
    threads.emplace_back([this] { pay_orders(); });
  for (auto& t : threads)
    t.join();
}

void customer_driver::create_orders() {
  auto client = make_demo_client();
  for (;;) {
    auto index = next_customer_.fetch_add(1);
    if (index >= script_.customers.size() || stopping())
      break;
    auto& c = script_.customers[index];
    std::this_thread::sleep_until(start_ + c.arrive_at);
    if (!create_one(index, client) || !c.pays)
      continue;
    std::lock_guard guard{mutex_};
    pay_queue_.push({std::chrono::steady_clock::now() + c.think, index});
    wake_.notify_one();
  }
  std::lock_guard guard{mutex_};
  --creators_running_;
  wake_.notify_all();
}

bool customer_driver::create_one(std::size_t index, net::http_client& client) {
  auto body = create_body(script_.customers[index]);
  auto deadline = std::chrono::steady_clock::now() + give_up_after;
  int attempt = 0;
  while (!stopping() && std::chrono::steady_clock::now() < deadline) {
    log_.record_create_attempt(index);
    {
      std::lock_guard guard{in_flight_mutex_};
      creates_in_flight_[index] = ++attempt;
    }
    auto r = call_json(client, "POST", endpoints_.orders_url, body);
    {
      std::lock_guard guard{in_flight_mutex_};
      creates_in_flight_.erase(index);
    }
    if (r.status == 201 || r.status == 200) {
      log_.record_created(index, now_ms(), r.status);
      return true;
    }
    // 400/409 would be the demo's own bug: retrying cannot help. Anything
    // else (no answer while paycoord restarts, 503 before its recovery, 502
    // when the prepay failed) is retried, as a front end would.
    if (r.status == 400 || r.status == 409)
      break;
    std::this_thread::sleep_for(retry_pause);
  }
  log_.record_create_failed(index);
  return false;
}

std::vector<create_call> customer_driver::creates_in_flight() const {
  std::lock_guard guard{in_flight_mutex_};
  std::vector<create_call> out;
  for (auto& [index, attempt] : creates_in_flight_)
    out.push_back({index, attempt});
  return out;
}

void customer_driver::pay_orders() {
  auto client = make_demo_client();
  std::unique_lock lock{mutex_};
  for (;;) {
    if (stopping())
      return;
    if (pay_queue_.empty()) {
      if (creators_running_ == 0)
        return;
      wake_.wait_for(lock, 200ms);
      continue;
    }
    auto job = pay_queue_.top();
    if (job.due > std::chrono::steady_clock::now()) {
      wake_.wait_until(lock, std::min(job.due, std::chrono::steady_clock::now() + 200ms));
      continue;
    }
    pay_queue_.pop();
    lock.unlock();
    pay_one(job.index, client);
    lock.lock();
  }
}

void customer_driver::pay_one(std::size_t index, net::http_client& client) {
  auto& c = script_.customers[index];
  auto url = endpoints_.pay_url_prefix + "/" + c.out_trade_no + "/pay";
  json body = json::object();
  if (c.notification_lost)
    body["drop_notification"] = true;
  // The payment happens while a call runs: timing from the first call's start
  // keeps payment-to-delivery latencies an upper bound, never negative.
  auto sent_ms = now_ms();
  auto deadline = std::chrono::steady_clock::now() + give_up_after;
  while (!stopping() && std::chrono::steady_clock::now() < deadline) {
    auto r = call_json(client, "POST", url, body);
    // 409 ORDER_PAID: an earlier attempt went through but its answer was lost.
    if (r.status == 200 || (r.status == 409 && r.body.is_object()
                            && r.body.value("code", "") == "ORDER_PAID")) {
      log_.record_paid(index, sent_ms);
      return;
    }
    std::this_thread::sleep_for(retry_pause);
  }
}

} // namespace paycoord::demo
