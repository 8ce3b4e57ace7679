// The question queue of active queries: questions and answers as files, the
// first answer standing, garbage and torn lines, SIGKILL at any moment, and
// the rl-label verbs that answer (files, terminal).
#include "vice/query_queue.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "common/error.h"
#include "common/rng.h"
#include "support/expect_error.h"
#include "support/test_support.h"
#include "vice/example_images.h"

namespace perpetua {
namespace {

using testing::ExpectError;
using testing::RunProcess;
using testing::ToolPath;

Array Image(uint8_t value) {
  Array image = Array::Zeros(DType::kUint8, {8, 8, 3});
  for (auto& v : image.u8) v = value;
  return image;
}

TEST_CASE("questions and answers: ids, images, the first answer stands, bad answers refused") {
  testing::TempDir tmp;
  QueryQueue queue(tmp / "q", /*create=*/true);
  CHECK(queue.Queries().empty());
  CHECK(queue.Ask(Image(10), 0.9, 100) == 1);
  CHECK(queue.Ask(Image(20), 0.8, 200) == 2);
  CHECK(queue.Ask(Image(30), 0.7, 300) == 3);
  const std::vector<Query> queries = queue.Queries();
  REQUIRE(queries.size() == 3);
  CHECK(queries[1].image == "q-000002.png");
  CHECK(queries[1].probability == 0.8);
  CHECK(queries[1].step == 200);
  CHECK(queue.Image(queries[1]).u8 == Image(20).u8);
  CHECK(queue.Unanswered().size() == 3);

  queue.Answer(2, "success", "web");
  queue.Answer(1, "skip", "file");
  const std::vector<Query> left = queue.Unanswered();
  REQUIRE(left.size() == 1);
  CHECK(left[0].id == 3);
  ExpectError([&] { queue.Answer(2, "failure", "terminal"); }, ExitCode::kBadData,
              "question 2 is already answered (success, by web)");
  ExpectError([&] { queue.Answer(9, "success", "web"); }, ExitCode::kUsage, "no question 9 in " + tmp / "q");
  ExpectError([&] { queue.Answer(3, "yes", "web"); }, ExitCode::kUsage, "answer 'yes': say success, failure or skip");
  const QueryQueue::Answers answers = queue.ReadAnswers();
  REQUIRE(answers.answers.size() == 2);
  CHECK(answers.answers[0].id == 2);
  CHECK(answers.answers[0].label == "success");
  CHECK(answers.answers[0].by == "web");
  CHECK(answers.problems.empty());
  ExpectError([&] { QueryQueue(tmp / "missing", false); }, ExitCode::kBadData, tmp / "missing: not a question folder");
  // Another process opening the same folder continues the ids.
  CHECK(QueryQueue(tmp / "q", false).Ask(Image(40), 0.5, 400) == 4);
}

TEST_CASE("an answers file with garbage, repeated, unknown and torn lines: each reported, the rest read") {
  testing::TempDir tmp;
  QueryQueue queue(tmp / "q", true);
  queue.Ask(Image(1), 0.9, 1);
  queue.Ask(Image(2), 0.9, 2);
  queue.Ask(Image(3), 0.9, 3);
  testing::WriteFile(queue.answers_path(),
                     "{\"id\": 1, \"label\": \"success\"}\n"
                     "hello\n"
                     "{\"id\": 1, \"label\": \"failure\", \"by\": \"web\"}\n"
                     "{\"id\": 7, \"label\": \"failure\"}\n"
                     "{\"id\": 2, \"label\": \"maybe\"}\n"
                     "[1, 2]\n"
                     "{\"id\": 2, \"lab");  // torn by a kill: no newline
  QueryQueue::Answers read = queue.ReadAnswers();
  REQUIRE(read.answers.size() == 1);
  CHECK(read.answers[0].label == "success");
  CHECK(read.answers[0].by == "unknown");
  REQUIRE(read.problems.size() == 5);
  CHECK(read.problems[0] == "answers.jsonl line 2: not a JSON answer {\"id\": N, \"label\": \"success|failure|skip\"}");
  CHECK(read.problems[1] == "answers.jsonl line 3: answers question 1 again; the first answer stands");
  CHECK(read.problems[2] == "answers.jsonl line 4: answers question 7, never asked");
  CHECK(read.problems[3] == "answers.jsonl line 5: label 'maybe' is not success, failure or skip");
  CHECK(read.problems[4].rfind("answers.jsonl line 6: not a JSON answer", 0) == 0);  // JSON, not an answer
  // The next answer terminates the torn line first: it becomes a garbage line, the answer stays whole.
  queue.Answer(2, "failure", "file");
  read = queue.ReadAnswers();
  REQUIRE(read.answers.size() == 2);
  CHECK(read.answers[1].id == 2);
  CHECK(read.answers[1].label == "failure");
  REQUIRE(read.problems.size() == 6);  // + the torn line, now terminated (line 7)
  CHECK(read.problems[5].rfind("answers.jsonl line 7: not a JSON answer", 0) == 0);
  // A torn question line is not a question.
  const std::string before = testing::ReadFile(queue.queries_path());
  testing::WriteFile(queue.queries_path(), before + "{\"id\": 4, \"ima");
  CHECK(queue.Queries().size() == 3);
  CHECK(queue.Ask(Image(4), 0.5, 4) == 4);
  CHECK(queue.Queries().size() == 4);
}

TEST_CASE("the question folder survives SIGKILL at any moment: each line whole or ignored, images before lines") {
  testing::TempDir tmp;
  const std::string dir = tmp / "q";
  QueryQueue(dir, true);
  Rng rng(5);
  int kills = 0;
  for (int trial = 0; trial < 12; ++trial) {
    // The child says when its first question is written, so the kill lands among writes even on a loaded
    // machine where a fresh process may not run at all for the first milliseconds.
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      ::close(ready[0]);
      try {
        QueryQueue queue(dir, false);
        for (int i = 0;; ++i) {
          const int64_t id = queue.Ask(Image(static_cast<uint8_t>(i)), 0.5, i);
          if (i == 0 && ::write(ready[1], "x", 1) != 1) ::_exit(1);
          queue.Answer(id, i % 3 == 0 ? "success" : i % 3 == 1 ? "failure" : "skip", "child");
        }
      } catch (...) {
      }
      ::_exit(1);
    }
    ::close(ready[1]);
    char byte = 0;
    REQUIRE(::read(ready[0], &byte, 1) == 1);
    ::close(ready[0]);
    std::this_thread::sleep_for(std::chrono::microseconds(rng.UniformInt(30000)));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    kills += WIFSIGNALED(status) ? 1 : 0;
    const QueryQueue queue(dir, false);
    const std::vector<Query> queries = queue.Queries();
    CHECK(!queries.empty());
    for (size_t i = 0; i < queries.size(); ++i) {
      CHECK(queries[i].id == static_cast<int64_t>(i) + 1);  // no id lost or repeated
      CHECK(queue.Image(queries[i]).shape == std::vector<int64_t>{8, 8, 3});
    }
    const QueryQueue::Answers answers = queue.ReadAnswers();
    // At most the question in flight at each kill is unanswered; at most one torn line per kill.
    CHECK(answers.answers.size() + kills >= queries.size());
    CHECK(answers.problems.size() <= static_cast<size_t>(kills));
    for (const auto& p : answers.problems) CHECK(p.find("not a JSON answer") != std::string::npos);
  }
  CHECK(kills == 12);
}

TEST_CASE("rl-label pending, answer and ask: files and a terminal answer the same queue") {
  testing::TempDir tmp;
  QueryQueue queue(tmp / "q", true);
  queue.Ask(Image(50), 0.91, 10);
  queue.Ask(Image(60), 0.42, 20);
  queue.Ask(Image(70), 0.33, 30);
  const auto pending = RunProcess({ToolPath("rl-label"), "pending", "--queue", tmp / "q"});
  REQUIRE(pending.exit_code == 0);
  const std::vector<std::string> lines = testing::Lines(pending.out);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].rfind("1\t" + tmp / "q/q-000001.png\t0.9100\t", 0) == 0);

  const auto answered = RunProcess({ToolPath("rl-label"), "answer", "--queue", tmp / "q", "--id", "2", "--label",
                                    "failure"});
  INFO(answered.err);
  CHECK(answered.exit_code == 0);
  const auto twice = RunProcess({ToolPath("rl-label"), "answer", "--queue", tmp / "q", "--id", "2", "--label",
                                 "success"});
  CHECK(twice.exit_code == 3);
  CHECK(twice.err == "rl-label: error: question 2 is already answered (failure, by file)\n");
  const auto unknown = RunProcess({ToolPath("rl-label"), "answer", "--queue", tmp / "q", "--id", "9", "--label",
                                   "success"});
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find("no question 9 in") != std::string::npos);
  const auto bad_label = RunProcess({ToolPath("rl-label"), "answer", "--queue", tmp / "q", "--id", "1", "--label",
                                     "yes"});
  CHECK(bad_label.exit_code == 2);
  CHECK(bad_label.err.find("--label must be success, failure or skip") != std::string::npos);
  const auto no_folder = RunProcess({ToolPath("rl-label"), "pending", "--queue", tmp / "none"});
  CHECK(no_folder.exit_code == 3);

  // Not a terminal: ask refuses and points at the other ways.
  const auto piped = RunProcess({ToolPath("rl-label"), "ask", "--queue", tmp / "q"}, "y\n");
  CHECK(piped.exit_code == 2);
  CHECK(piped.err.find("standard input is not a terminal: answer with rl-label answer") != std::string::npos);
  // At a terminal (script(1) gives it one): the image is drawn, "x" asks again, y answers 1, q quits.
  const std::string command = ToolPath("rl-label") + " ask --queue " + tmp / "q";
  const auto asked = RunProcess({"script", "-qec", command, "/dev/null"}, "x\ny\nq\n");
  INFO(asked.out << asked.err);
  CHECK(asked.exit_code == 0);
  CHECK(asked.out.find("question 1: " + tmp / "q/q-000001.png (the classifier says 0.9100)") != std::string::npos);
  CHECK(asked.out.find("\x1b[38;2;50;50;50m\x1b[48;2;50;50;50m") != std::string::npos);  // the image, in colour
  CHECK(asked.out.find("y, n, s or q:") != std::string::npos);
  CHECK(asked.out.find("1 answered") != std::string::npos);
  const QueryQueue::Answers answers = queue.ReadAnswers();
  REQUIRE(answers.answers.size() == 2);
  CHECK(answers.answers[1].id == 1);
  CHECK(answers.answers[1].label == "success");
  CHECK(answers.answers[1].by == "terminal");
  CHECK(queue.Unanswered().size() == 1);
}

}  // namespace
}  // namespace perpetua
