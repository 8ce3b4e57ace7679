#include "eval/report_page.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "common/error.h"
#include "common/fs.h"
#include "common/html.h"

namespace perpetua {
namespace {

std::string Format(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

std::string Percent(double rate) { return Format("%.1f%%", 100.0 * rate); }

// "57.0% [50.1, 63.6]" from a RateSummary's JSON (eval/report.h).
std::string RateText(const nlohmann::json& rate) {
  const nlohmann::json& interval = rate.at("wilson95");
  return Percent(rate.at("success_rate").get<double>()) + " [" +
         Format("%.1f", 100.0 * interval.at(0).get<double>()) + ", " +
         Format("%.1f", 100.0 * interval.at(1).get<double>()) + "]";
}

std::string JsonText(const nlohmann::json& value) { return value.is_string() ? value.get<std::string>() : value.dump(); }

std::vector<std::string> SplitCsvLine(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  std::istringstream in(line);
  while (std::getline(in, cell, ',')) cells.push_back(cell);
  if (!line.empty() && line.back() == ',') cells.emplace_back();
  return cells;
}

// The learning curve as inline SVG: the Wilson band, the success line and a point per round.
std::string CurveSvg(const std::vector<CurvePoint>& curve) {
  constexpr double kWidth = 640, kHeight = 280, kLeft = 52, kRight = 16, kTop = 12, kBottom = 40;
  double max_minutes = 0;
  for (const CurvePoint& p : curve) max_minutes = std::max(max_minutes, p.minutes);
  max_minutes = max_minutes > 0 ? max_minutes * 1.05 : 1.0;
  const auto x = [&](double minutes) { return kLeft + (kWidth - kLeft - kRight) * minutes / max_minutes; };
  const auto y = [&](double rate) { return kTop + (kHeight - kTop - kBottom) * (1.0 - rate); };
  const auto point = [](double px, double py) { return Format("%.1f", px) + "," + Format("%.1f", py); };
  std::string svg = "<svg class=\"curve\" viewBox=\"0 0 640 280\" width=\"640\" height=\"280\" role=\"img\" "
                    "aria-label=\"success against minutes\">\n";
  for (int i = 0; i <= 4; ++i) {  // horizontal grid at 0, 25, 50, 75, 100%
    const double rate = i / 4.0;
    svg += "<line class=\"grid\" x1=\"" + Format("%.1f", kLeft) + "\" x2=\"" + Format("%.1f", kWidth - kRight) +
           "\" y1=\"" + Format("%.1f", y(rate)) + "\" y2=\"" + Format("%.1f", y(rate)) + "\"/>";
    svg += "<text class=\"tick\" x=\"" + Format("%.1f", kLeft - 6) + "\" y=\"" + Format("%.1f", y(rate) + 4) +
           "\" text-anchor=\"end\">" + Format("%.0f%%", 100 * rate) + "</text>\n";
  }
  const double step = max_minutes > 40 ? 10 : max_minutes > 8 ? 5 : 1;  // minute ticks
  for (double m = 0; m <= max_minutes; m += step) {
    svg += "<text class=\"tick\" x=\"" + Format("%.1f", x(m)) + "\" y=\"" + Format("%.1f", kHeight - kBottom + 16) +
           "\" text-anchor=\"middle\">" + Format("%.0f", m) + "</text>";
  }
  svg += "\n<text class=\"label\" x=\"" + Format("%.1f", (kLeft + kWidth - kRight) / 2) + "\" y=\"" +
         Format("%.1f", kHeight - 6) + "\" text-anchor=\"middle\">minutes</text>\n";
  std::string band, line, dots;
  for (const CurvePoint& p : curve) band += point(x(p.minutes), y(p.high)) + " ";
  for (auto p = curve.rbegin(); p != curve.rend(); ++p) band += point(x(p->minutes), y(p->low)) + " ";
  for (const CurvePoint& p : curve) {
    line += point(x(p.minutes), y(p.success)) + " ";
    dots += "<circle cx=\"" + Format("%.1f", x(p.minutes)) + "\" cy=\"" + Format("%.1f", y(p.success)) +
            "\" r=\"3\"><title>" + Format("%.2f min", p.minutes) + ", step " + std::to_string(p.train_steps) +
            ": " + Percent(p.success) + " [" + Format("%.1f", 100 * p.low) + ", " + Format("%.1f", 100 * p.high) +
            "]</title></circle>";
  }
  svg += "<polygon class=\"band\" points=\"" + band + "\"/>\n<polyline class=\"line\" points=\"" + line + "\"/>\n" +
         dots + "\n</svg>\n";
  return svg;
}

std::string SummaryRows(const std::string& name, const nlohmann::json& summary) {
  std::string rows = "<tr class=\"overall\"><td>" + HtmlEscape(name) + "</td><td>all</td><td>" +
                     std::to_string(summary.at("episodes").get<int64_t>()) + "</td><td>" +
                     std::to_string(summary.at("successes").get<int64_t>()) + "</td><td>" + RateText(summary) +
                     "</td></tr>\n";
  if (summary.contains("per_family")) {
    for (const nlohmann::json& family : summary.at("per_family")) {
      const std::string label = family.at("family").get<std::string>();
      rows += "<tr><td></td><td>" + HtmlEscape(label.empty() ? "(unnamed)" : label) + "</td><td>" +
              std::to_string(family.at("episodes").get<int64_t>()) + "</td><td>" +
              std::to_string(family.at("successes").get<int64_t>()) + "</td><td>" + RateText(family) + "</td></tr>\n";
    }
  }
  return rows;
}

// How the failed episodes failed (each summary's "failures": reason -> count),
// A's and B's side by side (a side without a failure shows 0s); "" when no
// summary lists any.
std::string FailureTable(const nlohmann::json& report) {
  std::vector<std::pair<std::string, const nlohmann::json*>> sides;
  for (const char* side : {"a", "b"}) {
    if (report.contains(side) && report[side].contains("failures") && report[side]["failures"].is_object()) {
      sides.emplace_back(side, &report[side]["failures"]);
    }
  }
  std::set<std::string> reasons;
  for (const auto& side : sides) {
    for (const auto& item : side.second->items()) reasons.insert(item.key());
  }
  if (reasons.empty()) return "";
  std::string html = "<h2>How episodes failed</h2>\n<table class=\"failures\">\n<tr><th>reason</th>";
  for (const auto& side : sides) html += "<th>" + std::string(side.first == "a" ? "A" : "B") + "</th>";
  html += "</tr>\n";
  for (const std::string& reason : reasons) {
    html += "<tr><td>" + HtmlEscape(reason) + "</td>";
    for (const auto& side : sides) {
      html += "<td>" + std::to_string(side.second->value(reason, int64_t{0})) + "</td>";
    }
    html += "</tr>\n";
  }
  return html + "</table>\n";
}

// "videos/a-episode-00003-failure.mp4" -> "A, episode 3: failure".
std::string VideoCaption(const std::string& path) {
  std::string name = path.substr(path.find_last_of('/') + 1);
  name = name.substr(0, name.find('.'));
  std::string prefix;
  if (name.rfind("a-", 0) == 0 || name.rfind("b-", 0) == 0) {
    prefix = name[0] == 'a' ? "A, " : "B, ";
    name = name.substr(2);
  }
  int index = 0;
  char outcome[16] = {0};
  if (std::sscanf(name.c_str(), "episode-%d-%15s", &index, outcome) == 2) {
    return prefix + "episode " + std::to_string(index) + ": " + outcome;
  }
  return prefix + name;
}

constexpr const char* kStyle = R"(
body { font: 15px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1100px; color: #1d2733; padding: 0 16px; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 28px; border-bottom: 1px solid #d8dee6; }
.sub { color: #5b6878; margin-top: 0; }
table { border-collapse: collapse; margin: 8px 0; } td, th { padding: 3px 12px; text-align: left; border-bottom: 1px solid #eef1f4; }
th { background: #f3f5f8; } tr.overall td { font-weight: 600; }
.curve .grid { stroke: #e3e7ec; } .curve .tick, .curve .label { font-size: 12px; fill: #5b6878; }
.curve .band { fill: #3b7dd8; fill-opacity: 0.18; stroke: none; }
.curve .line { fill: none; stroke: #1f5fb8; stroke-width: 2; } .curve circle { fill: #1f5fb8; }
.videos { display: flex; flex-wrap: wrap; gap: 14px; } figure { margin: 0; } video { width: 320px; background: #000; }
figcaption { font-size: 13px; color: #5b6878; } .failure { color: #a33; } .success { color: #2a7a3a; }
pre { background: #f6f8fa; padding: 10px; overflow-x: auto; font-size: 13px; }
)";

}  // namespace

std::vector<CurvePoint> ReadCurveCsv(const std::string& path) {
  std::ifstream in(path);
  if (!in) Fail(ExitCode::kBadData, path + ": cannot read the curve");
  std::string line;
  if (!std::getline(in, line)) Fail(ExitCode::kBadData, path + ": empty curve file (no header row)");
  const std::vector<std::string> header = SplitCsvLine(line);
  std::map<std::string, size_t> column;
  for (size_t i = 0; i < header.size(); ++i) column[header[i]] = i;
  const std::vector<std::string> needed = {"minutes", "train_steps", "success", "wilson_low", "wilson_high"};
  for (const std::string& name : needed) {
    if (!column.count(name)) Fail(ExitCode::kBadData, path + ": the curve has no column '" + name + "'");
  }
  std::vector<CurvePoint> curve;
  int row = 1;
  while (std::getline(in, line)) {
    ++row;
    if (line.empty()) continue;
    const std::vector<std::string> cells = SplitCsvLine(line);
    const auto number = [&](const std::string& name) {
      const size_t i = column.at(name);
      if (i >= cells.size()) Fail(ExitCode::kBadData, path + ": row " + std::to_string(row) + " has no '" + name + "'");
      const char* text = cells[i].c_str();
      char* end = nullptr;
      const double value = std::strtod(text, &end);
      if (cells[i].empty() || *end != '\0' || !std::isfinite(value)) {
        Fail(ExitCode::kBadData, path + ": row " + std::to_string(row) + ": '" + name + "' is not a number: '" +
                                     cells[i] + "'");
      }
      return value;
    };
    CurvePoint p;
    p.minutes = number("minutes");
    p.train_steps = static_cast<int64_t>(number("train_steps"));
    p.success = number("success");
    p.low = number("wilson_low");
    p.high = number("wilson_high");
    for (double rate : {p.success, p.low, p.high}) {
      if (rate < 0.0 || rate > 1.0) {
        Fail(ExitCode::kBadData, path + ": row " + std::to_string(row) + ": a rate outside [0, 1]");
      }
    }
    curve.push_back(p);
  }
  return curve;
}

std::string RenderReportPage(const ReportPageInput& input) {
  const nlohmann::json& report = input.report;
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
                     HtmlEscape(input.title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n";
  html += "<h1>" + HtmlEscape(input.title) + "</h1>\n";
  const nlohmann::json& a = report.at("a");
  html += "<p class=\"sub\">" + HtmlEscape(JsonText(report.value("env", nlohmann::json("?")))) + ", " +
          HtmlEscape(JsonText(report.value("objects", nlohmann::json("?")))) + " objects: <b>" + RateText(a) +
          "</b> success over " + std::to_string(a.at("episodes").get<int64_t>()) + " episodes (95% Wilson interval)</p>\n";

  html += "<h2>Learning curve</h2>\n";
  if (input.curve.empty()) {
    html += "<p>No learning curve: this evaluation is not part of a training run.</p>\n";
  } else {
    html += CurveSvg(input.curve);
    html += "<p class=\"sub\">Each point: one evaluated checkpoint; the band is its 95% Wilson interval.</p>\n";
  }

  html += "<h2>Latest evaluation</h2>\n<table>\n<tr><th>policy</th><th>family</th><th>episodes</th>"
          "<th>successes</th><th>success [95% interval]</th></tr>\n";
  html += SummaryRows("A: " + JsonText(a.value("policy", nlohmann::json("?"))), a);
  if (report.contains("b")) html += SummaryRows("B: " + JsonText(report["b"].value("policy", nlohmann::json("?"))), report["b"]);
  html += "</table>\n";
  if (report.contains("comparison")) {
    const nlohmann::json& c = report["comparison"];
    const nlohmann::json& interval = c.at("difference_bootstrap95");
    html += "<p>Paired on the same episodes: A &minus; B = " + Format("%+.1f", 100 * c.at("difference").get<double>()) +
            " points [" + Format("%+.1f", 100 * interval.at(0).get<double>()) + ", " +
            Format("%+.1f", 100 * interval.at(1).get<double>()) + "], McNemar mid-p " +
            Format("%.3g", c.at("mcnemar_p_mid").get<double>()) + ": <b>" + HtmlEscape(c.at("verdict").get<std::string>()) +
            "</b>.</p>\n";
  }
  if (a.contains("mean_length")) {
    html += "<p class=\"sub\">Mean episode length " + Format("%.2f", a["mean_length"].get<double>()) +
            " steps, mean return " + Format("%.3f", a.value("mean_return", 0.0)) + ".</p>\n";
  }

  html += FailureTable(report);

  html += "<h2>Episodes</h2>\n";
  if (input.videos.empty()) {
    html += "<p>No videos.</p>\n";
  } else {
    html += "<div class=\"videos\">\n";
    for (const std::string& video : input.videos) {
      const std::string caption = VideoCaption(video);
      const std::string kind = caption.find("failure") != std::string::npos ? "failure" : "success";
      html += "<figure><video controls muted loop playsinline preload=\"metadata\" src=\"" + HtmlEscape(video) +
              "\"></video><figcaption class=\"" + kind + "\">" + HtmlEscape(caption) + "</figcaption></figure>\n";
    }
    html += "</div>\n";
  }

  html += "<h2>Config</h2>\n<pre>" + HtmlEscape(JsonText(report.value("config", nlohmann::json("")))) + "</pre>\n";
  html += "<h2>Provenance</h2>\n<table>\n";
  for (const auto& [key, value] : input.provenance.items()) {
    html += "<tr><th>" + HtmlEscape(key) + "</th><td>" + HtmlEscape(JsonText(value)) + "</td></tr>\n";
  }
  html += "</table>\n</body>\n</html>\n";
  return html;
}

std::string WriteReportPage(const std::string& dir, const ReportPageInput& input) {
  const std::string path = dir + "/index.html";
  WriteFileAtomic(path, RenderReportPage(input));
  return path;
}

}  // namespace perpetua
