// Active queries in a real training run: rl-train sac --reward vice with
// --vice.query-every asks about online states in its question folder, a
// person's answer (rl-label answer) reaches the running trainer without a
// restart, and the cell oracle answers from the data's own success signal.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "data/dataset_reader.h"
#include "nn/checkpoint.h"
#include "vice/push_data.h"
#include "vice/example_images.h"
#include "vice/query_queue.h"

namespace perpetua {
namespace {

using testing::RunProcess;
using testing::ToolPath;

std::vector<std::string> Train(const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {ToolPath("rl-train"), "sac", "--batch-size", "16", "--threads", "1",
                                   "--sac.network.hidden", "16,16", "--sac.network.encoder-channels", "8,8",
                                   "--sac.network.encoder-strides", "2,2", "--log-every", "2", "--reward", "vice",
                                   "--vice.train-every", "2", "--vice.classifier.positives", "8",
                                   "--vice.classifier.negatives", "8", "--vice.classifier.network.hidden", "16"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

// Waits up to `seconds` for `ready`; returns whether it held.
bool WaitFor(const std::function<bool()>& ready, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return ready();
}

// The newest metrics row's `key` (-1 when there is none yet).
double LastMetric(const std::string& out, const std::string& key) {
  const std::vector<std::string> lines = testing::Lines(testing::ReadFile(out + "/metrics.jsonl"));
  if (lines.empty()) return -1;
  const nlohmann::json row = nlohmann::json::parse(lines.back(), nullptr, false);
  return row.is_object() && row.contains(key) ? row[key].get<double>() : -1;
}

TEST_CASE("a running VICE trainer asks about online states and applies a person's answer without a restart") {
  testing::TempDir tmp;
  testing::MakeExamples(tmp / "scripted", tmp / "examples", 8);
  testing::CollectPush(tmp / "offline", "random", 2, 2, {"--env", "push", "--cell.image-size", "32"});
  testing::CollectPush(tmp / "online", "random", 4, 3, {"--env", "push", "--cell.image-size", "32"});
  testing::ChildProcess trainer(Train({"--data", tmp / "offline", "--online", tmp / "online", "--vice.examples",
                                       tmp / "examples", "--vice.query-every", "10", "--out", tmp / "run",
                                       "--steps", "1000000"}));
  const QueryQueue queue(tmp / "run/queries", /*create=*/true);
  REQUIRE_MESSAGE(WaitFor([&] { return !queue.Queries().empty(); }, 120), trainer.ErrSoFar());
  const Query first = queue.Queries().front();
  CHECK(first.id == 1);
  CHECK(first.probability > 0.0);
  CHECK(first.probability < 1.0);
  CHECK(queue.Image(first).shape == std::vector<int64_t>{32, 32, 3});
  REQUIRE(WaitFor([&] { return LastMetric(tmp / "run", "vice_unanswered") >= 1; }, 60));
  CHECK(LastMetric(tmp / "run", "vice_answered_success") == 0);
  // No new shard arrives: one question for the shards that came, however long it trains.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  CHECK(queue.Queries().size() == 1);

  const auto answered = RunProcess({ToolPath("rl-label"), "answer", "--queue", tmp / "run/queries", "--id", "1",
                                    "--label", "success", "--by", "test"});
  INFO(answered.err);
  REQUIRE(answered.exit_code == 0);
  CHECK_MESSAGE(WaitFor([&] { return LastMetric(tmp / "run", "vice_answered_success") == 1; }, 60),
                trainer.ErrSoFar());
  CHECK(LastMetric(tmp / "run", "vice_unanswered") == 0);
  // A garbage line in the answers file is logged once and ignored; training goes on.
  AppendLineDurably(tmp / "run/queries/answers.jsonl", "not json");
  const double step = LastMetric(tmp / "run", "step");
  CHECK(WaitFor([&] { return LastMetric(tmp / "run", "step") > step + 10; }, 60));
  // A new shard brings a new question.
  testing::CollectPush(tmp / "more", "random", 1, 9, {"--env", "push", "--cell.image-size", "32"});
  const std::string shard = testing::ListFiles(tmp / "more", ".h5").at(0);
  REQUIRE(::rename((tmp / "more/" + shard).c_str(), (tmp / "online/" + shard).c_str()) == 0);
  CHECK_MESSAGE(WaitFor([&] { return queue.Queries().size() == 2; }, 60), trainer.ErrSoFar());

  trainer.Signal(SIGTERM);
  const testing::ProcessResult done = trainer.Wait();
  CHECK(done.exit_code == 130);
  CHECK(done.err.find("answers.jsonl line 2: not a JSON answer") != std::string::npos);
  const nlohmann::json meta = ReadCheckpointMetadata(tmp / "run/latest.ckpt");
  CHECK(meta["vice_queries"]["asked"] == 2);
  CHECK(meta["vice_queries"]["answered_success"] == 1);
  CHECK(meta["vice_examples"]["train"] == 9);  // the 8 examples (none held back: 10% of 8 rounds down) + the answer

  // A resumed run picks up the folder: the answer stays applied, the unanswered question stays open,
  // and the online window it re-reads counts as new data (one more question).
  const auto resumed = RunProcess(Train({"--data", tmp / "offline", "--vice.examples", tmp / "examples",
                                         "--vice.query-every", "10", "--out", tmp / "run", "--steps",
                                         std::to_string(meta["step"].get<int64_t>() + 4), "--resume"}));
  INFO(resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK(LastMetric(tmp / "run", "vice_answered_success") == 1);
  CHECK(LastMetric(tmp / "run", "vice_unanswered") == 2);
  CHECK(LastMetric(tmp / "run", "vice_queries") == 3);
  // The person's budget holds over resumes: a folder with 3 questions gets no fourth.
  const int64_t at = ReadCheckpointMetadata(tmp / "run/latest.ckpt")["step"].get<int64_t>();
  const auto budget = RunProcess(Train({"--data", tmp / "offline", "--vice.examples", tmp / "examples",
                                        "--vice.query-every", "10", "--vice.max-queries", "3", "--out", tmp / "run",
                                        "--steps", std::to_string(at + 4), "--resume"}));
  INFO(budget.err);
  REQUIRE(budget.exit_code == 0);
  CHECK(LastMetric(tmp / "run", "vice_queries") == 3);
  CHECK(QueryQueue(tmp / "run/queries", false).Queries().size() == 3);

  // The run's picture: its questions with their answers, the classifier along episodes.
  const auto figure = RunProcess({"/bin/bash", testing::SourcePath("scripts/vice_figure.sh"), "--train", tmp / "run",
                                  "--data", tmp / "online", "--out", tmp / "figure.png"});
  INFO(figure.err);
  CHECK(figure.exit_code == 0);
  CHECK(testing::ReadFile(tmp / "figure.png").rfind("\x89PNG", 0) == 0);
  const auto no_run = RunProcess({"/bin/bash", testing::SourcePath("scripts/vice_figure.sh"), "--train", tmp / "none",
                                  "--data", tmp / "online", "--out", tmp / "f.png"});
  CHECK(no_run.exit_code == 3);
  const auto bad_flag = RunProcess({"/bin/bash", testing::SourcePath("scripts/vice_figure.sh"), "--bogus"});
  CHECK(bad_flag.exit_code == 2);
}

TEST_CASE("the cell oracle answers each question at once from the data's success signal") {
  testing::TempDir tmp;
  testing::MakeExamples(tmp / "scripted", tmp / "examples", 8);
  // Shards arrive one at a time (one question each): scripted episodes (the puck reaches the
  // target) and random ones, so that both answers occur.
  for (int i = 0; i < 8; ++i) {
    testing::CollectPush(tmp / ("shard" + std::to_string(i)), i % 2 == 0 ? "scripted" : "random", 2, 10 + i,
                         {"--env", "push", "--cell.image-size", "32"});
  }
  ::mkdir((tmp / "online").c_str(), 0755);
  testing::ChildProcess trainer(Train({"--online", tmp / "online", "--vice.examples", tmp / "examples",
                                       "--vice.query-every", "1", "--vice.oracle", "cell", "--out", tmp / "run",
                                       "--steps", "1000000"}));
  const QueryQueue watch(tmp / "run/queries", /*create=*/true);
  for (int i = 0; i < 8; ++i) {
    const std::string dir = tmp / ("shard" + std::to_string(i));
    const std::string shard = testing::ListFiles(dir, ".h5").at(0);
    REQUIRE(::rename((dir + "/" + shard).c_str(), (tmp / "online/" + shard).c_str()) == 0);
    CHECK_MESSAGE(WaitFor([&] { return watch.Queries().size() == static_cast<size_t>(i + 1); }, 60),
                  trainer.ErrSoFar());
  }
  REQUIRE(WaitFor([&] { return LastMetric(tmp / "run", "vice_answered_success") +
                                   LastMetric(tmp / "run", "vice_answered_failure") == 8; }, 60));
  CHECK(LastMetric(tmp / "run", "vice_unanswered") == 0);
  trainer.Signal(SIGTERM);
  CHECK(trainer.Wait().exit_code == 130);
  const QueryQueue queue(tmp / "run/queries", false);
  const std::vector<Query> queries = queue.Queries();
  const QueryQueue::Answers answers = queue.ReadAnswers();
  CHECK(queries.size() == 8);
  CHECK(answers.answers.size() == queries.size());
  CHECK(answers.problems.empty());
  // Each answer is what the data says of the state asked about: its reward (push: 1 on the target).
  DatasetReader reader({tmp / "online"});
  std::map<std::vector<uint8_t>, float> reward_of;
  for (size_t i = 0; i < reader.num_episodes(); ++i) {
    const Episode e = reader.ReadEpisode(i);
    const Array& images = e.observations.at("image");
    for (int64_t t = 0; t < e.num_steps(); ++t) reward_of[ImageRow(images, t + 1).u8] = e.rewards[t];
  }
  int successes = 0;
  for (const QueryAnswer& a : answers.answers) {
    CHECK(a.by == "oracle");
    const Array image = queue.Image(queries.at(a.id - 1));
    REQUIRE(reward_of.count(image.u8) == 1);
    CHECK(a.label == (reward_of.at(image.u8) > 0 ? "success" : "failure"));
    successes += a.label == "success";
  }
  MESSAGE(queries.size() << " questions, " << successes << " answered success");
  CHECK(successes >= 1);
  CHECK(LastMetric(tmp / "run", "vice_queries") == 8);
  // --vice.oracle needs questions.
  const auto bad = RunProcess(Train({"--online", "-", "--vice.examples", tmp / "examples", "--vice.oracle", "cell",
                                     "--out", tmp / "bad", "--steps", "2"}));
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("--vice.oracle answers questions: set --vice.query-every too") != std::string::npos);
  const auto unknown = RunProcess(Train({"--online", "-", "--vice.examples", tmp / "examples", "--vice.oracle", "human",
                                         "--vice.query-every", "5", "--out", tmp / "bad", "--steps", "2"}));
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find("--vice.oracle must be cell or empty") != std::string::npos);
  const auto negative = RunProcess(Train({"--online", "-", "--vice.examples", tmp / "examples",
                                          "--vice.max-queries", "-1", "--out", tmp / "bad", "--steps", "2"}));
  CHECK(negative.exit_code == 2);
  CHECK(negative.err.find("--vice.max-queries must be >= 0") != std::string::npos);
}

}  // namespace
}  // namespace perpetua
