#include "bench/scale_probe.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

#include <sys/utsname.h>
#include <unistd.h>

#include "net/http_client.hpp"

namespace paycoord::bench {

namespace {

/// "VmRSS:	  123456 kB" -> bytes.
uint64_t kilobytes_field(const std::string& line) {
  std::istringstream in{line.substr(line.find(':') + 1)};
  uint64_t kb = 0;
  in >> kb;
  return kb * 1024;
}

std::string first_line_with(const std::string& file, const std::string& prefix) {
  std::ifstream in{file};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(prefix, 0) == 0)
      return line;
  return {};
}

} // namespace

std::optional<proc_memory> read_proc_memory(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  if (!in)
    return std::nullopt;
  proc_memory m;
  bool any = false;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0)
      m.rss = kilobytes_field(line), any = true;
    else if (line.rfind("VmHWM:", 0) == 0)
      m.hwm = kilobytes_field(line);
    else if (line.rfind("RssAnon:", 0) == 0)
      m.rss_anon = kilobytes_field(line);
    else if (line.rfind("RssFile:", 0) == 0)
      m.rss_file = kilobytes_field(line);
  }
  if (!any)
    return std::nullopt; // a zombie has no VmRSS
  return m;
}

std::optional<double> read_cpu_seconds(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string stat;
  if (!std::getline(in, stat))
    return std::nullopt;
  // After "pid (comm) ": state is field 3, utime 14, stime 15.
  auto close = stat.rfind(')');
  if (close == std::string::npos)
    return std::nullopt;
  std::istringstream fields{stat.substr(close + 2)};
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i)
    if (i >= 14)
      ticks += std::stod(field);
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::optional<testing::prometheus_text> scrape_metrics(const std::string& url, int timeout_ms) {
  net::http_client_options o;
  o.timeout = std::chrono::milliseconds{timeout_ms};
  o.connect_timeout = std::chrono::milliseconds{std::min(timeout_ms, 1000)};
  net::http_client client{o};
  auto r = client.send({"GET", url, {}, {}});
  if (!r || r->status != 200)
    return std::nullopt;
  auto text = testing::parse_prometheus_text(r->body);
  if (!text.ok())
    return std::nullopt;
  return text;
}

double sample_or_zero(const testing::prometheus_text& text, const std::string& sample) {
  return text.value(sample).value_or(0);
}

std::vector<std::pair<std::string, double>> samples_with_prefix(
  const testing::prometheus_text& text, const std::string& prefix) {
  std::vector<std::pair<std::string, double>> out;
  for (auto i = text.samples.lower_bound(prefix);
       i != text.samples.end() && i->first.compare(0, prefix.size(), prefix) == 0; ++i)
    out.emplace_back(i->first, i->second);
  return out;
}

std::optional<histogram> read_histogram(const testing::prometheus_text& text,
                                        const std::string& name) {
  histogram h;
  auto prefix = name + "_bucket{le=\"";
  for (auto& [sample, value] : samples_with_prefix(text, prefix)) {
    auto le_text = sample.substr(prefix.size());
    le_text = le_text.substr(0, le_text.find('"'));
    double le = le_text == "+Inf" ? HUGE_VAL : std::stod(le_text);
    h.buckets.emplace_back(le, value);
  }
  if (h.buckets.empty())
    return std::nullopt;
  std::sort(h.buckets.begin(), h.buckets.end());
  h.count = sample_or_zero(text, name + "_count");
  h.sum = sample_or_zero(text, name + "_sum");
  return h;
}

histogram histogram_delta(const histogram& later, const histogram& earlier) {
  histogram d = later;
  for (size_t i = 0; i < d.buckets.size() && i < earlier.buckets.size(); ++i)
    d.buckets[i].second -= earlier.buckets[i].second;
  d.count -= earlier.count;
  d.sum -= earlier.sum;
  return d;
}

double histogram_quantile(const histogram& h, double q) {
  if (h.buckets.empty() || h.count <= 0)
    return 0;
  auto rank = q * h.count;
  double lower = 0, below = 0;
  for (auto& [le, cumulative] : h.buckets) {
    if (cumulative >= rank) {
      if (std::isinf(le))
        return HUGE_VAL;
      auto in_bucket = cumulative - below;
      return in_bucket <= 0 ? le : lower + (le - lower) * (rank - below) / in_bucket;
    }
    lower = le;
    below = cumulative;
  }
  return HUGE_VAL;
}

double histogram_max_bound(const histogram& h) {
  double below = 0;
  double bound = 0;
  for (auto& [le, cumulative] : h.buckets) {
    if (cumulative > below)
      bound = le;
    below = cumulative;
  }
  return bound;
}

double sorted_quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty())
    return 0;
  auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

std::vector<std::string> machine_facts() {
  std::vector<std::string> out;
  out.push_back("nproc " + std::to_string(std::thread::hardware_concurrency()));
  auto model = first_line_with("/proc/cpuinfo", "model name");
  out.push_back(model.empty() ? "model name: ?" : model.substr(0, 10) + ":" + model.substr(model.find(':') + 1));
  auto mem = first_line_with("/proc/meminfo", "MemTotal:");
  char buf[64];
  std::snprintf(buf, sizeof(buf), "RAM %.1f GiB",
                static_cast<double>(kilobytes_field(mem)) / (1024.0 * 1024.0 * 1024.0));
  out.emplace_back(buf);
  utsname u{};
  if (::uname(&u) == 0)
    out.push_back(std::string{"kernel "} + u.release);
  auto now = std::time(nullptr);
  char date[64];
  std::strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&now));
  out.push_back(std::string{"date "} + date);
  return out;
}

} // namespace paycoord::bench
