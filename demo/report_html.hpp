#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace paycoord::demo {

/// report.html: one self-contained page (inline CSS and SVG, no scripts, no
/// external resources) with the report's tables and a chart of every paid
/// order's time to resolution against its payment time, coloured by how it
/// was resolved, over the outage window and the kill.
std::string render_html(const nlohmann::json& report);

/// `text` with &, <, >, " escaped.
std::string html_escape(const std::string& text);

} // namespace paycoord::demo
