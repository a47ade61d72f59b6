#include "demo/scenario.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

namespace paycoord::demo {

namespace {

using std::chrono::minutes;
using std::chrono::seconds;

/// How long a paying customer takes, at real-world scale: 65% within a
/// minute, 30% within four, the rest up to eight.
duration draw_real_think(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> share{0, 1};
  auto uniform_ms = [&](duration lo, duration hi) {
    std::uniform_int_distribution<int64_t> d{lo.count(), hi.count()};
    return duration{d(rng)};
  };
  double s = share(rng);
  if (s < 0.65)
    return uniform_ms(seconds{5}, minutes{1});
  if (s < 0.95)
    return uniform_ms(minutes{1}, minutes{4});
  return uniform_ms(minutes{4}, minutes{8});
}

duration scale_ms(duration d, double factor) {
  return duration{static_cast<int64_t>(std::llround(static_cast<double>(d.count()) * factor))};
}

} // namespace

std::string order_id(uint64_t seed, int index) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "PD%llu-%06d", static_cast<unsigned long long>(seed), index);
  return buf;
}

scenario make_scenario(const demo_options& opts) {
  scenario s;
  s.compression = opts.compression;
  auto span_ms = std::max<double>(static_cast<double>(min_arrival_span.count()),
                                  1000.0 * opts.orders / opts.arrival_rate);
  s.arrival_span = duration{static_cast<int64_t>(span_ms)};

  std::mt19937_64 rng{opts.seed};
  std::uniform_real_distribution<double> share{0, 1};
  std::uniform_int_distribution<int64_t> amount{100, 50'000};
  double gap = span_ms / std::max(1, opts.orders);
  for (int i = 0; i < opts.orders; ++i) {
    customer c;
    c.out_trade_no = order_id(opts.seed, i);
    c.amount = amount(rng);
    // Evenly spaced with jitter, so the arrival order stays the index order.
    c.arrive_at = duration{static_cast<int64_t>(gap * (i + share(rng) * 0.9))};
    c.pays = share(rng) < pay_share;
    c.think = scale_ms(draw_real_think(rng), 1.0 / opts.compression);
    c.notification_lost = c.pays && share(rng) * 100 < opts.lost_pct;
    s.customers.push_back(std::move(c));
  }

  // The business server is down for a tenth of the arrivals (at least 2 s),
  // starting a third of the way in; paycoord is killed at 60%, so the two
  // faults do not overlap and each shows on its own.
  auto outage_len = std::max(duration{2000}, scale_ms(s.arrival_span, 0.1));
  s.business_outage.from = scale_ms(s.arrival_span, 0.35);
  s.business_outage.to = s.business_outage.from + outage_len;
  if (opts.crash)
    s.kill_at = std::max(scale_ms(s.arrival_span, 0.6), s.business_outage.to + duration{1000});
  return s;
}

} // namespace paycoord::demo
