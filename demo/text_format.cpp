#include "demo/text_format.hpp"

namespace paycoord::demo {

std::string format_ms(double ms) {
  if (ms < 1000)
    return format_text("%.0f ms", ms);
  if (ms < 60'000)
    return format_text("%.1f s", ms / 1000);
  return format_text("%.1f min", ms / 60'000);
}

std::string format_real_s(double s) {
  if (s < 60)
    return format_text("%.0f s", s);
  if (s < 3600)
    return format_text("%.1f min", s / 60);
  return format_text("%.1f h", s / 3600);
}

} // namespace paycoord::demo
