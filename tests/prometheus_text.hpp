#pragma once

// A strict reader of the Prometheus text exposition format 0.0.4, for tests:
// every line must be a HELP, a TYPE or a sample of a family whose TYPE came
// first; anything else is an error naming the line.

#include <cmath>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>

namespace paycoord::testing {

struct prometheus_text {
  /// Family name -> type ("counter", "gauge", "histogram", ...).
  std::map<std::string, std::string> types;
  /// Sample ("name{labels}" exactly as written, or "name") -> value.
  std::map<std::string, double> samples;
  /// Empty when the text parsed; else the first offending line and why.
  std::string error;

  bool ok() const {
    return error.empty();
  }

  /// The value of a sample, e.g. `value("paycoord_orders{state=\"PAID\"}")`.
  std::optional<double> value(const std::string& sample) const {
    auto i = samples.find(sample);
    if (i == samples.end())
      return std::nullopt;
    return i->second;
  }
};

inline prometheus_text parse_prometheus_text(const std::string& text) {
  static const std::regex help{R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*)"};
  static const std::regex type{
    R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped))"};
  static const std::regex sample{
    R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*",?)*\})? )"
    R"(([-+]?([0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?|Inf|NaN))( -?[0-9]+)?)"};
  prometheus_text out;
  std::istringstream in{text};
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    std::smatch m;
    auto where = "line " + std::to_string(n) + " '" + line + "': ";
    if (line.empty())
      continue;
    if (line.rfind("# HELP ", 0) == 0) {
      if (!std::regex_match(line, help))
        return out.error = where + "malformed HELP", out;
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      if (!std::regex_match(line, m, type))
        return out.error = where + "malformed TYPE", out;
      out.types[m[1]] = m[2];
      continue;
    }
    if (line[0] == '#')
      continue; // a comment
    if (!std::regex_match(line, m, sample))
      return out.error = where + "malformed sample", out;
    std::string name = m[1];
    auto family = name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      std::string s{suffix};
      if (!out.types.count(family) && family.size() > s.size()
          && family.compare(family.size() - s.size(), s.size(), s) == 0)
        family = family.substr(0, family.size() - s.size());
    }
    if (!out.types.count(family))
      return out.error = where + "sample before its TYPE line", out;
    auto value_text = m[5].str();
    double value = value_text == "+Inf" || value_text == "Inf" ? HUGE_VAL
                   : value_text == "-Inf"                      ? -HUGE_VAL
                                                               : std::stod(value_text);
    out.samples[name + m[2].str()] = value;
  }
  return out;
}

} // namespace paycoord::testing
