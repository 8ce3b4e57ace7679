// The training run's TensorBoard event files (train/run_tensorboard.h): the
// image tap in memory, then the real rl-train binary (q on image shards, sac
// on pendulum episodes) with its files read back by the independent Python
// reader: every metrics column as a scalar at its step, observation images,
// the config text, a resumed run after a SIGKILL without a repeated step,
// training numbers unchanged by logging, and the flags' errors.
#include <signal.h>

#include <chrono>
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/fs.h"
#include "data/dataset_writer.h"
#include "qtopt/memory_replay.h"
#include "support/tensorboard_events.h"
#include "support/test_support.h"
#include "train/run_tensorboard.h"

namespace perpetua {
namespace {
using testing::RunProcess;
using testing::ToolPath;

// `episodes` toy episodes (16x16 images, qtopt/memory_replay.h) as shards in `dir`.
void WriteToyShards(const std::string& dir, int episodes) {
  WriterOptions options;
  options.config.sync = "none";
  DatasetWriter writer(dir, options);
  for (int i = 0; i < episodes; ++i) writer.Add(testing::ToyEpisode(static_cast<uint64_t>(i)));
  writer.Close();
}

// Small, fast rl-train q flags.
std::vector<std::string> TrainQ(const std::string& data, const std::string& out,
                                const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {ToolPath("rl-train"), "q", "--data", data, "--out", out, "--batch-size", "8",
                                   "--threads", "1", "--network.encoder-channels", "8,8", "--network.hidden", "16",
                                   "--cem.samples", "16", "--cem.elites", "4", "--target-workers.count", "0",
                                   "--dataset.memory-budget-mb", "64"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

std::vector<nlohmann::json> MetricsRows(const std::string& out) {
  std::vector<nlohmann::json> rows;
  for (const std::string& line : testing::Lines(testing::ReadFile(out + "/metrics.jsonl"))) {
    rows.push_back(nlohmann::json::parse(line));
  }
  return rows;
}

// The step -> value of one scalar tag.
std::map<int64_t, double> Scalars(const std::vector<testing::EventValue>& values) {
  std::map<int64_t, double> by_step;
  for (const auto& v : values) {
    REQUIRE(v.value.contains("scalar"));
    by_step[v.step] = v.value["scalar"].get<double>();
  }
  return by_step;
}

// Every column of every metrics row is a scalar at the row's step with the
// row's value (float32): the learner's as "learner/<name>", the run's as "run/<name>".
void CheckRowsAreScalars(const std::vector<nlohmann::json>& rows,
                         const std::map<std::string, std::vector<testing::EventValue>>& tags,
                         const std::set<std::string>& run_columns) {
  for (const nlohmann::json& row : rows) {
    const int64_t step = row["step"].get<int64_t>();
    for (const auto& [column, value] : row.items()) {
      if (column == "step") continue;
      const std::string tag = (run_columns.count(column) ? "run/" : "learner/") + column;
      INFO(tag << " at step " << step);
      REQUIRE(tags.count(tag));
      const std::map<int64_t, double> scalars = Scalars(tags.at(tag));
      REQUIRE(scalars.count(step));
      CHECK(scalars.at(step) == doctest::Approx(value.get<double>()).epsilon(1e-6));
    }
  }
}

const std::set<std::string> kRunColumns = {"steps_per_s",         "update_fraction",        "wait_fraction",
                                           "offline_transitions", "online_transitions",     "online_share",
                                           "online_shards",       "online_shards_rejected", "elapsed_s"};

TEST_CASE("ImageTap passes batches through and keeps the first images of the armed batch") {
  const auto data = testing::ToyFactory(4, 8)({}, {});
  ReplayMix mix(data.get(), 0.5);
  ImageTap tap(&mix, 2);
  Rng direct(7), tapped(7);
  for (int round = 0; round < 3; ++round) {
    if (round == 1) tap.Arm();
    const TransitionBatch expected = mix.Sample(5, direct, nullptr);
    const TransitionBatch batch = tap.Sample(5, tapped, nullptr);
    CHECK(batch.observations.at("image").u8 == expected.observations.at("image").u8);
    CHECK(batch.actions.f32 == expected.actions.f32);
    CHECK(batch.rewards == expected.rewards);
    const auto images = tap.Take();
    if (round != 1) {
      CHECK(images.empty());
      continue;
    }
    // The armed batch: its first two images, byte for byte ("proprio" is no image).
    REQUIRE(images.size() == 2);
    const std::vector<uint8_t>& all = batch.observations.at("image").u8;
    for (size_t i = 0; i < 2; ++i) {
      CHECK(images[i].first == "image/" + std::to_string(i));
      CHECK(images[i].second.shape == std::vector<int64_t>{8, 8, 3});
      CHECK(images[i].second.u8 == std::vector<uint8_t>(all.begin() + i * 192, all.begin() + (i + 1) * 192));
    }
    CHECK(tap.Take().empty());
  }
  // More images asked for than the batch holds: the whole batch.
  ImageTap greedy(&mix, 10);
  greedy.Arm();
  greedy.Sample(3, tapped, nullptr);
  CHECK(greedy.Take().size() == 3);
}

TEST_CASE("rl-train q writes every metrics column images and the config to OUT/tensorboard") {
  testing::TempDir tmp;
  WriteToyShards(tmp / "data", 4);
  const auto r = RunProcess(TrainQ(tmp / "data", tmp / "run",
                                   {"--steps", "6", "--log-every", "2", "--tensorboard.image-every", "3",
                                    "--tensorboard.images", "2"}));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const std::vector<std::string> files = testing::EventFiles(tmp / "run/tensorboard");
  REQUIRE(files.size() == 1);
  CHECK(std::regex_match(files[0].substr(files[0].rfind('/') + 1),
                         std::regex(R"(events\.out\.tfevents\.\d{10}\.[^.]+.*\.\d+)")));
  const auto tags = testing::ValuesByTag(files);

  const std::vector<nlohmann::json> rows = MetricsRows(tmp / "run");
  REQUIRE(rows.size() == 3);
  CheckRowsAreScalars(rows, tags, kRunColumns);
  for (const char* learner : {"learner/loss", "learner/q_mean"}) {
    CHECK(Scalars(tags.at(learner)).size() == 3);
  }
  // Nothing but the row's columns, the images and the config.
  size_t scalar_tags = 0;
  for (const auto& [tag, values] : tags) scalar_tags += values.front().value.contains("scalar") ? 1 : 0;
  CHECK(scalar_tags == rows[0].size() - 1);

  // Observation images at steps 3 and 6: the first two of the batch, 16x16.
  for (const char* tag : {"observation/image/0", "observation/image/1"}) {
    INFO(tag);
    REQUIRE(tags.count(tag));
    REQUIRE(tags.at(tag).size() == 2);
    CHECK(tags.at(tag)[0].step == 3);
    CHECK(tags.at(tag)[1].step == 6);
    CHECK(tags.at(tag)[0].value["image"]["png_size"] == nlohmann::json::array({16, 16}));
  }
  CHECK(!tags.count("observation/image/2"));

  // The effective config, as saved in OUT/config.yaml, at step 0.
  REQUIRE(tags.count("config"));
  REQUIRE(tags.at("config").size() == 1);
  CHECK(tags.at("config")[0].step == 0);
  CHECK(tags.at("config")[0].value["text"]["strings"][0] ==
        "```yaml\n" + testing::ReadFile(tmp / "run/config.yaml") + "\n```");
}

// The step published in OUT/trainer.step (-1 while unknown).
int64_t PublishedStep(const std::string& out) {
  const std::string text = testing::ReadFile(out + "/trainer.step");
  return text.size() == 21 ? std::stoll(text) : -1;
}

TEST_CASE("a run SIGKILLed and resumed writes a second file and no step twice") {
  testing::TempDir tmp;
  WriteToyShards(tmp / "data", 4);
  {
    testing::ChildProcess run(TrainQ(tmp / "data", tmp / "run",
                                     {"--steps", "100000000", "--log-every", "1", "--checkpoint-every", "20",
                                      "--tensorboard.image-every", "2"}));
    // Past the second checkpoint (the first one's records are committed), and
    // between two checkpoints: records after the last one exist, uncommitted.
    const auto between = [&] {
      const int64_t step = PublishedStep(tmp / "run");
      return step >= 43 && step % 20 >= 3 && step % 20 <= 12;
    };
    for (int i = 0; i < 6000 && !between(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    run.Signal(SIGKILL);
    CHECK(run.Wait().signal == SIGKILL);
  }
  const std::vector<std::string> killed = testing::EventFiles(tmp / "run/tensorboard");
  REQUIRE(killed.size() == 1);

  const auto resumed = RunProcess(TrainQ(tmp / "data", tmp / "run",
                                         {"--resume", "--log-every", "1", "--tensorboard.image-every", "2",
                                          "--steps", "0"}));
  // --steps 0 is below the resumed step: the run ends at once, writing its config only.
  INFO(resumed.err);
  REQUIRE(resumed.exit_code == 0);
  std::smatch match;
  const std::string err = resumed.err;
  REQUIRE(std::regex_search(err, match, std::regex(R"(at step (\d+))")));
  const int64_t resumed_step = std::stoll(match[1]);
  CHECK(resumed_step >= 40);
  const auto last = RunProcess(TrainQ(tmp / "data", tmp / "run",
                                      {"--resume", "--log-every", "1", "--tensorboard.image-every", "2", "--steps",
                                       std::to_string(resumed_step + 4)}));
  INFO(last.err);
  REQUIRE(last.exit_code == 0);
  const std::vector<std::string> files = testing::EventFiles(tmp / "run/tensorboard");
  REQUIRE(files.size() == 3);
  CHECK(files[0] == killed[0]);  // name order is start order

  // The killed file holds the steps up to a checkpoint (a torn record at its end at most).
  const auto first = testing::ValuesByTag({files[0]}, /*allow_torn_end=*/true);
  const std::map<int64_t, double> loss = Scalars(first.at("learner/loss"));
  CHECK(loss.begin()->first == 1);
  CHECK(loss.rbegin()->first >= 20);
  CHECK(loss.rbegin()->first <= resumed_step);
  // Every tag's steps increase across the files in name order: none repeats.
  for (const auto& [tag, values] : testing::ValuesByTag(files, /*allow_torn_end=*/true)) {
    if (tag == "config") continue;
    INFO(tag);
    for (size_t i = 1; i < values.size(); ++i) CHECK(values[i].step > values[i - 1].step);
  }
  // The resumed runs: the config at the resumed step, rows right after it.
  for (size_t f = 1; f < 3; ++f) {
    const auto tags = testing::ValuesByTag({files[f]});
    REQUIRE(tags.at("config").size() == 1);
    CHECK(tags.at("config")[0].step == resumed_step);
  }
  const auto after = testing::ValuesByTag({files[2]});
  CHECK(Scalars(after.at("learner/loss")).begin()->first == resumed_step + 1);
  CHECK(Scalars(after.at("learner/loss")).rbegin()->first == resumed_step + 4);
  CHECK(after.at("observation/image/0").front().step % 2 == 0);
}

TEST_CASE("TensorBoard logging changes no training number") {
  testing::TempDir tmp;
  WriteToyShards(tmp / "data", 4);
  const std::vector<std::string> common = {"--steps", "6", "--log-every", "1", "--seed", "3"};
  std::vector<std::string> logged = common, silent = common;
  logged.insert(logged.end(), {"--tensorboard.image-every", "1", "--tensorboard.images", "8"});
  silent.push_back("--no-tensorboard.enabled");
  REQUIRE(RunProcess(TrainQ(tmp / "data", tmp / "logged", logged)).exit_code == 0);
  REQUIRE(RunProcess(TrainQ(tmp / "data", tmp / "silent", silent)).exit_code == 0);
  CHECK(testing::EventFiles(tmp / "logged/tensorboard").size() == 1);
  CHECK(IsRegularFile(tmp / "silent/latest.ckpt"));
  CHECK(!IsDirectory(tmp / "silent/tensorboard"));
  const auto a = MetricsRows(tmp / "logged"), b = MetricsRows(tmp / "silent");
  REQUIRE(a.size() == 6);
  REQUIRE(b.size() == 6);
  for (size_t i = 0; i < a.size(); ++i) {
    for (const auto& [column, value] : a[i].items()) {
      if (kRunColumns.count(column)) continue;  // timings and buffer sizes
      INFO(column << " in row " << i);
      CHECK(value == b[i].at(column));
    }
  }
}

TEST_CASE("rl-train sac writes its learner metrics to OUT/tensorboard") {
  testing::TempDir tmp;
  const auto collect = RunProcess({ToolPath("rl-collect"), "--policy", "random", "--episodes", "2", "--seed", "1",
                                   "--threads", "1", "--out", tmp / "data", "--env", "pendulum",
                                   "--cell.max-episode-steps", "20"});
  INFO(collect.err);
  REQUIRE(collect.exit_code == 0);
  const auto r = RunProcess({ToolPath("rl-train"), "sac", "--data", tmp / "data", "--out", tmp / "run", "--steps",
                             "4", "--batch-size", "16", "--threads", "1", "--sac.network.hidden", "16,16",
                             "--log-every", "2", "--dataset.memory-budget-mb", "64"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto tags = testing::ValuesByTag(testing::EventFiles(tmp / "run/tensorboard"));
  const std::vector<nlohmann::json> rows = MetricsRows(tmp / "run");
  REQUIRE(rows.size() == 2);
  CheckRowsAreScalars(rows, tags, kRunColumns);
  CHECK(tags.count("learner/critic_loss"));
  CHECK(tags.count("learner/alpha"));
  for (const auto& [tag, values] : tags) CHECK(tag.rfind("observation/", 0) != 0);  // no image observation
}

TEST_CASE("rl-train --tensorboard flags are checked") {
  testing::TempDir tmp;
  auto r = RunProcess(TrainQ(tmp.path(), tmp / "o", {"--tensorboard.image-every", "-1"}));
  CHECK(r.exit_code == 2);
  CHECK(r.err == "rl-train: error: --tensorboard.image-every must be >= 0 (0: no images)\n");
  r = RunProcess(TrainQ(tmp.path(), tmp / "o", {"--tensorboard.images", "0"}));
  CHECK(r.exit_code == 2);
  CHECK(r.err == "rl-train: error: --tensorboard.images must be >= 1\n");
}

}  // namespace
}  // namespace perpetua
