#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/expected.hpp"
#include "storage/order_record.hpp"
#include "storage/refund_record.hpp"
#include "storage/store_error.hpp"

namespace paycoord {

/// How many orders the store holds per state, kept exact by the store
/// itself: every commit moves them by the facts of what it replaces and
/// writes them in the same batch (`m/counts`), so they agree with the
/// records after any crash and are read at start without a scan.
struct order_counts {
  static constexpr size_t state_count = 7;
  using per_state = std::array<int64_t, state_count>;

  per_state by_state{};
  /// Parked orders no person has resolved, by state.
  per_state unresolved{};
  /// PAID orders flagged stuck.
  int64_t stuck = 0;

  static constexpr size_t refund_state_count = 5;
  std::array<int64_t, refund_state_count> refunds{};
  /// ABNORMAL refunds no person has resolved.
  int64_t refunds_unresolved = 0;

  int64_t of(order_state s) const {
    return by_state[static_cast<size_t>(s)];
  }

  int64_t of(refund_state s) const {
    return refunds[static_cast<size_t>(s)];
  }

  /// One order moved from `before` (nullopt: it did not exist) to `after`.
  void moved(const std::optional<order_facts>& before, const order_facts& after);

  /// One refund moved from `before` (nullopt: it did not exist) to `after`.
  void moved(const std::optional<refund_facts>& before, const refund_facts& after);
};

bool operator==(const order_counts& x, const order_counts& y);

/// JSON, by state name: readable in a dump, and a state added later reads
/// as 0 from an older record.
std::string encode(const order_counts& x);

expected<order_counts, store_error> decode_counts(std::string_view key, std::string_view bytes);

} // namespace paycoord
