#pragma once

#include <cstdint>
#include <string>

namespace paycoord::demo {

/// What `paydemo` was asked to do (its command line, app/paydemo.cpp).
struct demo_options {
  /// Customers, each creating one order.
  int orders = 2000;
  /// Customers arrive at this rate (per second of the run), over at least
  /// `min_arrival_span` (scenario.hpp).
  double arrival_rate = 50;
  /// Share of paid orders whose WeChat notification is lost, in percent;
  /// also the share of refund notifications WeChat loses.
  double lost_pct = 20;
  /// Share of paying customers who ask for a refund once their order is
  /// CONFIRMED, in percent.
  double refund_pct = 15;
  /// Seeds the customers (who pays, when, which notification is lost) and
  /// paysim's fault draws, so a run repeats.
  uint64_t seed = 1;
  /// Kill paycoord with SIGKILL in the middle of the run and restart it.
  bool crash = true;
  /// Keep the data (LevelDB store) and the logs after a successful run.
  bool keep = false;
  /// Where the run's files go; empty: a fresh temporary directory. A given
  /// directory is kept as a whole.
  std::string data_dir;
  /// ANSI colours on a terminal (also off when NO_COLOR is set).
  bool color = true;
  /// Folder holding the `paycoord` and `paysim` binaries.
  std::string bin_dir;
  /// The repository root (example configs and sandbox keys under config/).
  std::string source_dir;
  /// One second of the run stands for this many seconds of real time: every
  /// schedule of paycoord and WeChat's notification retries are divided by it.
  int compression = 60;
  /// Customers creating orders at once (HTTP client threads).
  int clients = 4;
};

} // namespace paycoord::demo
