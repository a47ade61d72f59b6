#pragma once

// What scale_bench reads about a running paycoord from the outside: its
// memory (/proc/<pid>/status), its metrics (/metrics, Prometheus text) and
// the histogram arithmetic to turn buckets into percentiles; and the facts
// of the machine a figure was measured on.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <sys/types.h>

#include "tests/prometheus_text.hpp"

namespace paycoord::bench {

/// /proc/<pid>/status, in bytes.
struct proc_memory {
  uint64_t rss = 0;      ///< VmRSS
  uint64_t hwm = 0;      ///< VmHWM: the peak of VmRSS
  uint64_t rss_anon = 0; ///< RssAnon: heap, stacks
  uint64_t rss_file = 0; ///< RssFile: mapped files (binary, LevelDB tables)
};

/// Nullopt when the process is gone (or /proc is unreadable).
std::optional<proc_memory> read_proc_memory(pid_t pid);

/// CPU time (user + system) the process has used, in seconds; nullopt when
/// it is gone.
std::optional<double> read_cpu_seconds(pid_t pid);

/// One scrape of /metrics; nullopt when nothing (valid) answered within
/// `timeout_ms`.
std::optional<testing::prometheus_text> scrape_metrics(const std::string& url,
                                                       int timeout_ms = 5000);

/// A sample's value, 0 when absent.
double sample_or_zero(const testing::prometheus_text& text, const std::string& sample);

/// The samples whose name{labels} starts with `prefix`.
std::vector<std::pair<std::string, double>> samples_with_prefix(
  const testing::prometheus_text& text, const std::string& prefix);

/// A Prometheus histogram without labels: cumulative counts per upper bound
/// (`le`, +Inf last), as exposed.
struct histogram {
  std::vector<std::pair<double, double>> buckets; ///< (le, cumulative count)
  double count = 0;
  double sum = 0;
};

/// The histogram `name` (e.g. paycoord_timer_lateness_seconds) of a scrape.
std::optional<histogram> read_histogram(const testing::prometheus_text& text,
                                        const std::string& name);

/// What was observed between two scrapes of the same histogram.
histogram histogram_delta(const histogram& later, const histogram& earlier);

/// The q-quantile (0..1), interpolated linearly inside its bucket as
/// Prometheus' histogram_quantile does; +Inf when it falls in the last
/// bucket, 0 for an empty histogram.
double histogram_quantile(const histogram& h, double q);

/// The upper bound of the highest non-empty bucket: the maximum is at most
/// this (+Inf for the last bucket, 0 when empty).
double histogram_max_bound(const histogram& h);

/// Exact quantile of sorted values (nearest rank); 0 when empty.
double sorted_quantile(const std::vector<double>& sorted, double q);

/// nproc, CPU model, RAM, kernel, date: one line each.
std::vector<std::string> machine_facts();

} // namespace paycoord::bench
