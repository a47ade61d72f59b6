#pragma once

// The reconciliation report as tables, read from report.json's document, so
// the terminal text and report.html show the same numbers in the same order.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace paycoord::demo {

struct report_cell {
  enum class mark { none, ok, fail };
  std::string text;
  mark verdict = mark::none;
};

struct report_table {
  std::string title;
  std::vector<std::string> header;
  std::vector<std::vector<report_cell>> rows;
  /// A sentence under the table (may be empty).
  std::string note;
  /// Per column 'l' (text) or 'r' (numbers); missing columns are 'r',
  /// except the first.
  std::string align = "l";

  bool right_aligned(std::size_t column) const {
    return column < align.size() ? align[column] == 'r' : column > 0;
  }
};

/// The tables of `report` (the document written to report.json).
std::vector<report_table> report_tables(const nlohmann::json& report);

/// The report for a terminal: tables as aligned columns, verdicts coloured
/// (ANSI) when `color`.
std::string render_text(const nlohmann::json& report, bool color);

} // namespace paycoord::demo
