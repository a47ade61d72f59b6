#pragma once

// Live progress of a run. On a terminal: one block, redrawn in place (ANSI
// cursor-up), with counts per state, in flight, retries, notifications lost
// so far, refunds, rate and elapsed time. Otherwise (CI logs): one plain line every
// few seconds.

#include <cstdio>
#include <string>
#include <vector>

#include "demo/order_log.hpp"
#include "demo/reconciliation.hpp"
#include "demo/refund_log.hpp"

namespace paycoord::demo {

/// What the view shows at one moment.
struct progress_snapshot {
  double elapsed_s = 0;
  int orders = 0;
  order_counts counts;
  refund_counts refunds;
  sim_totals sim;
  /// What the run is doing ("customers arriving", "waiting for the last
  /// confirmations", ...).
  std::string phase;
  bool business_down = false;
  bool paycoord_down = false;
  int paycoord_starts = 1;
};

/// The block's lines (no trailing newlines), coloured with ANSI when `color`.
std::vector<std::string> render_block(const progress_snapshot& s, double created_per_s,
                                      bool color);

/// One plain line for logs.
std::string render_line(const progress_snapshot& s);

/// Writes snapshots to `out`. Not thread-safe: one thread shows.
class progress_view {
public:
  /// `live`: redraw a block in place (a terminal); else plain lines no more
  /// often than every `plain_every_s`.
  progress_view(std::FILE* out, bool live, bool color, double plain_every_s = 5);

  void show(const progress_snapshot& s);

  /// The last state stays on screen; the cursor goes below it.
  void finish(const progress_snapshot& s);

  /// How often the caller should call `show`.
  double interval_s() const {
    return live_ ? 0.25 : 1.0;
  }

private:
  std::FILE* out_;
  bool live_;
  bool color_;
  double plain_every_s_;
  std::size_t lines_drawn_ = 0;
  double last_plain_s_ = -1e9;
  double last_elapsed_s_ = 0;
  int last_created_ = 0;
  double rate_ = 0;
};

} // namespace paycoord::demo
