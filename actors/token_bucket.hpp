#pragma once

#include <cstdint>
#include <functional>

namespace paycoord {

/// A token bucket that never lets calls exceed `rate_per_second` on average,
/// with bursts of at most `burst` calls. It is a generic cell rate algorithm
/// in integer nanoseconds (no floating-point drift): each token costs one
/// interval of ceil(1e9 / rate) ns, rounded up so that rounding can only make
/// the bucket stricter, never looser. Over any window of W ns at most
/// `burst + W / interval` tokens are handed out, however many callers wait.
///
/// The clock is injected (steady nanoseconds; a fake one in tests). It starts
/// full. Not thread-safe: one owner (the wechat pool's dispatcher).
class token_bucket {
public:
  /// Monotonic time in nanoseconds.
  using clock = std::function<int64_t()>;

  /// `rate_per_second` and `burst` must be positive.
  token_bucket(int64_t rate_per_second, int64_t burst, clock now_ns);

  /// Takes one token if one is available now; false leaves the bucket as is.
  bool try_take();

  /// Nanoseconds until `try_take` can succeed; 0 when it can now.
  int64_t wait_ns() const;

  /// Nanoseconds one token costs.
  int64_t interval_ns() const {
    return interval_ns_;
  }

private:
  int64_t interval_ns_;
  /// How far ahead of now the theoretical arrival time may run: the burst
  /// minus the token being taken.
  int64_t tolerance_ns_;
  clock now_ns_;
  /// When the bucket would next be empty if it were drained at the rate
  /// ("theoretical arrival time"); never behind now when a token is taken.
  int64_t tat_ns_;
};

} // namespace paycoord
