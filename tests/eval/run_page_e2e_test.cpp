// `rl-eval --report DIR` end to end: the real binary writes the run page, and
// Debian's headless Chromium opens it as a person would (tests/eval/check_page.py):
// every resource loads, every video plays, and a screenshot is kept.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "eval/eval_command.h"
#include "support/test_support.h"

namespace perpetua {
namespace {
using testing::ProcessResult;
using testing::RunProcess;
using testing::TempDir;

const auto Eval = testing::EvalCommand;

TEST_CASE("rl-eval --report writes a run page that Chromium loads with every video playing") {
  TempDir dir;
  testing::WriteFile(dir / "curve.csv",
                     "round,minutes,episodes,train_steps,success,wilson_low,wilson_high,promoted,verdict\n"
                     "1,1.5,900,1500,0.05,0.02,0.11,1,first\n"
                     "2,3.0,1400,3000,0.25,0.17,0.34,1,better\n");
  const ProcessResult r =
      RunProcess(Eval({"--policy", "scripted", "--compare", "random", "--episodes", "6", "--report", dir / "page",
                       "--report-curve", dir / "curve.csv", "--report-title", "a <test> page", "--video-first",
                       "2", "--video-failures", "2", "--video-size", "128"}));
  CAPTURE(r.err);
  REQUIRE(r.exit_code == 0);
  const std::string html = testing::ReadFile(dir / "page/index.html");
  REQUIRE(!html.empty());
  CHECK(nlohmann::json::parse(testing::ReadFile(dir / "page/report.json"))["a"]["episodes"] == 6);
  CHECK(nlohmann::json::parse(r.out)["a"]["episodes"] == 6);  // stdout keeps the report too
  const std::vector<std::string> videos = testing::ListFiles(dir / "page/videos", ".mp4");
  REQUIRE(videos.size() >= 4);  // A's and B's first two, and failures
  for (const std::string& video : videos) CHECK(html.find("src=\"videos/" + video + "\"") != std::string::npos);
  CHECK(html.find("<h1>a &lt;test&gt; page</h1>") != std::string::npos);
  CHECK(html.find("<td>B: random</td>") != std::string::npos);
  CHECK(html.find("<tr><th>curve</th><td>" + dir / "curve.csv" + "</td></tr>") != std::string::npos);

  const ProcessResult browser = RunProcess(
      {"/usr/bin/python3", testing::SourcePath("tests/eval/check_page.py"), dir / "page/index.html",
       dir / "screenshot.png"});
  INFO(browser.out, browser.err);
  REQUIRE(browser.exit_code == 0);
  const nlohmann::json seen = nlohmann::json::parse(browser.out);
  CHECK(seen["failures"].empty());
  CHECK(seen["videos"] == videos.size());
  for (const auto& duration : seen["durations"]) CHECK(duration.get<double>() > 0.0);
  CHECK(seen["curve_points"] == 2);
  CHECK(seen["title"] == "a <test> page");
  // The failure table, as a person sees it: a header, then a row per reason
  // with A's and B's counts, which add up to the report's failed episodes.
  const nlohmann::json report = nlohmann::json::parse(testing::ReadFile(dir / "page/report.json"));
  const nlohmann::json& rows = seen["failure_rows"];
  REQUIRE(rows.size() >= 2);
  CHECK(rows[0] == nlohmann::json({"reason", "A", "B"}));
  int64_t failed_a = 0, failed_b = 0;
  for (size_t i = 1; i < rows.size(); ++i) {
    REQUIRE(rows[i].size() == 3);
    failed_a += std::stoll(rows[i][1].get<std::string>());
    failed_b += std::stoll(rows[i][2].get<std::string>());
  }
  CHECK(failed_a == 6 - report["a"]["successes"].get<int64_t>());
  CHECK(failed_b == 6 - report["b"]["successes"].get<int64_t>());
  CHECK(failed_b > 0);  // random fails
  MESSAGE("page " << seen["page_bytes"] << " bytes, loaded in " << seen["load_ms"] << " ms");
  // The screenshot is a real picture of the page (PNG signature, not blank-small).
  const std::string png = testing::ReadFile(dir / "screenshot.png");
  CHECK(png.rfind("\x89PNG", 0) == 0);
  CHECK(png.size() > 20000);
}

TEST_CASE("--video-successes adds videos of successful episodes after the first ones") {
  TempDir dir;
  const ProcessResult r = RunProcess(Eval({"--policy", "scripted", "--episodes", "5", "--video", dir / "v",
                                           "--video-first", "1", "--video-failures", "0", "--video-successes",
                                           "2", "--video-size", "64"}));
  CAPTURE(r.err);
  REQUIRE(r.exit_code == 0);
  std::vector<std::string> expected;
  int successes = 0;
  const nlohmann::json report = nlohmann::json::parse(r.out);
  for (const auto& o : report["outcomes"]["a"]) {
    const int64_t index = o["index"];
    const bool success = o["success"];
    const bool wanted = index < 1 || (success && successes < 2);
    if (index >= 1 && success) ++successes;
    if (!wanted) continue;
    char name[64];
    std::snprintf(name, sizeof name, "episode-%05lld-%s.mp4", static_cast<long long>(index),
                  success ? "success" : "failure");
    expected.push_back(name);
  }
  CHECK(expected.size() == 3);  // the scripted policy succeeds on most episodes
  CHECK(testing::ListFiles(dir / "v") == expected);
  CHECK(RunProcess(Eval({"--policy", "scripted", "--episodes", "1", "--video-successes", "-1"})).exit_code == 2);
}

TEST_CASE("bad report flags and curves are refused before any episode runs") {
  TempDir dir;
  ProcessResult r = RunProcess(Eval({"--policy", "scripted", "--episodes", "2", "--report-curve", dir / "c.csv"}));
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--report-curve and --report-title need --report DIR") != std::string::npos);
  testing::WriteFile(dir / "c.csv", "minutes,success\n1,0.5\n");
  r = RunProcess(Eval({"--policy", "scripted", "--episodes", "2", "--report", dir / "page", "--report-curve",
                       dir / "c.csv"}));
  CHECK(r.exit_code == 3);
  CHECK(r.err.find(dir / "c.csv: the curve has no column 'train_steps'") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir / "page/index.html"));
  CHECK(testing::ListFiles(dir / "page/videos").empty());
  testing::WriteFile(dir / "a-file", "");
  r = RunProcess(Eval({"--policy", "scripted", "--episodes", "2", "--report", dir / "a-file/page"}));
  CHECK(r.exit_code == 6);
}

}  // namespace
}  // namespace perpetua
