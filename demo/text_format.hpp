#pragma once

// Small text formatting shared by the live view and the report renderers.

#include <algorithm>
#include <cstdio>
#include <string>

namespace paycoord::demo {

/// printf into a std::string of the right size.
template <class... Args>
std::string format_text(const char* fmt, Args... args) {
  auto n = std::snprintf(nullptr, 0, fmt, args...);
  std::string out(static_cast<std::size_t>(std::max(n, 0)) + 1, '\0');
  std::snprintf(out.data(), out.size(), fmt, args...);
  out.pop_back();
  return out;
}

/// Milliseconds, readable: "12 ms", "1.4 s", "2.1 min".
std::string format_ms(double ms);

/// Seconds of real-world time, readable: "41 s", "4.9 min", "1.5 h".
std::string format_real_s(double s);

} // namespace paycoord::demo
