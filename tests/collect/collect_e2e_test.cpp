// rl-collect end to end: the real binary on the real grasp cell, its shards
// read back with the dataset library, its stdout piped into a reader, and
// the durability promises checked under SIGKILL, SIGINT and concurrency.
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <tuple>

#include "collect/checkpoint_fixture.h"
#include "common/fs.h"
#include "common/step_file.h"
#include "nn/checkpoint.h"
#include "data/dataset_reader.h"
#include "data/dataset_recovery.h"
#include "env_factory/make_env.h"
#include "rollout/rollout.h"
#include "rollout/video.h"
#include "support/test_support.h"

namespace perpetua {
namespace {
using testing::ChildProcess;
using testing::Lines;
using testing::ProcessResult;
using testing::RunProcess;
using testing::TempDir;
using testing::ToolPath;

std::vector<std::string> Collect(const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {ToolPath("rl-collect"), "--env", "grasp", "--cell.image-size", "32"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

struct EpisodeFacts {
  uint64_t seed;
  std::string policy_id;
  int64_t steps;
  std::vector<float> actions;
};

// Every episode of `paths` (files or directories), read completely.
std::vector<EpisodeFacts> ReadAll(const std::vector<std::string>& paths) {
  DatasetReader reader(paths);
  std::vector<EpisodeFacts> facts;
  for (size_t i = 0; i < reader.num_episodes(); ++i) {
    Episode e = reader.ReadEpisode(i);
    facts.push_back({e.metadata.seed, e.metadata.policy_id, e.num_steps(), e.actions.f32});
  }
  return facts;
}

// ReadAll in the order of the episodes' seeds, so that two runs' episodes pair up.
std::vector<EpisodeFacts> ReadAllBySeed(const std::string& dir) {
  std::vector<EpisodeFacts> facts = ReadAll({dir});
  std::sort(facts.begin(), facts.end(), [](const EpisodeFacts& a, const EpisodeFacts& b) { return a.seed < b.seed; });
  return facts;
}

std::set<std::string> AsSet(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

using testing::WaitForLines;

EnvSpec GraspSpec(int image_size) {
  EnvConfig config;
  config.image_size = image_size;
  return MakeEnv(config)->spec();
}

TEST_CASE("collected shards are complete and every one is printed") {
  TempDir dir;
  const ProcessResult r = RunProcess(Collect({"--policy", "random", "--episodes", "7", "--workers", "2",
                                              "--seed", "5", "--out", dir / "data",
                                              "--dataset.episodes-per-shard", "3"}));
  CAPTURE(r.err);
  REQUIRE(r.exit_code == 0);
  const auto printed = Lines(r.out);
  CHECK(printed.size() == 3);  // 3 + 3 + the last partial one
  CHECK(AsSet(printed) == AsSet(ListShards(dir / "data")));
  const auto episodes = ReadAll(printed);
  REQUIRE(episodes.size() == 7);
  std::set<uint64_t> seeds;
  for (const auto& e : episodes) {
    seeds.insert(e.seed);
    CHECK(e.policy_id == "random");
    CHECK(e.steps >= 1);
  }
  std::set<uint64_t> expected;
  for (int i = 0; i < 7; ++i) expected.insert(EpisodeSeed(5, i));
  CHECK(seeds == expected);
  CHECK(r.err.find("eps/s") != std::string::npos);  // progress and rates on stderr
  CHECK_FALSE(IsDirectory(dir / "data/.staging/x"));
}

TEST_CASE("a reader on the pipe sees only complete shards as they are printed") {
  TempDir dir;
  // A live consumer: opens each path the moment it is printed and counts its episodes.
  const std::string reader =
      "import sys, h5py\n"
      "total = 0\n"
      "for line in sys.stdin:\n"
      "    with h5py.File(line.strip(), 'r') as f:\n"
      "        n = len([k for k in f['data'].keys() if k.startswith('demo_')])\n"
      "        total += n\n"
      "print(total)\n";
  testing::WriteFile(dir / "reader.py", reader);
  std::string command;
  for (const auto& a : Collect({"--policy", "scripted", "--episodes", "6", "--out", dir / "data",
                                "--dataset.episodes-per-shard", "2"})) {
    command += "'" + a + "' ";
  }
  command += "| /usr/bin/python3 " + dir / "reader.py";
  const ProcessResult r = RunProcess({"/bin/bash", "-o", "pipefail", "-c", command});
  CAPTURE(r.err);
  CHECK(r.exit_code == 0);
  CHECK(Lines(r.out) == std::vector<std::string>{"6"});
}

TEST_CASE("the same seed gives the same episodes with any number of workers") {
  TempDir dir;
  for (const std::string workers : {"1", "3"}) {
    const ProcessResult r = RunProcess(Collect({"--policy", "random", "--episodes", "6", "--workers", workers,
                                                "--seed", "9", "--out", dir / ("w" + workers)}));
    REQUIRE(r.exit_code == 0);
  }
  auto one = ReadAll({dir / "w1"}), three = ReadAll({dir / "w3"});
  auto by_seed = [](const EpisodeFacts& a, const EpisodeFacts& b) { return a.seed < b.seed; };
  std::sort(one.begin(), one.end(), by_seed);
  std::sort(three.begin(), three.end(), by_seed);
  REQUIRE(one.size() == 6);
  REQUIRE(three.size() == 6);
  for (size_t i = 0; i < 6; ++i) {
    CHECK(one[i].seed == three[i].seed);
    CHECK(one[i].actions == three[i].actions);
  }
}

TEST_CASE("running the same collect command twice warns that it repeats the episodes and says how to continue") {
  TempDir dir;
  const auto collect = [&](const std::vector<std::string>& extra, const std::string& seed = "4") {
    std::vector<std::string> args = {"--policy", "random", "--episodes", "3", "--seed", seed, "--out", dir / "data"};
    args.insert(args.end(), extra.begin(), extra.end());
    const ProcessResult r = RunProcess(Collect(args));
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    return r.err;
  };
  CHECK(collect({}).find("already holds") == std::string::npos);
  const std::string again = collect({});
  CHECK(again.find("already holds 3 of the episodes this run would collect (seed 4, the same episodes again); "
                   "--first-episode 3 continues after them") != std::string::npos);
  CHECK(collect({"--first-episode", "3"}).find("already holds") == std::string::npos);
  CHECK(collect({}, "5").find("already holds") == std::string::npos);  // other seeds, other episodes
  // Overlapping in part: episodes 2..4 of seed 4 (0..5 are held once or twice by now).
  CHECK(collect({"--first-episode", "2"}).find("already holds 3 of the episodes") != std::string::npos);
}

TEST_CASE("epsilon 1 toward random acts exactly as the random policy") {
  TempDir dir;
  REQUIRE(RunProcess(Collect({"--policy", "random", "--episodes", "4", "--out", dir / "random"})).exit_code == 0);
  const ProcessResult r = RunProcess(Collect({"--policy", "scripted", "--episodes", "4", "--out", dir / "explore",
                                              "--exploration.epsilon", "1", "--exploration.toward", "random"}));
  CAPTURE(r.err);
  REQUIRE(r.exit_code == 0);
  const auto random = ReadAllBySeed(dir / "random"), explore = ReadAllBySeed(dir / "explore");
  REQUIRE(random.size() == explore.size());
  for (size_t i = 0; i < random.size(); ++i) {
    CHECK(explore[i].actions == random[i].actions);
    CHECK(explore[i].policy_id == "scripted:grasp");  // the policy being improved
  }
  DatasetReader reader({dir / "explore"});
  const auto extra = nlohmann::json::parse(reader.ReadEpisode(0).metadata.extra_json);
  CHECK(extra["exploration"]["epsilon"] == 1.0);
  CHECK(extra["exploration"]["toward"] == "random");
  CHECK(extra["exploration"]["random_terminate"] == 0.05);
}

TEST_CASE("scripted episodes: the scripted policy acts whole episodes in a share of them, named in the data") {
  TempDir dir;
  REQUIRE(RunProcess(Collect({"--policy", "scripted", "--episodes", "16", "--out", dir / "scripted"})).exit_code == 0);
  const ProcessResult r = RunProcess(Collect({"--policy", "random", "--episodes", "16", "--out", dir / "mixed",
                                              "--exploration.scripted-episodes", "0.5"}));
  CAPTURE(r.err);
  REQUIRE(r.exit_code == 0);
  const auto scripted = ReadAllBySeed(dir / "scripted"), mixed = ReadAllBySeed(dir / "mixed");
  REQUIRE(scripted.size() == mixed.size());
  int by_script = 0;
  for (size_t i = 0; i < mixed.size(); ++i) {
    if (mixed[i].policy_id == "scripted:grasp") {
      ++by_script;
      CHECK(mixed[i].actions == scripted[i].actions);  // the same episode as the scripted policy's
    } else {
      CHECK(mixed[i].policy_id == "random");
    }
  }
  CHECK(by_script >= 3);
  CHECK(by_script <= 13);
  DatasetReader reader({dir / "mixed"});
  CHECK(nlohmann::json::parse(reader.ReadEpisode(0).metadata.extra_json)["exploration"]["scripted_episodes"] == 0.5);
}

TEST_CASE("random actions terminate rarely by default, so episodes run on - -1 draws terminate uniformly") {
  TempDir dir;
  const auto mean_steps = [&](const std::string& name, const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"--policy", "random", "--episodes", "12", "--out", dir / name,
                                     "--cell.max-episode-steps", "10"};
    args.insert(args.end(), extra.begin(), extra.end());
    const ProcessResult r = RunProcess(Collect(args));
    CAPTURE(r.err);
    REQUIRE(r.exit_code == 0);
    int64_t steps = 0;
    const auto episodes = ReadAll({dir / name});
    for (const EpisodeFacts& e : episodes) {
      steps += e.steps;
      REQUIRE(e.actions.size() == size_t(e.steps * 6));
    }
    return double(steps) / double(episodes.size());
  };
  // P(terminate) 0.05 per step: most 10-step episodes run to the limit (0.95^10 = 60%).
  CHECK(mean_steps("rare", {}) > 6.0);
  // Uniform: half the steps terminate, episodes last 2 steps on average.
  CHECK(mean_steps("uniform", {"--exploration.random-terminate", "-1"}) < 3.5);
}

TEST_CASE("videos of a chosen fraction of episodes decode with every frame") {
  TempDir dir;
  const ProcessResult r = RunProcess(Collect({"--policy", "scripted", "--episodes", "4", "--out", dir / "data",
                                              "--video-fraction", "1"}));
  CAPTURE(r.err);
  REQUIRE(r.exit_code == 0);
  const auto videos = testing::ListFiles(dir / "data/videos", ".mp4");
  REQUIRE(videos.size() == 4);
  DatasetReader reader({dir / "data"});
  for (size_t i = 0; i < reader.num_episodes(); ++i) {
    const Episode e = reader.ReadEpisode(i);
    const int64_t index = nlohmann::json::parse(e.metadata.extra_json)["index"];
    char prefix[32];  // episode-<index, 5 digits>-<writer token>.mp4
    std::snprintf(prefix, sizeof prefix, "episode-%05lld-", static_cast<long long>(index));
    const auto it = std::find_if(videos.begin(), videos.end(),
                                 [&](const std::string& v) { return v.rfind(prefix, 0) == 0; });
    REQUIRE(it != videos.end());
    CHECK(CountVideoFrames(dir / ("data/videos/" + *it)) == e.num_steps() + 1);
  }
  // The dataset reader ignores the videos folder.
  CHECK(reader.num_episodes() == 4);
}

TEST_CASE("--video DIR puts the videos there, as rl-eval --video does") {
  TempDir dir;
  const ProcessResult r = RunProcess(Collect({"--policy", "random", "--episodes", "2", "--out", dir / "data",
                                              "--video-fraction", "1", "--video", dir / "clips"}));
  CAPTURE(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(testing::ListFiles(dir / "clips", ".mp4").size() == 2);
  CHECK_FALSE(std::filesystem::exists(dir / "data/videos"));
}

TEST_CASE("bad input fails with its exit code and harms nothing already written") {
  TempDir dir;
  // A dataset already there must survive every failure below untouched.
  REQUIRE(RunProcess(Collect({"--policy", "random", "--episodes", "2", "--out", dir / "data"})).exit_code == 0);
  const auto before = ListShards(dir / "data");
  REQUIRE(before.size() == 1);
  const std::string shard_bytes = testing::ReadFile(before[0]);

  struct Case {
    std::vector<std::string> args;
    int code;
    std::string message;
  };
  testing::WriteFile(dir / "corrupt.ckpt", "PERPCKPT garbage");
  testing::WriteTestCheckpoint(dir / "other.ckpt", GraspSpec(48), "other");
  testing::WriteFile(dir / "a-file", "");  // a directory cannot be made below a file (even as root)
  const std::vector<Case> cases = {
      {{"--cell.max-objects", "99", "--episodes", "1", "--out", dir / "data"}, 2, "max_objects"},
      {{"--policy", "nonsense", "--episodes", "1", "--out", dir / "data"}, 2,
       "--policy 'nonsense': not 'random', 'scripted' or an existing checkpoint file"},
      {{"--policy", "scriptd", "--episodes", "1", "--out", dir / "data"}, 2,
       "--policy 'scriptd': not 'random', 'scripted' or an existing checkpoint file (did you mean 'scripted'?)"},
      {{"--policy", dir / "corrupt.ckpt", "--episodes", "1", "--out", dir / "data"}, 3, dir / "corrupt.ckpt"},
      {{"--policy", dir / "other.ckpt", "--episodes", "1", "--out", dir / "data"}, 3, dir / "other.ckpt"},
      {{"--episodes", "0", "--out", dir / "data"}, 2, "--episodes must be at least 1"},
      {{"--episodes", "1"}, 2, "--out is required"},
      {{"--episodes", "1", "--out", dir / "data", "--exploration.epsilon", "1.5"}, 2, "--exploration.epsilon"},
      {{"--episodes", "1", "--out", dir / "data", "--exploration.random-terminate", "1.5"}, 2,
       "--exploration.random-terminate must be in [0, 1] or -1 (uniform), got 1.5"},
      {{"--episodes", "1", "--out", dir / "data", "--exploration.scripted-episodes", "-0.1"}, 2,
       "--exploration.scripted-episodes must be in [0, 1], got -0.1"},
      {{"--episodes", "1", "--out", dir / "data", "--reload"}, 2, "--reload needs a checkpoint --policy"},
      {{"--episodes", "1", "--out", dir / "a-file/data"}, 6, dir / "a-file/data"},
      {{"--episodes", "1", "--out", dir / "data", "--episdoes", "2"}, 2, "did you mean"},
  };
  for (const Case& c : cases) {
    auto argv = Collect(c.args);
    const ProcessResult r = RunProcess(argv);
    CAPTURE(r.err);
    CHECK(r.exit_code == c.code);
    CHECK(r.err.find("rl-collect: error: ") == 0);
    CHECK(r.err.find(c.message) != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') >= 1);
    CHECK(r.out.empty());
  }
  const ProcessResult unknown = RunProcess({ToolPath("rl-collect"), "--env", "grasps", "--episodes", "1",
                                            "--out", dir / "data"});
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find("rl-collect: error: ") == 0);
  CHECK(unknown.err.find("grasps") != std::string::npos);
  CHECK(ListShards(dir / "data") == before);
  CHECK(testing::ReadFile(before[0]) == shard_bytes);
}

TEST_CASE("a physics blow-up ends its episode, flagged with its seed, and collection goes on") {
  TempDir dir;
  // Test-only fault: a real blow-up at step 1 of every episode with an even seed.
  testing::ScopedEnvVar fault("PERPETUA_SIM_BLOWUP", "1:2");
  const ProcessResult r = RunProcess(Collect({"--policy", "scripted", "--episodes", "8", "--seed", "5",
                                              "--out", dir / "data"}));
  CAPTURE(r.err);
  REQUIRE(r.exit_code == 0);
  DatasetReader reader(ListShards(dir / "data"));
  REQUIRE(reader.num_episodes() == 8);
  int64_t flagged = 0;
  for (size_t i = 0; i < reader.num_episodes(); ++i) {
    const Episode e = reader.ReadEpisode(i);
    const auto extra = nlohmann::json::parse(e.metadata.extra_json);
    CAPTURE(e.metadata.seed);
    CHECK(e.metadata.seed == EpisodeSeed(5, extra.at("index").get<int64_t>()));
    const bool even = e.metadata.seed % 2 == 0;
    CHECK(extra.contains("unstable") == even);
    if (!even) continue;
    ++flagged;
    CHECK(extra["unstable"]["seed"] == e.metadata.seed);
    CHECK(extra["unstable"]["step"] == 1);
    CHECK(e.num_steps() == 2);
    CHECK(e.truncated.back() == 1);
    CHECK(e.terminated.back() == 0);
    CHECK_FALSE(e.metadata.success);
  }
  REQUIRE(flagged >= 1);
  REQUIRE(flagged <= 7);
  // One warning line per blown-up episode, naming its seed; none from MuJoCo.
  const auto lines = Lines(r.err);
  CHECK(std::count_if(lines.begin(), lines.end(), [](const std::string& line) {
          return line.find("the simulation became unstable") != std::string::npos;
        }) == flagged);
  CHECK(r.err.find("QACC") == std::string::npos);
  CHECK(r.err.find(std::to_string(flagged) + " ended by a physics blow-up") != std::string::npos);
}

TEST_CASE("a full disk is an io-error that keeps every shard already written") {
  TempDir dir;
  REQUIRE(RunProcess(Collect({"--policy", "random", "--episodes", "2", "--out", dir / "data"})).exit_code == 0);
  const auto before = ListShards(dir / "data");
  const std::string shard_bytes = testing::ReadFile(before.at(0));
  // A file-size limit below one episode's file makes the write fail the way a
  // full disk does (EFBIG instead of ENOSPC; SIGXFSZ ignored so write() fails).
  std::string command = "trap '' XFSZ; ulimit -f 4; exec";
  for (const auto& a : Collect({"--policy", "scripted", "--episodes", "3", "--out", dir / "data"})) {
    command += " '" + a + "'";
  }
  const ProcessResult r = RunProcess({"/bin/bash", "-c", command});
  CAPTURE(r.err);
  CHECK(r.exit_code == 6);
  CHECK(r.err.find("rl-collect: error: ") != std::string::npos);
  CHECK(r.err.find("File too large") != std::string::npos);
  CHECK(ListShards(dir / "data") == before);
  CHECK(testing::ReadFile(before[0]) == shard_bytes);
}

TEST_CASE("SIGKILL mid-episode loses at most the episodes in progress") {
  TempDir dir;
  ChildProcess child(Collect({"--policy", "random", "--forever", "--out", dir / "data",
                              "--dataset.episodes-per-shard", "2"}));
  WaitForLines(child, 2);
  ::usleep(30000);  // somewhere inside a later episode
  child.Signal(SIGKILL);
  const ProcessResult r = child.Wait();
  CHECK(r.signal == SIGKILL);
  const auto printed = Lines(r.out);
  // Every printed shard is complete and readable; nothing half-written is visible.
  const auto shards = ListShards(dir / "data");
  for (const auto& path : printed) CHECK(std::count(shards.begin(), shards.end(), path) == 1);
  const auto visible = ReadAll({dir / "data"});
  CHECK(visible.size() >= 2 * printed.size());
  // Episodes finished but not yet in a shard are recovered, none twice.
  const RecoveryReport report = RecoverDataset(dir / "data");
  CHECK(report.quarantined.empty());
  const auto all = ReadAll({dir / "data"});
  std::set<uint64_t> seeds;
  for (const auto& e : all) seeds.insert(e.seed);
  CHECK(seeds.size() == all.size());
  // Episodes are finished in index order with one worker: the recovered ones
  // are exactly the first indices.
  for (size_t i = 0; i < all.size(); ++i) CHECK(seeds.count(EpisodeSeed(0, int64_t(i))) == 1);  // the default seed
}

void CheckCleanInterrupt(const ProcessResult& r, const std::string& dir) {
  CAPTURE(r.err);
  CHECK(r.exit_code == 130);
  const auto printed = Lines(r.out);
  // Every finished shard is visible and listed; nothing is left staged.
  CHECK(AsSet(printed) == AsSet(ListShards(dir)));
  const auto episodes = ReadAll({dir});
  std::set<uint64_t> seeds;
  for (const auto& e : episodes) seeds.insert(e.seed);
  CHECK(seeds.size() == episodes.size());
  for (size_t i = 0; i < episodes.size(); ++i) CHECK(seeds.count(EpisodeSeed(0, int64_t(i))) == 1);
  CHECK(RecoverDataset(dir).episodes_recovered == 0);
}

TEST_CASE("SIGINT once finishes the episode then flushes and exits 130") {
  TempDir dir;
  ChildProcess child(Collect({"--policy", "random", "--forever", "--workers", "2", "--out", dir / "data",
                              "--dataset.episodes-per-shard", "3"}));
  WaitForLines(child, 1);
  child.Signal(SIGINT);
  const ProcessResult r = child.Wait();
  CheckCleanInterrupt(r, dir / "data");
  CHECK(ReadAll({dir / "data"}).size() >= 3);
}

TEST_CASE("SIGINT twice drops the episode in progress and exits 130 at once") {
  TempDir dir;
  ChildProcess child(Collect({"--policy", "random", "--forever", "--out", dir / "data",
                              "--dataset.episodes-per-shard", "2"}));
  WaitForLines(child, 1);
  child.Signal(SIGINT);
  child.Signal(SIGINT);
  const ProcessResult r = child.Wait();
  CheckCleanInterrupt(r, dir / "data");
}

TEST_CASE("a closed stdout loses no data") {
  TempDir dir;
  std::string command;
  for (const auto& a : Collect({"--policy", "random", "--episodes", "6", "--out", dir / "data",
                                "--dataset.episodes-per-shard", "1"})) {
    command += "'" + a + "' ";
  }
  // head exits after the first line; the collector must keep writing.
  const ProcessResult r =
      RunProcess({"/bin/bash", "-c", command + "| head -n 1; exit ${PIPESTATUS[0]}"});
  CAPTURE(r.err);
  CHECK(r.exit_code == 0);
  CHECK(Lines(r.out).size() == 1);
  CHECK(ListShards(dir / "data").size() == 6);
  CHECK(ReadAll({dir / "data"}).size() == 6);
}

TEST_CASE("several collectors into one directory lose and duplicate nothing") {
  TempDir dir;
  std::vector<std::unique_ptr<ChildProcess>> children;
  for (int c = 0; c < 3; ++c) {
    children.push_back(std::make_unique<ChildProcess>(
        Collect({"--policy", "random", "--episodes", "5", "--seed", std::to_string(100 + c), "--out",
                 dir / "data", "--dataset.episodes-per-shard", "2"})));
  }
  std::vector<std::string> printed;
  for (auto& child : children) {
    const ProcessResult r = child->Wait();
    CAPTURE(r.err);
    CHECK(r.exit_code == 0);
    for (const auto& line : Lines(r.out)) printed.push_back(line);
  }
  CHECK(printed.size() == 9);  // 2 + 2 + 1 per collector
  CHECK(AsSet(printed).size() == printed.size());
  CHECK(AsSet(printed) == AsSet(ListShards(dir / "data")));
  const auto episodes = ReadAll({dir / "data"});
  std::set<uint64_t> seeds, expected;
  for (const auto& e : episodes) seeds.insert(e.seed);
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < 5; ++i) expected.insert(EpisodeSeed(100 + c, i));
  }
  CHECK(episodes.size() == 15);
  CHECK(seeds == expected);
}

TEST_CASE("a checkpoint replaced during collection is picked up and recorded") {
  TempDir dir;
  const EnvSpec spec = GraspSpec(32);
  testing::WriteTestCheckpoint(dir / "first.ckpt", spec, "first", 1);
  testing::WriteTestCheckpoint(dir / "second.ckpt", spec, "second", 2);
  REQUIRE(::symlink((dir / "first.ckpt").c_str(), (dir / "latest.ckpt").c_str()) == 0);
  ChildProcess child(Collect({"--policy", dir / "latest.ckpt", "--reload", "--forever", "--out",
                              dir / "data", "--dataset.episodes-per-shard", "1",
                              "--exploration.epsilon", "0.2"}));
  WaitForLines(child, 1);
  // The trainer's atomic replace: a new symlink renamed over the old one.
  REQUIRE(::symlink((dir / "second.ckpt").c_str(), (dir / "next.ckpt").c_str()) == 0);
  RenameDurably(dir / "next.ckpt", dir / "latest.ckpt");
  const size_t seen = Lines(child.OutSoFar()).size();
  WaitForLines(child, seen + 3);
  child.Signal(SIGINT);
  const ProcessResult r = child.Wait();
  CAPTURE(r.err);
  CHECK(r.exit_code == 130);
  DatasetReader reader({dir / "data"});
  std::vector<std::pair<uint64_t, std::string>> by_index;  // (index, policy)
  for (size_t i = 0; i < reader.num_episodes(); ++i) {
    const Episode e = reader.ReadEpisode(i);
    const auto extra = nlohmann::json::parse(e.metadata.extra_json);
    by_index.emplace_back(extra["index"].get<uint64_t>(), e.metadata.policy_id);
  }
  std::sort(by_index.begin(), by_index.end());
  REQUIRE(by_index.size() >= 4);
  CHECK(by_index.front().second == "checkpoint:first");
  CHECK(by_index.back().second == "checkpoint:second");
  // One switch, between episodes, never back.
  int switches = 0;
  for (size_t i = 1; i < by_index.size(); ++i) switches += by_index[i].second != by_index[i - 1].second;
  CHECK(switches == 1);
}

TEST_CASE("hot reload of a checkpoint with a wrongly typed field keeps the previous policy acting") {
  TempDir dir;
  const EnvSpec spec = GraspSpec(32);
  testing::WriteTestCheckpoint(dir / "latest.ckpt", spec, "first", 1);
  testing::WriteTestCheckpoint(dir / "second.ckpt", spec, "second", 2);
  // Passes the integrity hash; one field has the wrong type.
  CheckpointContents bad = ReadCheckpoint(dir / "latest.ckpt");
  bad.metadata["id"] = "bad";
  bad.metadata["cem"]["samples"] = "many";
  ChildProcess child(Collect({"--policy", dir / "latest.ckpt", "--reload", "--forever", "--out",
                              dir / "data", "--dataset.episodes-per-shard", "1"}));
  WaitForLines(child, 1);
  WriteCheckpoint(dir / "latest.ckpt", bad);
  WaitForLines(child, Lines(child.OutSoFar()).size() + 2);
  RenameDurably(dir / "second.ckpt", dir / "latest.ckpt");  // the next change is tried again
  WaitForLines(child, Lines(child.OutSoFar()).size() + 2);
  child.Signal(SIGINT);
  const ProcessResult r = child.Wait();
  CAPTURE(r.err);
  CHECK(r.exit_code == 130);
  size_t warnings = 0;
  for (const std::string& line : Lines(r.err)) {
    if (line.find("hot reload:") == std::string::npos) continue;
    ++warnings;
    CHECK(line == "rl-collect: warning: hot reload: " + dir / "latest.ckpt" +
                      ": checkpoint field 'samples' has the wrong type; keeping checkpoint:first");
  }
  CHECK(warnings == 1);
  std::set<std::string> policies;
  for (const EpisodeFacts& e : ReadAll({dir / "data"})) policies.insert(e.policy_id);
  CHECK(policies == std::set<std::string>{"checkpoint:first", "checkpoint:second"});
}

}  // namespace
}  // namespace perpetua

namespace perpetua {
namespace {

// Waits (polling) until the child's stderr contains `text`; fails the test if it never does.
void WaitForErr(ChildProcess& child, const std::string& text) {
  for (int i = 0; i < 60000 && child.ErrSoFar().find(text) == std::string::npos; ++i) ::usleep(1000);
  REQUIRE_MESSAGE(child.ErrSoFar().find(text) != std::string::npos, child.ErrSoFar());
}

TEST_CASE("a paced collector keeps to its ratio of the trainer's gradient steps") {
  TempDir dir;
  const std::string run = dir / "run";
  ::mkdir(run.c_str(), 0755);
  // 20-step episodes; a head start of 100 steps, then 2 steps per gradient step.
  ChildProcess collector({ToolPath("rl-collect"), "--env", "pendulum", "--cell.max-episode-steps", "20",
                          "--policy", "random", "--episodes", "12", "--out", dir / "data", "--pace.run", run,
                          "--pace.ahead", "100", "--pace.ratio", "2", "--dataset.episodes-per-shard", "1"});
  // Each episode is a shard, printed when done. One worker starts an episode
  // only while below the allowance: the head start is exactly 5 episodes.
  const auto episodes = [&] { return Lines(collector.OutSoFar()).size(); };
  WaitForErr(collector, "waiting for the trainer");
  ::usleep(500000);  // it stays held: no trainer yet
  CHECK(collector.ErrSoFar().find("pacing: 100 steps collected for 0 gradient steps of " + run + " (ratio 2)") !=
        std::string::npos);
  CHECK(episodes() == 5);
  {
    StepFileWriter trainer(run + "/trainer.step");  // a trainer resumed at step 500 ...
    trainer.Publish(500);
    ::usleep(300000);  // ... which the collector reads first
    trainer.Publish(530);  // 30 gradient steps: 60 more environment steps, 3 episodes
    for (int i = 0; i < 3000 && episodes() < 8; ++i) ::usleep(1000);
    ::usleep(500000);
    CHECK(episodes() == 8);
    trainer.Publish(600);  // 100 gradient steps: room for every episode
  }
  const ProcessResult r = collector.Wait();
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(ReadAll({dir / "data"}).size() == 12);
  CHECK(r.err.find("paced to the trainer of " + run) != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') < 12);  // the wait is told once, not per episode
}

TEST_CASE("pacing settings are checked before anything is written") {
  TempDir dir;
  for (const auto& [flag, value, message] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"--pace.ratio", "0", "--pace.ratio must be a number > 0"},
           {"--pace.ratio", "-1", "--pace.ratio must be a number > 0"},
           {"--pace.ahead", "-5", "--pace.ahead must be >= 0"}}) {
    CAPTURE(flag);
    const ProcessResult r = RunProcess({ToolPath("rl-collect"), "--env", "pendulum", "--episodes", "1", "--out",
                                        dir / "data", "--pace.run", dir / "run", flag, value});
    CHECK(r.exit_code == 2);
    CHECK(r.err == "rl-collect: error: " + message + ", got " + value + (flag == "--pace.ahead" ? "" : ".000000") +
                       "\n");
  }
  CHECK(::access((dir / "data").c_str(), F_OK) != 0);  // nothing was written
}

}  // namespace
}  // namespace perpetua
