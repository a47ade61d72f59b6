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

duration draw_ms(std::mt19937_64& rng, duration lo, duration hi) {
  std::uniform_int_distribution<int64_t> d{lo.count(), hi.count()};
  return duration{d(rng)};
}

int64_t uniform_fen(std::mt19937_64& rng, int64_t lo, int64_t hi) {
  return std::uniform_int_distribution<int64_t>{lo, hi}(rng);
}

/// A paying customer's refunds, at real-world scale divided by `compression`.
refund_plan draw_refund_plan(std::mt19937_64& rng, const customer& c, int compression) {
  std::uniform_real_distribution<double> share{0, 1};
  auto real = [&](duration lo, duration hi) {
    return scale_ms(draw_ms(rng, lo, hi), 1.0 / compression);
  };
  auto fix = [&]() -> std::optional<duration> {
    if (share(rng) < refund_fix_share)
      return real(minutes{2}, minutes{10});
    return std::nullopt;
  };
  refund_plan p;
  // Orders are at least 100 fen, so every part below is at least 1.
  auto first_wait = real(seconds{30}, minutes{8});
  if (share(rng) >= refund_partial_share) {
    p.steps.push_back({refund_id(c.out_trade_no, "R1"), c.amount, first_wait, fix()});
  } else if (share(rng) >= refund_two_step_share) {
    p.steps.push_back(
      {refund_id(c.out_trade_no, "R1"), uniform_fen(rng, 1, c.amount - 1), first_wait, fix()});
  } else {
    auto first = uniform_fen(rng, 1, c.amount / 2);
    auto second = uniform_fen(rng, 1, c.amount - first);
    p.steps.push_back({refund_id(c.out_trade_no, "R1"), first, first_wait, fix()});
    p.steps.push_back(
      {refund_id(c.out_trade_no, "R2"), second, real(seconds{30}, minutes{5}), fix()});
  }
  p.repeat_first = share(rng) < refund_repeat_share;
  if (share(rng) < refund_over_share) {
    p.over_refund_after = real(minutes{1}, minutes{3});
    p.over_refund_no = refund_id(c.out_trade_no, "RX");
  }
  return p;
}

} // namespace

const char* to_string(refund_request_kind k) {
  switch (k) {
    case refund_request_kind::refund:
      return "refund";
    case refund_request_kind::repeat:
      return "repeat";
    case refund_request_kind::over_refund:
      return "over_refund";
  }
  return "refund";
}

std::string refund_id(const std::string& out_trade_no, const char* suffix) {
  return out_trade_no + "-" + suffix;
}

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

  // Refunds from a generator of their own: the customers above stay the
  // same whatever the refund share.
  std::mt19937_64 refund_rng{opts.seed ^ 0x5eed'2ef0'0d5ULL};
  for (auto& c : s.customers)
    if (c.pays && share(refund_rng) * 100 < opts.refund_pct)
      c.refund = draw_refund_plan(refund_rng, c, opts.compression);

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
