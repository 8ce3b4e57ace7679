// DatasetWriter and DatasetReader in process: round trips, provenance,
// validation of episodes on Add, shards and recovery of staged episodes.
#include "data/dataset_writer.h"

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <functional>

#include "common/fs.h"
#include "data/dataset_reader.h"
#include "data/dataset_recovery.h"
#include "data/episode_factory.h"
#include "support/test_support.h"

namespace perpetua {
namespace {

using testing::EpisodeShape;
using testing::MakeEpisode;
using testing::TempDir;

void CheckSameEpisode(const Episode& got, const Episode& want) {
  REQUIRE(got.num_steps() == want.num_steps());
  CHECK(got.rewards == want.rewards);
  CHECK(got.terminated == want.terminated);
  CHECK(got.truncated == want.truncated);
  CHECK(got.actions.shape == want.actions.shape);
  CHECK(got.actions.f32 == want.actions.f32);
  REQUIRE(got.observations.size() == want.observations.size());
  for (const auto& [key, array] : want.observations) {
    CAPTURE(key);
    const Array& g = got.observations.at(key);
    CHECK(g.dtype == array.dtype);
    CHECK(g.shape == array.shape);
    CHECK(g.u8 == array.u8);
    CHECK(g.f32 == array.f32);
  }
  const EpisodeMetadata& a = got.metadata;
  const EpisodeMetadata& b = want.metadata;
  CHECK(a.success == b.success);
  CHECK(a.seed == b.seed);
  CHECK(a.object_ids == b.object_ids);
  CHECK(a.policy_id == b.policy_id);
  CHECK(a.start_time_unix == b.start_time_unix);
  CHECK(a.end_time_unix == b.end_time_unix);
  CHECK(a.interrupted == b.interrupted);
  CHECK(a.extra_json == b.extra_json);
}

std::string ErrorOf(const std::function<void()>& fn, ExitCode* code = nullptr) {
  try {
    fn();
  } catch (const Error& e) {
    if (code) *code = e.code();
    return e.what();
  }
  return "";
}

TEST_CASE("round trip of images and vectors with provenance and config") {
  TempDir dir;
  WriterOptions options;
  options.config.episodes_per_shard = 3;
  options.env_args = {{"env_name", "grasp"}, {"type", 5}, {"env_kwargs", {{"objects", 3}}}};
  options.env_spec = {{"observations", "image"}};
  options.tool_config_yaml = "episodes: 7\nseed: 11\n";
  options.tool_name = "rl-collect";
  std::vector<std::string> shards;
  std::vector<Episode> written;
  {
    DatasetWriter writer(dir.path(), options);
    for (uint64_t seed = 1; seed <= 7; ++seed) {
      EpisodeShape shape;
      shape.steps = static_cast<int64_t>(seed);  // lengths differ between episodes
      written.push_back(MakeEpisode(seed, shape));
      const std::string shard = writer.Add(written.back());
      CHECK(shard.empty() == (seed % 3 != 0));
      if (!shard.empty()) shards.push_back(shard);
    }
    CHECK(writer.episodes_staged() == 1);
    const auto last = writer.Close();
    REQUIRE(last.size() == 1);
    shards.push_back(last[0]);
    CHECK(writer.Close().empty());
  }
  CHECK(ListShards(dir.path()) == shards);
  CHECK_FALSE(IsDirectory(dir / (std::string(".staging/") + "x")));
  DatasetReader reader({dir.path()});
  REQUIRE(reader.num_episodes() == 7);
  CHECK(reader.num_transitions() == 1 + 2 + 3 + 4 + 5 + 6 + 7);
  for (size_t i = 0; i < 7; ++i) {
    CAPTURE(i);
    CheckSameEpisode(reader.ReadEpisode(i), written[i]);
  }
  REQUIRE(reader.files().size() == 3);
  const DatasetFileInfo& info = reader.files()[0];
  CHECK(info.format == "perpetua");
  CHECK(info.schema_version == 1);
  CHECK(info.tool_config_yaml == options.tool_config_yaml);
  CHECK(nlohmann::json::parse(info.env_args_json) == options.env_args);
  CHECK(nlohmann::json::parse(info.env_spec_json) == options.env_spec);
  const auto provenance = nlohmann::json::parse(info.provenance_json);
  CHECK(provenance["tool"] == "rl-collect");
  CHECK(provenance["writer_token"].get<std::string>().size() > 10);
  CHECK(reader.schema().Describe() == "image uint8 [8, 8, 3], proprio float32 [3]; actions [2]");
}

TEST_CASE("round trip with next_obs and without compression or images") {
  for (const bool next_obs : {false, true}) {
    for (const int level : {0, 9}) {
      CAPTURE(next_obs);
      CAPTURE(level);
      TempDir dir;
      WriterOptions options;
      options.config.store_next_obs = next_obs;
      options.config.compression_level = level;
      EpisodeShape shape;
      shape.height = level == 0 ? 0 : 32;  // vectors only, or 32x32 images (compressed per frame)
      shape.width = 32;
      const Episode episode = MakeEpisode(4, shape);
      DatasetWriter writer(dir.path(), options);
      writer.Add(episode);
      writer.Close();
      DatasetReader reader({dir.path()});
      REQUIRE(reader.num_episodes() == 1);
      CheckSameEpisode(reader.ReadEpisode(0), episode);
    }
  }
}

TEST_CASE("round trip of every dtype and per-step rank") {
  TempDir dir;
  Episode episode = MakeEpisode(8);  // uint8 [8, 8, 3] image, float32 [3] vector
  const int64_t rows = episode.num_steps() + 1;
  Rng rng(3);
  auto filled = [&](DType dtype, std::vector<int64_t> step_shape) {
    std::vector<int64_t> shape{rows};
    shape.insert(shape.end(), step_shape.begin(), step_shape.end());
    Array a = Array::Zeros(dtype, shape);
    for (auto& v : a.u8) v = static_cast<uint8_t>(rng.UniformInt(256));
    for (auto& v : a.f32) v = static_cast<float>(rng.Normal());
    return a;
  };
  episode.observations["scalar_f32"] = filled(DType::kFloat32, {});
  episode.observations["scalar_u8"] = filled(DType::kUint8, {});
  episode.observations["vector_u8"] = filled(DType::kUint8, {5});
  episode.observations["matrix_f32"] = filled(DType::kFloat32, {4, 4});
  episode.observations["depth_f32"] = filled(DType::kFloat32, {16, 16, 1});  // 1 KiB/step: compressed
  episode.observations["gray_u8"] = filled(DType::kUint8, {12, 10, 1});
  episode.observations["volume_u8"] = filled(DType::kUint8, {2, 3, 4, 5});
  episode.metadata.object_ids.clear();  // empty arrays and strings survive too
  episode.metadata.policy_id.clear();
  {
    DatasetWriter writer(dir.path(), WriterOptions{});
    writer.Add(episode);
  }
  DatasetReader reader({dir.path()});
  REQUIRE(reader.num_episodes() == 1);
  CheckSameEpisode(reader.ReadEpisode(0), episode);
  CHECK(reader.schema().observations.at("scalar_f32").shape.empty());
  CHECK(reader.schema().observations.at("volume_u8").shape == std::vector<int64_t>{2, 3, 4, 5});
}

TEST_CASE("Add rejects malformed episodes with a message naming the problem") {
  TempDir dir;
  DatasetWriter writer(dir.path(), WriterOptions{});
  struct Case {
    std::string name;
    std::function<void(Episode&)> spoil;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"no steps", [](Episode& e) { e = Episode{}; }, "episode has no steps"},
      {"lengths", [](Episode& e) { e.terminated.pop_back(); }, "lengths differ"},
      {"nan action", [](Episode& e) { e.actions.f32[3] = std::nanf(""); },
       "action of step 1 is not finite"},
      {"inf reward", [](Episode& e) { e.rewards[2] = INFINITY; }, "reward of step 2 is not finite"},
      {"action shape", [](Episode& e) { e.actions.shape = {5, 1, 2}; }, "actions must be float32"},
      {"obs steps", [](Episode& e) { e.observations["proprio"] = Array::Zeros(DType::kFloat32, {5, 3}); },
       "observation 'proprio' must be [6, ...]"},
      {"obs buffer", [](Episode& e) { e.observations["proprio"].f32.pop_back(); },
       "observation 'proprio' must be"},
      {"obs nan", [](Episode& e) { e.observations["proprio"].f32[0] = std::nanf(""); },
       "observation 'proprio' has a non-finite value"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Episode e = MakeEpisode(1);
    c.spoil(e);
    ExitCode code = ExitCode::kOk;
    const std::string message = ErrorOf([&] { writer.Add(e); }, &code);
    CHECK(code == ExitCode::kBadData);
    CHECK(message.find(c.message) != std::string::npos);
    CHECK(message.find(dir.path()) == 0);
  }
  writer.Add(MakeEpisode(1));
  // Later episodes must match the first one's keys, dtypes and shapes.
  Episode other = MakeEpisode(2);
  other.observations["image"] = Array::Zeros(DType::kFloat32, {6, 8, 8, 3});
  CHECK(ErrorOf([&] { writer.Add(other); }).find("observation 'image' is float32 [8, 8, 3], expected uint8 [8, 8, 3]") != std::string::npos);
  other = MakeEpisode(2);
  other.observations.erase("proprio");
  CHECK(ErrorOf([&] { writer.Add(other); }).find("observation key 'proprio' is missing") != std::string::npos);
  CHECK(writer.episodes_added() == 1);
  writer.Close();
  CHECK(ErrorOf([&] { writer.Add(MakeEpisode(3)); }).find("already closed") != std::string::npos);
}

TEST_CASE("bad writer options are usage errors") {
  TempDir dir;
  WriterOptions options;
  options.config.episodes_per_shard = 0;
  ExitCode code = ExitCode::kOk;
  CHECK(ErrorOf([&] { DatasetWriter w(dir.path(), options); }, &code).find("episodes_per_shard") != std::string::npos);
  CHECK(code == ExitCode::kUsage);
  options = WriterOptions{};
  options.config.compression_level = 12;
  CHECK(ErrorOf([&] { DatasetWriter w(dir.path(), options); }, &code).find("compression_level") != std::string::npos);
  options = WriterOptions{};
  options.config.sync = "always";
  CHECK(ErrorOf([&] { DatasetWriter w(dir.path(), options); }, &code).find("dataset.sync must be 'episode', 'shard' or 'none', got 'always'") != std::string::npos);
  CHECK(code == ExitCode::kUsage);
  testing::WriteFile(dir / "plain", "x");
  CHECK(ErrorOf([&] { DatasetWriter w(dir / "plain", WriterOptions{}); }, &code).find("plain") != std::string::npos);
  CHECK(code == ExitCode::kIoError);
}

TEST_CASE("staged episodes of a dead writer are recovered once and only once") {
  TempDir dir;
  // Simulate a writer that died: its staging folder holds two staged episodes
  // of shard 0 and one of shard 1 whose shard was already renamed into place.
  const std::string token = "deadhost-1-2-abc";
  std::vector<Episode> episodes;
  {
    TempDir scratch;
    WriterOptions options;
    options.config.episodes_per_shard = 100;
    DatasetWriter writer(scratch.path(), options);
    for (uint64_t seed = 10; seed < 13; ++seed) {
      episodes.push_back(MakeEpisode(seed));
      writer.Add(episodes.back());
    }
    const std::string staging = scratch.path() + "/.staging/" + writer.token();
    const std::string dead = dir.path() + "/.staging/" + token;
    EnsureWritableDirectory(dead);
    std::filesystem::copy_file(staging + "/" + StagedEpisodeName(0, 0), dead + "/" + StagedEpisodeName(0, 0));
    std::filesystem::copy_file(staging + "/" + StagedEpisodeName(0, 1), dead + "/" + StagedEpisodeName(0, 1));
    std::filesystem::copy_file(staging + "/" + StagedEpisodeName(0, 2), dead + "/" + StagedEpisodeName(1, 0));
    testing::WriteFile(dead + "/lock", "");
    testing::WriteFile(dead + "/" + StagedEpisodeName(0, 2) + ".tmp", "half-written");
    // Shard 1 was completed before the crash: its staged file is a leftover.
    std::filesystem::copy_file(staging + "/" + StagedEpisodeName(0, 2), dir / "copy.h5");
    MergeStagedEpisodes({dir / "copy.h5"}, ShardPath(dir.path(), token, 1), dir / "tmp.h5", true);
  }
  const RecoveryReport report = RecoverDataset(dir.path());
  CHECK(report.shards_written == std::vector<std::string>{ShardPath(dir.path(), token, 0)});
  CHECK(report.episodes_recovered == 2);
  CHECK(report.duplicates_removed == 1);
  CHECK(report.quarantined.empty());
  CHECK_FALSE(IsDirectory(dir.path() + "/.staging/" + token));
  DatasetReader reader({dir.path()});
  REQUIRE(reader.num_episodes() == 3);
  CheckSameEpisode(reader.ReadEpisode(0), episodes[0]);
  CheckSameEpisode(reader.ReadEpisode(1), episodes[1]);
  CheckSameEpisode(reader.ReadEpisode(2), episodes[2]);
  // Running it again finds nothing to do.
  const RecoveryReport again = RecoverDataset(dir.path());
  CHECK(again.shards_written.empty());
  CHECK(again.episodes_recovered == 0);
}

TEST_CASE("a live writer's staging folder is left alone") {
  TempDir dir;
  DatasetWriter writer(dir.path(), WriterOptions{});
  writer.Add(MakeEpisode(1));
  const RecoveryReport report = RecoverDataset(dir.path());
  CHECK(report.live_writers == 1);
  CHECK(report.shards_written.empty());
  CHECK(writer.episodes_staged() == 1);
  // A second writer on the same directory does not take the first one's episodes.
  DatasetWriter second(dir.path(), WriterOptions{});
  CHECK(second.recovered_shards().empty());
  CHECK(writer.Close().size() == 1);
  CHECK(second.Close().empty());
}

}  // namespace
}  // namespace perpetua
