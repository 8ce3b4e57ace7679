// The run page (eval/report_page.h): the curve CSV it reads, and what the HTML
// holds. tests/eval/run_page_e2e_test.cpp opens a real one in Chromium.
#include "eval/report_page.h"

#include <doctest/doctest.h>

#include "common/error.h"
#include "support/expect_error.h"
#include "support/test_support.h"

namespace perpetua {
namespace {
using testing::TempDir;

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST_CASE("a curve CSV is read by its column names and every bad row is refused") {
  TempDir dir;
  testing::WriteFile(dir / "curve.csv",
                     "round,success,minutes,train_steps,wilson_high,wilson_low,verdict\n"
                     "1,0.1,2.5,1500,0.17,0.05,first\n"
                     "\n"
                     "2,0.4,5.0,3000,0.5,0.31,better\n");
  const std::vector<CurvePoint> curve = ReadCurveCsv(dir / "curve.csv");
  REQUIRE(curve.size() == 2);
  CHECK(curve[1].minutes == 5.0);
  CHECK(curve[1].train_steps == 3000);
  CHECK(curve[1].success == 0.4);
  CHECK(curve[1].low == 0.31);
  CHECK(curve[1].high == 0.5);

  const auto refused = [&](const std::string& text, const std::string& message) {
    testing::WriteFile(dir / "bad.csv", text);
    testing::ExpectError([&] { ReadCurveCsv(dir / "bad.csv"); }, ExitCode::kBadData, dir / ("bad.csv: " + message));
  };
  refused("", "empty curve file (no header row)");
  refused("minutes,train_steps,success,wilson_low\n", "the curve has no column 'wilson_high'");
  refused("minutes,train_steps,success,wilson_low,wilson_high\n1,2,0.5,0.4\n", "row 2 has no 'wilson_high'");
  refused("minutes,train_steps,success,wilson_low,wilson_high\n1,2,abc,0.4,0.6\n",
          "row 2: 'success' is not a number: 'abc'");
  refused("minutes,train_steps,success,wilson_low,wilson_high\nnan,2,0.5,0.4,0.6\n",
          "row 2: 'minutes' is not a number: 'nan'");
  refused("minutes,train_steps,success,wilson_low,wilson_high\n1,2,1.5,0.4,0.6\n", "row 2: a rate outside [0, 1]");
  testing::ExpectError([&] { ReadCurveCsv(dir / "missing.csv"); }, ExitCode::kBadData,
                       dir / "missing.csv: cannot read the curve");
}

nlohmann::json Summary(int episodes, int successes, double low, double high) {
  return {{"episodes", episodes}, {"successes", successes}, {"success_rate", double(successes) / episodes},
          {"wilson95", {low, high}}};
}

TEST_CASE("the page shows the curve, the table per family, the comparison, videos, config and provenance") {
  ReportPageInput input;
  input.title = "grasp <loop> & co";
  nlohmann::json a = Summary(200, 114, 0.5, 0.636);
  a["policy"] = "runs/a.ckpt";
  a["per_family"] = {Summary(80, 60, 0.64, 0.83), Summary(120, 54, 0.36, 0.54)};
  a["per_family"][0]["family"] = "box";
  a["per_family"][1]["family"] = "tee";
  a["mean_length"] = 7.5;
  a["mean_return"] = 0.42;
  a["failures"] = {{"closed-beside", 70}, {"time-limit", 16}};
  nlohmann::json b = Summary(200, 180, 0.85, 0.93);
  b["policy"] = "scripted";
  b["failures"] = {{"slipped", 20}};
  input.report = {{"env", "grasp"}, {"objects", "heldout"}, {"a", a}, {"b", b},
                  {"comparison", {{"difference", -0.33}, {"difference_bootstrap95", {-0.41, -0.25}},
                                  {"mcnemar_p_mid", 1e-9}, {"verdict", "worse"}}},
                  {"config", "policy: runs/a.ckpt\nnote: <script>alert(1)</script>\n"}};
  input.curve = {{2.0, 1500, 0.1, 0.05, 0.17}, {4.0, 3000, 0.3, 0.22, 0.4}, {6.0, 4500, 0.57, 0.5, 0.636}};
  input.videos = {"videos/a-episode-00000-success.mp4", "videos/a-episode-00004-failure.mp4"};
  input.provenance = {{"tool", "rl-eval 0.1.0"}, {"policy A", {{"id", "abc"}, {"step", 4500}}}};
  const std::string html = RenderReportPage(input);

  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(html.find("<h1>grasp &lt;loop&gt; &amp; co</h1>") != std::string::npos);
  // Nothing from the inputs becomes markup, and nothing is fetched from elsewhere.
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
  CHECK(html.find("http") == std::string::npos);
  // The curve: a band, a line through every point, a dot per round with its figures.
  CHECK(Count(html, "<circle") == 3);
  CHECK(html.find("<polygon class=\"band\"") != std::string::npos);
  CHECK(html.find("4.00 min, step 3000: 30.0% [22.0, 40.0]") != std::string::npos);
  // The table: A overall and per family, B overall, each with its interval.
  CHECK(html.find("<td>A: runs/a.ckpt</td><td>all</td><td>200</td><td>114</td><td>57.0% [50.0, 63.6]</td>") !=
        std::string::npos);
  CHECK(html.find("<td>box</td><td>80</td><td>60</td><td>75.0% [64.0, 83.0]</td>") != std::string::npos);
  CHECK(html.find("<td>tee</td><td>120</td><td>54</td><td>45.0% [36.0, 54.0]</td>") != std::string::npos);
  CHECK(html.find("<td>B: scripted</td><td>all</td><td>200</td><td>180</td><td>90.0% [85.0, 93.0]</td>") !=
        std::string::npos);
  CHECK(html.find("A &minus; B = -33.0 points [-41.0, -25.0], McNemar mid-p 1e-09: <b>worse</b>") !=
        std::string::npos);
  // How the failures failed, A's and B's side by side (0 where a side has none of a reason).
  CHECK(html.find("<tr><th>reason</th><th>A</th><th>B</th></tr>") != std::string::npos);
  CHECK(html.find("<tr><td>closed-beside</td><td>70</td><td>0</td></tr>") != std::string::npos);
  CHECK(html.find("<tr><td>slipped</td><td>0</td><td>20</td></tr>") != std::string::npos);
  CHECK(html.find("<tr><td>time-limit</td><td>16</td><td>0</td></tr>") != std::string::npos);
  // Videos, captioned with their episode and outcome.
  CHECK(Count(html, "<video ") == 2);
  CHECK(html.find("src=\"videos/a-episode-00004-failure.mp4\"") != std::string::npos);
  CHECK(html.find("<figcaption class=\"failure\">A, episode 4: failure</figcaption>") != std::string::npos);
  CHECK(html.find("<figcaption class=\"success\">A, episode 0: success</figcaption>") != std::string::npos);
  // Provenance: plain values and nested ones.
  CHECK(html.find("<tr><th>tool</th><td>rl-eval 0.1.0</td></tr>") != std::string::npos);
  CHECK(html.find("<tr><th>policy A</th><td>{&quot;id&quot;:&quot;abc&quot;,&quot;step&quot;:4500}</td></tr>") !=
        std::string::npos);

  // Without a curve or videos the page says so.
  input.curve.clear();
  input.videos.clear();
  const std::string bare = RenderReportPage(input);
  CHECK(bare.find("<svg") == std::string::npos);
  CHECK(bare.find("No learning curve") != std::string::npos);
  CHECK(bare.find("No videos.") != std::string::npos);
  // Without any failure reasons, no failure table.
  input.report["a"].erase("failures");
  input.report["b"].erase("failures");
  CHECK(RenderReportPage(input).find("How episodes failed") == std::string::npos);
  input.report["a"]["failures"] = {{"closed-beside", 70}, {"time-limit", 16}};
  input.report["b"]["failures"] = {{"slipped", 20}};

  // Written atomically as DIR/index.html.
  TempDir dir;
  CHECK(WriteReportPage(dir.path(), input) == dir / "index.html");
  CHECK(testing::ReadFile(dir / "index.html") == bare);
  testing::ExpectError([&] { WriteReportPage(dir / "missing/deeper", input); }, ExitCode::kIoError, "");
}

}  // namespace
}  // namespace perpetua
