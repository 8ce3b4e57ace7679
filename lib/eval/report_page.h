// The run page: one static HTML file that a person opens in a browser, with
// no server, no script and nothing fetched from elsewhere. It shows
//   * the learning curve (inline SVG: success with its 95% Wilson band
//     against minutes, from the loop's curve.csv), when there is one;
//   * the latest evaluation: overall and per object family, each with its
//     95% Wilson interval, and the paired comparison when there is one;
//   * how the failed episodes failed (each summary's "failures"), when any did;
//   * episode videos (successes and failures) in <video> elements, the
//     files beside the page;
//   * the effective config and the provenance (tool, version, cell, seed,
//     policy, checkpoint metadata, time).
// `rl-eval --report DIR` writes it (with report.json and videos/), and
// scripts/loop.sh asks for one at the end of a run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace perpetua {

// One evaluated round of a learning curve.
struct CurvePoint {
  double minutes = 0.0;      // wall-clock minutes since the run started
  int64_t train_steps = 0;   // gradient steps of the evaluated checkpoint
  double success = 0.0;      // success rate
  double low = 0.0, high = 0.0;  // its 95% Wilson interval
};

// Reads a curve CSV with a header row naming at least the columns minutes,
// train_steps, success, wilson_low and wilson_high, in any order (the
// loop's curve.csv). Throws Error(kBadData) "<path>: ..." for a missing
// file or column, a row with too few cells or a value that is not a number
// (rates outside [0, 1] included), and Error(kBadData) for an empty file.
std::vector<CurvePoint> ReadCurveCsv(const std::string& path);

// What one page shows.
struct ReportPageInput {
  std::string title;                // the page's heading
  nlohmann::json report;            // rl-eval's JSON report (docs/eval.md)
  std::vector<CurvePoint> curve;    // empty: the page says there is no curve
  std::vector<std::string> videos;  // video paths relative to the page ("videos/episode-00003-failure.mp4")
  nlohmann::json provenance = nlohmann::json::object();  // shown as a key/value table
};

// The page, as HTML text. Every text from the inputs is escaped, so a config
// or a path holding "<", "&" or quotes shows as written.
std::string RenderReportPage(const ReportPageInput& input);

// RenderReportPage written atomically to DIR/index.html (DIR must exist).
// Returns the page's path. Throws Error(kIoError) when it cannot be written.
std::string WriteReportPage(const std::string& dir, const ReportPageInput& input);

}  // namespace perpetua
