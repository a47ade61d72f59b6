#include "demo/run_dir.hpp"

#include <filesystem>
#include <fstream>

#include <stdlib.h>

namespace paycoord::demo {

namespace fs = std::filesystem;

std::optional<std::string> prepare_run_dir(const std::string& data_dir, const std::string& prefix,
                                           run_dir& out) {
  std::error_code ec;
  if (!data_dir.empty()) {
    out = {fs::absolute(data_dir, ec).string(), false};
    fs::create_directories(out.path, ec);
    if (ec)
      return "cannot create " + out.path + ": " + ec.message();
    if (fs::exists(out.path + "/data") && !fs::is_empty(out.path + "/data"))
      return out.path + "/data already holds a store: give an empty or new --data-dir";
    return std::nullopt;
  }
  auto pattern = (fs::temp_directory_path(ec) / (prefix + "XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr)
    return "cannot create a temporary directory " + pattern;
  out = {pattern, true};
  return std::nullopt;
}

void remove_store_and_logs(const run_dir& dir) {
  std::error_code ec;
  fs::remove_all(dir.path + "/data", ec);
  for (auto& entry : fs::directory_iterator(dir.path, ec))
    if (entry.path().extension() == ".log")
      fs::remove(entry.path(), ec);
}

nlohmann::json read_json_file(const std::string& file) {
  std::ifstream in{file};
  return nlohmann::json::parse(in, nullptr, false);
}

void write_text_file(const std::string& file, const std::string& text) {
  std::ofstream out{file};
  out << text;
}

} // namespace paycoord::demo
