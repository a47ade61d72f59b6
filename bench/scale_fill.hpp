#pragma once

// Fills an order store directly through the storage library with PENDING
// orders that look like the ones paycoord creates (order_machine::create,
// then a successful prepay), each due once within a chosen window. Shared by
// store_fill (the command) and scale_bench (which fills its own stores).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "common/expected.hpp"

namespace paycoord::bench {

/// What to write.
struct fill_plan {
  /// The store's directory: must not hold a store yet (a second fill with
  /// the same seed would write the same ids as new orders twice).
  std::string data_dir;
  uint64_t orders = 0;
  /// Merchant identity written into the records (the example config's).
  std::string mchid;
  std::string appid;
  /// Wall clock (Unix ms) of the fill: every order was created before it
  /// (and before it falls due), spread over the two hours before.
  int64_t now_ms = 0;
  /// Due times are uniform over [first_due_ms, first_due_ms + spread_ms).
  int64_t first_due_ms = 0;
  int64_t spread_ms = 2 * 3600 * 1000;
  /// Seeds ids, amounts, payers and due times: the same plan writes the
  /// same store.
  uint64_t seed = 1;
  /// Orders per LevelDB batch: unsynced, except the last one.
  size_t batch_orders = 4096;
};

/// What a fill wrote.
struct fill_report {
  uint64_t orders = 0;
  uint64_t events = 0;
  uint64_t batches = 0;
  /// Orders due before `now_ms` (overdue the moment the fill began).
  uint64_t overdue_at_fill = 0;
  int64_t min_due_ms = 0;
  int64_t max_due_ms = 0;
  double seconds = 0;        ///< from open to the last synced batch
  double close_seconds = 0;  ///< closing the store (LevelDB finishes a compaction)
  uint64_t bytes_on_disk = 0; ///< of the directory, after the close
};

/// Told every order written (out_trade_no, due time), in write order.
using fill_observer = std::function<void(const std::string& out_trade_no, int64_t due_ms)>;

/// Writes the plan. `progress` (optional) is told the orders written so far
/// about once a second. Errors name what failed (open, commit).
expected<fill_report, std::string> fill_store(const fill_plan& plan,
                                              const fill_observer& observer = {},
                                              const std::function<void(uint64_t)>& progress = {});

/// The out_trade_no of the `index`-th order of a fill with `seed`
/// (`SB<seed>N<index:010>`: valid at WeChat, 6-32 of [0-9A-Za-z_-|*]).
std::string fill_order_id(uint64_t seed, uint64_t index);

/// Bytes of the regular files directly in `dir` (a LevelDB directory).
uint64_t directory_bytes(const std::string& dir);

/// Parses a duration with an optional sign: "10m", "-20s", "0". Nullopt
/// when it is none (parse_duration's units: ms, s, m, h).
std::optional<int64_t> parse_signed_duration_ms(const std::string& text);

/// "1,234,567".
std::string with_commas(uint64_t n);

/// The command line as typed (arguments quoted when they need it).
std::string command_line(int argc, char** argv);

} // namespace paycoord::bench
