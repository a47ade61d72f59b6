#pragma once

#include <string_view>
#include <vector>

namespace paycoord::web {

/// One file of the inspector page, embedded at build time.
struct asset {
  std::string_view name;         ///< file name in web/, e.g. "inspector.js"
  std::string_view content_type; ///< from the extension
  std::string_view bytes;
};

/// Every file of web/ listed in web/CMakeLists.txt. Static data: valid for
/// the life of the process, safe to read from any thread.
const std::vector<asset>& assets();

} // namespace paycoord::web
