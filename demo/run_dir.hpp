#pragma once

// The directory a run writes into (configs, paycoord's store, the logs and
// the report), shared by paydemo and paysoak.

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace paycoord::demo {

struct run_dir {
  std::string path;
  /// Made by the run (its store and logs are removed after a passed run
  /// unless kept).
  bool temporary = false;
};

/// `data_dir` made absolute and created, or a new `$TMPDIR/<prefix>XXXXXX`
/// when it is empty. Returns why not: it cannot be created, or its `data/`
/// already holds a store (a run never reuses one).
std::optional<std::string> prepare_run_dir(const std::string& data_dir, const std::string& prefix,
                                           run_dir& out);

/// Removes the store (`data/`) and the `*.log` files; configs and reports stay.
void remove_store_and_logs(const run_dir& dir);

/// The file parsed as JSON; a discarded value when it is missing or not JSON.
nlohmann::json read_json_file(const std::string& file);

/// Writes `text` to `file`, replacing it.
void write_text_file(const std::string& file, const std::string& text);

} // namespace paycoord::demo
