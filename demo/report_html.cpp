#include "demo/report_html.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "demo/report_tables.hpp"
#include "demo/text_format.hpp"

namespace paycoord::demo {

namespace {

using json = nlohmann::json;

struct series_style {
  const char* key;
  const char* label;
  const char* color;
};

constexpr series_style series[] = {
  {"notification", "WeChat's notification", "#2f6fb0"},
  {"verify_query", "paycoord's verify query (notification lost)", "#e07b00"},
  {"after_restart", "the restarted paycoord (after kill -9)", "#c0392b"},
  {"unresolved", "never resolved", "#000000"},
};

const char* color_of(const std::string& key) {
  for (auto& s : series)
    if (key == s.key)
      return s.color;
  return "#000000";
}

// -- the chart -----------------------------------------------------------------

constexpr double width = 920, height = 380;
constexpr double left = 70, right = 20, top = 20, bottom = 50;

/// Time to resolution on a log scale from 1 ms up to the next power of ten
/// above the slowest order.
struct chart_axes {
  double x_max_s = 1;
  double y_decades = 3; // 10^0 .. 10^decades ms

  double x(double s) const {
    return left + (width - left - right) * std::clamp(s / x_max_s, 0.0, 1.0);
  }
  double y(double ms) const {
    auto d = std::log10(std::max(ms, 1.0));
    return top + (height - top - bottom) * (1 - std::clamp(d / y_decades, 0.0, 1.0));
  }
};

std::string chart_svg(const json& report) {
  const auto& run = report.at("run");
  const auto& orders = report.at("orders");
  chart_axes ax;
  ax.x_max_s = std::max(1.0, run.value("duration_s", 1.0));
  double slowest = 1;
  for (auto& o : orders)
    slowest = std::max(slowest, o.value("to_delivery_ms", 0.0));
  ax.y_decades = std::max(2.0, std::ceil(std::log10(slowest)));

  std::string svg = format_text("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" "
                           "width=\"%.0f\" height=\"%.0f\" role=\"img\">\n",
                           width, height, width, height);
  // Fault windows first, under the points.
  const auto& outage = run.at("business_outage_s");
  if (outage.at(0).is_number() && outage.at(1).is_number()) {
    auto x0 = ax.x(outage.at(0).get<double>()), x1 = ax.x(outage.at(1).get<double>());
    svg += format_text("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#eee\"/>"
                  "<text x=\"%.1f\" y=\"%.1f\" class=\"tag\">business server down</text>\n",
                  x0, top, x1 - x0, height - top - bottom, x0 + 3, top + 12);
  }
  if (run.at("kill_at_s").is_number()) {
    auto x = ax.x(run.at("kill_at_s").get<double>());
    svg += format_text("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#c0392b\" "
                  "stroke-dasharray=\"4 3\"/><text x=\"%.1f\" y=\"%.1f\" class=\"tag\">"
                  "kill -9</text>\n",
                  x, top, x, height - bottom, x + 3, top + 26);
  }
  // Axes, ticks and grid.
  svg += format_text("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n", left,
                height - bottom, width - right, height - bottom);
  svg += format_text("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n", left,
                top, left, height - bottom);
  for (int d = 0; d <= static_cast<int>(ax.y_decades); ++d) {
    auto ms = std::pow(10.0, d);
    auto y = ax.y(ms);
    svg += format_text("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                  "<text x=\"%.1f\" y=\"%.1f\" class=\"axis\" text-anchor=\"end\">%s</text>\n",
                  left, y, width - right, y, left - 6, y + 4,
                  (d < 3 ? format_text("%.0f ms", ms) : format_text("%.0f s", ms / 1000)).c_str());
  }
  double step = ax.x_max_s > 120 ? 30 : ax.x_max_s > 40 ? 10 : 5;
  for (double s = 0; s <= ax.x_max_s + 1e-9; s += step)
    svg += format_text("<text x=\"%.1f\" y=\"%.1f\" class=\"axis\" text-anchor=\"middle\">%.0f s"
                  "</text>\n",
                  ax.x(s), height - bottom + 16, s);
  svg += format_text("<text x=\"%.1f\" y=\"%.1f\" class=\"axis\" text-anchor=\"middle\">payment at "
                "WeChat (seconds into the run)</text>\n",
                left + (width - left - right) / 2, height - 10);
  svg += format_text("<text x=\"14\" y=\"%.1f\" class=\"axis\" text-anchor=\"middle\" "
                "transform=\"rotate(-90 14 %.1f)\">payment to delivery (log)</text>\n",
                (height - bottom + top) / 2, (height - bottom + top) / 2);
  // One point per paid order; unresolved ones on the top edge.
  for (auto& o : orders) {
    auto how = o.value("resolution", "unresolved");
    auto y = how == "unresolved" ? top : ax.y(o.value("to_delivery_ms", 1.0));
    svg += format_text("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.4\" fill=\"%s\" fill-opacity=\"0.7\">"
                  "<title>%s: %s, %s</title></circle>\n",
                  ax.x(o.value("paid_at_s", 0.0)), y, color_of(how),
                  html_escape(o.value("out_trade_no", "")).c_str(), how.c_str(),
                  format_ms(o.value("to_delivery_ms", 0.0)).c_str());
  }
  svg += "</svg>\n";
  return svg;
}

std::string legend() {
  std::string html = "<p class=\"legend\">";
  for (auto& s : series)
    html += format_text("<span><i style=\"background:%s\"></i>%s</span>", s.color, s.label);
  return html + "</p>\n";
}

std::string table_html(const report_table& t) {
  std::string html = "<h2>" + html_escape(t.title) + "</h2>\n<table>\n<tr>";
  auto cell_class = [&](std::size_t column) { return t.right_aligned(column) ? "r" : "l"; };
  for (std::size_t i = 0; i < t.header.size(); ++i)
    html += format_text("<th class=\"%s\">", cell_class(i)) + html_escape(t.header[i]) + "</th>";
  html += "</tr>\n";
  for (auto& row : t.rows) {
    html += "<tr>";
    for (std::size_t i = 0; i < row.size(); ++i) {
      const auto& c = row[i];
      const char* verdict = c.verdict == report_cell::mark::ok     ? " ok"
                            : c.verdict == report_cell::mark::fail ? " fail"
                                                                   : "";
      html += format_text("<td class=\"%s%s\">", cell_class(i), verdict) + html_escape(c.text)
              + "</td>";
    }
    html += "</tr>\n";
  }
  html += "</table>\n";
  if (!t.note.empty())
    html += "<p class=\"note\">" + html_escape(t.note) + "</p>\n";
  return html;
}

constexpr const char* style = R"(
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 960px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.1em; margin-top: 1.8em; }
table { border-collapse: collapse; } th, td { padding: 3px 10px; border-bottom: 1px solid #ddd; }
.l { text-align: left; } .r { text-align: right; }
.ok { color: #1e7b34; font-weight: bold; } .fail { color: #c0392b; font-weight: bold; }
.note { color: #555; max-width: 900px; } .verdict { font-size: 1.2em; }
.legend span { margin-right: 1.4em; } .legend i { display: inline-block; width: 10px;
  height: 10px; border-radius: 5px; margin-right: 5px; }
svg .axis { font-size: 11px; fill: #444; } svg .tag { font-size: 11px; fill: #777; }
code { background: #f4f4f4; padding: 0 3px; }
)";

} // namespace

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string render_html(const json& report) {
  const auto& run = report.at("run");
  bool ok = report.value("ok", false);
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<title>paycoord demo report</title><style>";
  html += style;
  html += "</style></head><body>\n<h1>paycoord demo: the customer paid, is the order paid?</h1>\n";
  html += format_text("<p class=\"verdict\">%s</p>\n",
                 ok ? "<span class=\"ok\">Every paid order was confirmed; nothing unpaid was "
                      "delivered; every refund was settled and none was lost.</span>"
                    : "<span class=\"fail\">An invariant failed: see below.</span>");
  html += "<p>" + html_escape(format_text("%d orders, seed %llu, %.0f%% of notifications lost, "
                                     "%.0f%% of payers asking for a refund, run of %.1f s, 1 s "
                                     "of the run = %d s of real time.",
                                     run.value("orders", 0),
                                     static_cast<unsigned long long>(run.value("seed", 0ULL)),
                                     run.value("lost_pct", 0.0), run.value("refund_pct", 0.0),
                                     run.value("duration_s", 0.0),
                                     run.value("compression", 0)))
          + " Run directory: <code>" + html_escape(run.value("run_dir", "")) + "</code></p>\n";
  auto tables = report_tables(report);
  html += table_html(tables.at(0));
  html += "<h2>Time to resolution, per paid order</h2>\n" + legend() + chart_svg(report);
  for (std::size_t i = 1; i < tables.size(); ++i)
    html += table_html(tables[i]);
  html += "</body></html>\n";
  return html;
}

} // namespace paycoord::demo
