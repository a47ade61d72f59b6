#include "actors/token_bucket.hpp"

#include <algorithm>
#include <cassert>
#include <utility>

namespace paycoord {

namespace {

constexpr int64_t ns_per_second = 1'000'000'000;

} // namespace

token_bucket::token_bucket(int64_t rate_per_second, int64_t burst, clock now_ns)
    : interval_ns_((ns_per_second + rate_per_second - 1) / rate_per_second),
      tolerance_ns_((burst - 1) * interval_ns_),
      now_ns_(std::move(now_ns)),
      tat_ns_(now_ns_()) {
  assert(rate_per_second > 0 && burst > 0);
}

bool token_bucket::try_take() {
  auto now = now_ns_();
  auto tat = std::max(tat_ns_, now);
  if (tat - now > tolerance_ns_)
    return false;
  tat_ns_ = tat + interval_ns_;
  return true;
}

int64_t token_bucket::wait_ns() const {
  auto now = now_ns_();
  return std::max<int64_t>(0, tat_ns_ - now - tolerance_ns_);
}

} // namespace paycoord
