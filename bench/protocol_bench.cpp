// Micro benchmarks of the CPU work on paycoord's hot paths, with the shared
// WeChat Pay vectors as input: what one notification, one signed request,
// one JSAPI signature and one record round trip cost on one core.
//
//   build/bin/protocol_bench [--benchmark_filter=...]

#include <cstdlib>
#include <string>

#include <benchmark/benchmark.h>

#include "net/wechatpay/authorization.hpp"
#include "net/wechatpay/jsapi.hpp"
#include "net/wechatpay/key_set.hpp"
#include "net/wechatpay/notification_opener.hpp"
#include "storage/order_record.hpp"
#include "tests/net/wechatpay/test_support.hpp"

namespace wt = paycoord::wechatpay::test;
using namespace paycoord;

namespace {

const nlohmann::json& v() {
  return wt::vectors();
}

/// The whole notify ingress before the actors: verify the RSA signature over
/// the raw body, check the replay window, parse, AES-256-GCM decrypt.
void open_notification(benchmark::State& state) {
  wechatpay::key_set keys;
  if (!keys.add_public_key(v()["platform_public_key_id"], wt::load_public_key("platform_public")))
    state.SkipWithError("no key");
  auto headers = wt::headers_of(v()["notification"]["headers"]);
  std::string body = v()["notification"]["body"];
  std::string key = v()["apiv3_key"];
  auto now = wt::at_seconds(headers.timestamp);
  for (auto _ : state) {
    auto opened = wechatpay::open_notification(keys, headers, body, now,
                                               std::chrono::minutes{5}, key);
    if (!opened)
      state.SkipWithError(opened.error().message().c_str());
    benchmark::DoNotOptimize(opened);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(open_notification);

/// A signature probe is refused before any RSA work (base64 fails).
void refuse_probe(benchmark::State& state) {
  wechatpay::key_set keys;
  if (!keys.add_public_key(v()["platform_public_key_id"], wt::load_public_key("platform_public")))
    state.SkipWithError("no key");
  const auto& neg = v()["notification_negative"]["probe_signature"];
  auto headers = wt::headers_of(neg["headers"]);
  std::string body = neg["body"];
  std::string key = v()["apiv3_key"];
  auto now = wt::at_seconds(headers.timestamp);
  for (auto _ : state) {
    auto opened = wechatpay::open_notification(keys, headers, body, now,
                                               std::chrono::minutes{5}, key);
    benchmark::DoNotOptimize(opened);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(refuse_probe);

/// The Authorization header of one outbound call (an RSA-2048 signature).
void sign_request(benchmark::State& state) {
  auto key = wt::load_private_key("merchant_private");
  auto now = wt::at_seconds(int64_t{1'795'658'400});
  for (auto _ : state) {
    auto header = wechatpay::authorization_header(
      "1900000001", "5157F09EFDC096DE15EBE81A47057A7232F1B8E1", key, "GET",
      "/v3/pay/transactions/out-trade-no/A2026112600001?mchid=1900000001", "", now,
      "593BEC0C930BF1AFEB40B4A08C8FB242");
    benchmark::DoNotOptimize(header);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(sign_request);

/// The JSAPI pay parameters of a created order (paySign, RSA-2048).
void jsapi_pay_sign(benchmark::State& state) {
  auto key = wt::load_private_key("merchant_private");
  auto now = wt::at_seconds(int64_t{1'795'658'400});
  for (auto _ : state) {
    auto params = wechatpay::make_jsapi_pay_params(key, "wx8888888888888888",
                                                   "wx201410272009395522657a690389285100", now,
                                                   "5K8264ILTKCH16CQ2502SI8ZNMTM67VS");
    benchmark::DoNotOptimize(params);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(jsapi_pay_sign);

order_record typical_record() {
  order_record x;
  x.out_trade_no = "A2026112600001";
  x.state = order_state::paid;
  x.description = "Monthly plan";
  x.amount_total = 100;
  x.payer_openid = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";
  x.expire_at_ms = 1'795'665'600'000;
  x.prepay_id = "wx201410272009395522657a690389285100";
  x.transaction_id = "4200002026112612345678901234";
  x.payer_total = 100;
  x.paid_at_ms = 1'795'658'405'000;
  x.via = paid_via::notify;
  x.created_at_ms = 1'795'658'400'000;
  x.updated_at_ms = 1'795'658'406'000;
  x.action = next_action::forward;
  x.next_due_ms = 1'795'658'406'000;
  x.queries = 1;
  x.event_seq = 5;
  return x;
}

/// One order record to its stored bytes and back (every transition writes
/// one; recovery reads every stored one).
void record_round_trip(benchmark::State& state) {
  auto x = typical_record();
  size_t bytes = 0;
  for (auto _ : state) {
    auto encoded = encode(x);
    bytes = encoded.size();
    auto decoded = decode_order("o/A2026112600001", encoded);
    benchmark::DoNotOptimize(decoded);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["record_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(record_round_trip);

} // namespace

int main(int argc, char** argv) {
  // The vectors live in the source tree (tests/data/wechatpay).
  setenv("PAYCOORD_SOURCE_DIR", PAYCOORD_DEFAULT_SOURCE_DIR, 0);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv))
    return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
