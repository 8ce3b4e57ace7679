// The question page of rl-label serve in a real browser: Debian's headless
// Chromium answers a question (tests/vice/check_label_page.py), the answer
// lands in the run's answers file, a wrong token is refused; and the ways
// the server can be started wrong.
#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "data/dataset_reader.h"
#include "vice/example_images.h"
#include "vice/push_data.h"
#include "vice/query_queue.h"

namespace perpetua {
namespace {

using testing::RunProcess;
using testing::ToolPath;

// The URL rl-label serve prints first on stdout (waits up to 30 s).
std::string UrlOf(testing::ChildProcess& server) {
  for (int i = 0; i < 300; ++i) {
    const std::vector<std::string> lines = testing::Lines(server.OutSoFar());
    if (!lines.empty()) return lines.front();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return "";
}

TEST_CASE("rl-label serve: Chromium answers a question on the page - the answer lands in the run's file") {
  testing::TempDir tmp;
  testing::MakeExamples(tmp / "scripted", tmp / "examples", 8);
  // Two questions about real push states (the last frames of two episodes).
  QueryQueue queue(tmp / "queries", /*create=*/true);
  const ExampleImages frames = SuccessFrames({tmp / "scripted"}, "", 2);
  queue.Ask(ImageRow(frames.images, 0), 0.93, 1200);
  queue.Ask(ImageRow(frames.images, 1), 0.71, 1800);

  testing::ChildProcess server({ToolPath("rl-label"), "serve", "--queue", tmp / "queries", "--examples",
                                tmp / "examples", "--port", "0", "--token", "s3cret/+"});
  const std::string url = UrlOf(server);
  INFO(server.ErrSoFar());
  REQUIRE(url.rfind("http://127.0.0.1:", 0) == 0);
  CHECK(url.find("/?token=s3cret%2F%2B") != std::string::npos);
  const auto browser = RunProcess({"/usr/bin/python3", testing::SourcePath("tests/vice/check_label_page.py"), url,
                                   tmp / "page.png"});
  INFO(browser.out << browser.err);
  CHECK(browser.exit_code == 0);
  const nlohmann::json result = nlohmann::json::parse(browser.out);
  CHECK(result["images"] == 9);  // the question and 8 examples
  CHECK(result["first"].get<std::string>().find("Question 1") != std::string::npos);
  CHECK(result["first"].get<std::string>().find("2 pending") != std::string::npos);
  CHECK(result["first"].get<std::string>().find("the classifier says 0.93") != std::string::npos);
  CHECK(result["after"].get<std::string>().find("Question 2") != std::string::npos);
  CHECK(testing::ReadFile(tmp / "page.png").size() > 1000);

  const QueryQueue::Answers answers = queue.ReadAnswers();
  REQUIRE(answers.answers.size() == 1);
  CHECK(answers.answers[0].id == 1);
  CHECK(answers.answers[0].label == "success");
  CHECK(answers.answers[0].by == "web");
  CHECK(answers.problems.empty());
  server.Signal(SIGTERM);
  const testing::ProcessResult done = server.Wait();
  CHECK(done.exit_code == 130);
  CHECK(done.err.find("question 1 answered success (web)") != std::string::npos);
}

TEST_CASE("rl-label serve refuses to start exposed without a token, or without its folders") {
  testing::TempDir tmp;
  QueryQueue queue(tmp / "queries", true);
  const auto exposed = RunProcess({ToolPath("rl-label"), "serve", "--queue", tmp / "queries", "--host", "0.0.0.0"});
  CHECK(exposed.exit_code == 2);
  CHECK(exposed.err.find("--host 0.0.0.0 is not a loopback address: give --token") != std::string::npos);
  const auto missing = RunProcess({ToolPath("rl-label"), "serve", "--queue", tmp / "nowhere"});
  CHECK(missing.exit_code == 3);
  CHECK(missing.err.find(tmp / "nowhere: not a question folder") != std::string::npos);
  const auto no_examples = RunProcess({ToolPath("rl-label"), "serve", "--queue", tmp / "queries", "--examples",
                                       tmp / "nowhere"});
  CHECK(no_examples.exit_code == 3);
  const auto port = RunProcess({ToolPath("rl-label"), "serve", "--queue", tmp / "queries", "--port", "70000"});
  CHECK(port.exit_code == 2);
  // The printed config never shows the token.
  const auto printed = RunProcess({ToolPath("rl-label"), "serve", "--queue", tmp / "queries", "--token", "hidden1",
                                   "--print-config"});
  CHECK(printed.exit_code == 0);
  CHECK(printed.out.find("hidden1") == std::string::npos);
}

}  // namespace
}  // namespace perpetua
