// The business pool against a local business-server stub on 127.0.0.1
// (port 0) that checks the callback's HMAC signature, Idempotency-Key and
// body. A real actor system: the pool's workers are detached threads.

#include "actors/business_client.hpp"

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <caf/all.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "actors/blocking_pool.hpp"
#include "actors/messages.hpp"
#include "net/callback_signature.hpp"
#include "net/http_server.hpp"
#include "net/router.hpp"

namespace paycoord {
namespace {

using namespace std::chrono_literals;
namespace http = boost::beast::http;
namespace asio = boost::asio;

const std::string secret = "test-only-callback-secret";
const timestamp signing_time = from_unix_ms(1'795'658'410'000);

// -- the business-server stub --------------------------------------------------------

/// One callback as the stub received it.
struct delivery {
  std::string idempotency_key;
  std::string timestamp;
  std::string content_type;
  bool signature_ok = false;
  std::string body;
};

/// How the stub answers: `status` after `delay`.
struct stub_answer {
  unsigned status = 200;
  std::chrono::milliseconds delay{0};
};

class business_stub {
public:
  business_stub() {
    net::router routes;
    routes.add(http::verb::post, "/orders/paid",
               [this](net::request_context ctx) { serve(ctx); });
    auto server = net::http_server::start(io_, {}, std::move(routes));
    if (!server)
      throw std::runtime_error(server.error());
    server_ = std::move(*server);
    thread_ = std::thread{[this] { io_.run(); }};
  }

  ~business_stub() {
    server_->stop();
    server_->wait_idle(duration{3000});
    server_.reset();
    work_.reset();
    io_.stop();
    thread_.join();
  }

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + "/orders/paid";
  }

  void answer_with(stub_answer answer) {
    std::lock_guard guard{mutex_};
    answer_ = answer;
  }

  std::vector<delivery> deliveries() const {
    std::lock_guard guard{mutex_};
    return deliveries_;
  }

  /// The most requests the stub was answering at the same time.
  int max_concurrent() const {
    std::lock_guard guard{mutex_};
    return max_concurrent_;
  }

private:
  void serve(net::request_context& ctx) {
    auto header = [&](std::string_view name) {
      return std::string{ctx.request[boost::beast::string_view{name.data(), name.size()}]};
    };
    delivery d{header("Idempotency-Key"), header("X-Paycoord-Timestamp"),
               header("Content-Type"), false, ctx.request.body()};
    d.signature_ok = net::verify_callback_signature(secret, d.timestamp, d.body,
                                                    header("X-Paycoord-Signature"));
    stub_answer answer;
    {
      std::lock_guard guard{mutex_};
      deliveries_.push_back(d);
      answer = answer_;
      max_concurrent_ = std::max(max_concurrent_, ++concurrent_);
    }
    auto timer = std::make_shared<asio::steady_timer>(io_, answer.delay);
    timer->async_wait([this, timer, respond = ctx.respond, answer](auto) {
      {
        std::lock_guard guard{mutex_};
        --concurrent_;
      }
      net::http_response response{static_cast<http::status>(answer.status), 11};
      if (answer.status != 204)
        response.body() = R"({"received":true})";
      respond.send(std::move(response));
    });
  }

  // Guarded by mutex_:
  mutable std::mutex mutex_;
  stub_answer answer_;
  std::vector<delivery> deliveries_;
  int concurrent_ = 0;
  int max_concurrent_ = 0;

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::unique_ptr<net::http_server> server_;
  std::thread thread_;
};

// -- fixture ------------------------------------------------------------------------------

forward_request paid_order(const std::string& id, bool late = false) {
  forward_request f;
  f.out_trade_no = id;
  f.transaction_id = "4200002026112612345678901234";
  f.total = 100;
  f.payer_total = 90;
  f.currency = "CNY";
  f.paid_at_ms = 1'795'658'405'000; // 2026-11-26T10:00:05+08:00
  f.late = late;
  return f;
}

class business_client_test : public ::testing::Test {
protected:
  business_client_test() {
    register_message_types(cfg_);
    cfg_.set("scheduler.max-threads", 2);
    cfg_.set("logger.file-verbosity", caf::atom("quiet"));
    sys_ = std::make_unique<caf::actor_system>(cfg_);
  }

  ~business_client_test() override {
    for (auto& pool : pools_)
      caf::anon_send_exit(pool, caf::exit_reason::user_shutdown);
    sys_.reset(); // waits for every worker thread
  }

  caf::actor start(int concurrency = 4, duration timeout = duration{2000}) {
    business_pool_config c;
    c.business.callback_url = stub_.url();
    c.business.secret = secret;
    c.business.timeout = timeout;
    c.business.concurrency = concurrency;
    c.now = [] { return signing_time; };
    pools_.push_back(spawn_business_pool(*sys_, std::move(c)));
    return pools_.back();
  }

  forward_result forward(const caf::actor& pool, const forward_request& f) {
    caf::scoped_actor self{*sys_};
    forward_result out;
    self->request(pool, caf::infinite, forward_atom_v, f)
      .receive([&](forward_result& r) { out = std::move(r); },
               [&](caf::error& err) { ADD_FAILURE() << caf::to_string(err); });
    return out;
  }

  caf::actor_system_config cfg_;
  business_stub stub_;
  std::unique_ptr<caf::actor_system> sys_;
  std::vector<caf::actor> pools_;
};

// -- delivery -------------------------------------------------------------------------------

TEST_F(business_client_test, a_2xx_is_the_ack_of_a_signed_callback) {
  auto r = forward(start(), paid_order("A2026112600001"));
  EXPECT_TRUE(r.acked) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_GE(r.latency_ms, 0);
  auto seen = stub_.deliveries();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(seen[0].signature_ok);
  EXPECT_EQ(seen[0].idempotency_key, "A2026112600001");
  EXPECT_EQ(seen[0].timestamp, "1795658410");
  EXPECT_EQ(seen[0].content_type, "application/json");
  EXPECT_EQ(seen[0].body,
            R"({"event":"order.paid","out_trade_no":"A2026112600001",)"
            R"("transaction_id":"4200002026112612345678901234",)"
            R"("amount":{"total":100,"payer_total":90,"currency":"CNY"},)"
            R"("paid_at":"2026-11-26T10:00:05+08:00","late":false})");
}

TEST_F(business_client_test, a_late_payment_says_so) {
  stub_.answer_with({204, 0ms});
  auto r = forward(start(), paid_order("B2026112600002", true));
  EXPECT_TRUE(r.acked) << r.error;
  EXPECT_EQ(r.status, 204);
  auto seen = stub_.deliveries();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(seen[0].body).at("late"), true);
}

TEST_F(business_client_test, a_503_is_not_an_ack) {
  stub_.answer_with({503, 0ms});
  auto r = forward(start(), paid_order("C2026112600003"));
  EXPECT_FALSE(r.acked);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.error, "HTTP 503");
}

TEST_F(business_client_test, no_answer_within_the_timeout_is_not_an_ack) {
  stub_.answer_with({200, 1000ms});
  auto r = forward(start(4, duration{200}), paid_order("D2026112600004"));
  EXPECT_FALSE(r.acked);
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("timeout"), std::string::npos) << r.error;
}

TEST_F(business_client_test, deliveries_never_exceed_the_configured_concurrency) {
  stub_.answer_with({200, 100ms});
  auto pool = start(2);
  caf::scoped_actor self{*sys_};
  std::vector<caf::response_handle<caf::blocking_actor, caf::message, true>> calls;
  for (int i = 0; i < 6; ++i)
    calls.push_back(self->request(pool, caf::infinite, forward_atom_v,
                                  paid_order("E202611260000" + std::to_string(i))));
  for (auto& call : calls)
    call.receive([](forward_result& r) { EXPECT_TRUE(r.acked) << r.error; },
                 [](caf::error& err) { ADD_FAILURE() << caf::to_string(err); });
  EXPECT_EQ(stub_.deliveries().size(), 6u);
  // Two workers, each held 100 ms per delivery: two at once, never three.
  EXPECT_EQ(stub_.max_concurrent(), 2);
}

// -- the generic pool under the business protocol ------------------------------------------

TEST_F(business_client_test, a_worker_that_dies_is_replaced_and_its_call_answered) {
  blocking_pool_config c;
  c.name = "crashing";
  c.workers = 1;
  c.make_executor = [] {
    return caf::message_handler{[](forward_atom, const forward_request& x) {
      if (x.out_trade_no == "CRASH")
        throw std::runtime_error("injected worker fault");
      forward_result r;
      r.acked = true;
      r.status = 200;
      return r;
    }};
  };
  c.refusals = [](const std::string& reason) {
    forward_result refused;
    refused.error = reason;
    return caf::message_handler{[=](forward_atom, const forward_request&) { return refused; }};
  };
  pools_.push_back(spawn_blocking_pool(*sys_, std::move(c)));
  auto crashed = forward(pools_.back(), paid_order("CRASH"));
  EXPECT_FALSE(crashed.acked);
  EXPECT_EQ(crashed.error.rfind("worker ", 0), 0u) << crashed.error;
  auto next = forward(pools_.back(), paid_order("F2026112600006"));
  EXPECT_TRUE(next.acked) << next.error;
}

} // namespace
} // namespace paycoord
