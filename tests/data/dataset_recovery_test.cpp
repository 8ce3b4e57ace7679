// Recovery of dead writers' staged episodes when the files are damaged:
// nothing unreadable is published, nothing blocks the dataset, nothing is
// deleted on the word of a shard that does not verify; and the
// staged-episodes family of mutated inputs run through the real tools.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "data/dataset_reader.h"
#include "data/dataset_recovery.h"
#include "data/dataset_writer.h"
#include "data/episode_factory.h"
#include "data/shard_verify.h"
#include "support/test_support.h"

namespace perpetua {
namespace {

namespace fs = std::filesystem;
using testing::ProcessResult;
using testing::RunProcess;
using testing::TempDir;
using testing::ToolPath;

const std::string kToken = "deadhost-7-8-dead";

testing::EpisodeShape SmallShape() {
  testing::EpisodeShape shape;
  shape.height = 16;
  shape.width = 16;
  return shape;
}

// Leaves in `dir` the staging folder of a dead writer `kToken` holding staged
// episodes seeded `seeds` (shard 0, in order), as a SIGKILL would.
std::vector<std::string> MakeDeadWriter(const std::string& dir, const std::vector<uint64_t>& seeds) {
  TempDir scratch;
  WriterOptions options;
  options.config.episodes_per_shard = 1000;
  DatasetWriter writer(scratch.path(), options);
  const std::string dead = dir + "/.staging/" + kToken;
  EnsureWritableDirectory(dead);
  std::vector<std::string> staged;
  for (size_t k = 0; k < seeds.size(); ++k) {
    writer.Add(testing::MakeEpisode(seeds[k], SmallShape()));
    const std::string name = StagedEpisodeName(0, static_cast<int64_t>(k));
    fs::copy_file(scratch.path() + "/.staging/" + writer.token() + "/" + name, dead + "/" + name);
    staged.push_back(dead + "/" + name);
  }
  testing::WriteFile(dead + "/lock", "");
  return staged;
}

// Seeds of every episode in `dir`, reading each one in full (throws if any is unreadable).
std::multiset<uint64_t> SeedsIn(const std::string& dir) {
  std::multiset<uint64_t> seeds;
  DatasetReader reader({dir}, /*allow_empty=*/true);
  for (size_t i = 0; i < reader.num_episodes(); ++i) seeds.insert(reader.ReadEpisode(i).metadata.seed);
  return seeds;
}

std::vector<std::string> QuarantineNames(const std::string& dir) {
  return testing::ListFiles(dir + "/" + kQuarantineDirName);
}

TEST_CASE("a staged episode with a bit-rotted chunk is quarantined and never published") {
  TempDir dir;
  const auto staged = MakeDeadWriter(dir.path(), {1, 2, 3});
  testing::RotFirstChunk(staged[1], "data/demo_0/obs/image");
  const ProcessResult r = RunProcess({ToolPath("rl-data"), "recover", dir.path()});
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  const std::string shard = ShardPath(dir.path(), kToken, 0);
  CHECK(r.out == shard + "\n");
  CHECK(r.err.find("quarantined " + staged[1] + " as " + dir.path() + "/.quarantine/" + kToken +
                   "-s000000-e000001.h5: ") != std::string::npos);
  CHECK(r.err.find("obs/image") != std::string::npos);  // the reason names the damaged array
  // The published shard holds the two good episodes and verifies in full.
  CHECK(SeedsIn(dir.path()) == std::multiset<uint64_t>{1, 3});
  CHECK_NOTHROW(VerifyPerpetuaFile(shard));
  const ProcessResult inspect = RunProcess({ToolPath("rl-data"), "inspect", dir.path()});
  CHECK(inspect.exit_code == 0);
  CHECK(nlohmann::json::parse(inspect.out)["quarantined_files"] == 1);
  CHECK(inspect.err.find("1 damaged files set aside in .quarantine") != std::string::npos);
  // The damaged file is kept aside with its reason.
  CHECK(QuarantineNames(dir.path()) == std::vector<std::string>{
                                           kToken + "-s000000-e000001.h5",
                                           kToken + "-s000000-e000001.h5.why"});
  CHECK(testing::ReadFile(dir.path() + "/.quarantine/" + kToken + "-s000000-e000001.h5.why")
            .find(staged[1] + ": data/demo_0/obs/image: cannot read data") == 0);
  CHECK_FALSE(fs::exists(dir.path() + "/.staging/" + kToken));
}

TEST_CASE("a staged file that opens but cannot be read inside never blocks new writers") {
  TempDir dir;
  const auto staged = MakeDeadWriter(dir.path(), {4, 5});
  // Keep the superblock, lose the rest (a torn write under sync: none).
  const std::string bytes = testing::ReadFile(staged[0]);
  testing::WriteFile(staged[0], bytes.substr(0, bytes.size() / 3));
  // A new writer (rl-collect opens one) recovers on open and goes on.
  {
    DatasetWriter writer(dir.path(), WriterOptions{});
    CHECK(writer.recovered_shards() == std::vector<std::string>{ShardPath(dir.path(), kToken, 0)});
    writer.Add(testing::MakeEpisode(6, SmallShape()));
    writer.Close();
  }
  CHECK(SeedsIn(dir.path()) == std::multiset<uint64_t>{5, 6});
  CHECK(QuarantineNames(dir.path()).size() == 2);
  CHECK(RunProcess({ToolPath("rl-data"), "recover", dir.path()}).exit_code == 0);
  CHECK(RunProcess({ToolPath("rl-data"), "inspect", dir.path()}).exit_code == 0);
}

TEST_CASE("staged files are deleted only when their shard verifies") {
  TempDir dir;
  const auto staged = MakeDeadWriter(dir.path(), {7, 8});
  const std::string shard = ShardPath(dir.path(), kToken, 0);
  // The writer died between renaming the shard and removing its staged files.
  fs::copy_file(staged[0], dir / "a.h5");
  fs::copy_file(staged[1], dir / "b.h5");
  MergeStagedEpisodes({dir / "a.h5", dir / "b.h5"}, shard, dir / "tmp.h5", true);
  SUBCASE("a shard that verifies makes its staged files leftovers") {
    const RecoveryReport report = RecoverDataset(dir.path());
    CHECK(report.duplicates_removed == 2);
    CHECK(report.shards_written.empty());
    CHECK(report.quarantined.empty());
  }
  SUBCASE("a corrupt shard is quarantined and rebuilt from the staged episodes") {
    // ...and the shard did not survive intact (power loss under sync: none).
    testing::RotFirstChunk(shard, "data/demo_1/actions");
    const RecoveryReport report = RecoverDataset(dir.path());
    REQUIRE(report.quarantined.size() == 1);
    CHECK(report.quarantined[0].rfind(dir.path() + "/.quarantine/" +
                                          fs::path(shard).filename().string() + ": " + shard, 0) == 0);
    CHECK(report.shards_written == std::vector<std::string>{shard});
    CHECK(report.duplicates_removed == 0);
    CHECK(report.episodes_recovered == 2);
  }
  CHECK(SeedsIn(dir.path()) == std::multiset<uint64_t>{7, 8});
  CHECK_NOTHROW(VerifyPerpetuaFile(shard));
  CHECK_FALSE(fs::exists(dir.path() + "/.staging/" + kToken));
}

TEST_CASE("rl-data quarantine moves shards that do not verify aside") {
  TempDir dir;
  {
    WriterOptions options;
    options.config.episodes_per_shard = 1;
    DatasetWriter writer(dir.path(), options);
    for (uint64_t seed = 20; seed < 23; ++seed) writer.Add(testing::MakeEpisode(seed, SmallShape()));
  }
  const std::vector<std::string> shards = ListShards(dir.path());
  REQUIRE(shards.size() == 3);
  testing::RotFirstChunk(shards[1], "data/demo_0/obs/image");
  CHECK(RunProcess({ToolPath("rl-data"), "inspect", dir.path()}).exit_code == 3);
  const ProcessResult r = RunProcess({ToolPath("rl-data"), "quarantine", dir.path()});
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  const std::string moved = dir.path() + "/.quarantine/" + fs::path(shards[1]).filename().string();
  CHECK(r.out == moved + "\n");
  CHECK(fs::exists(moved + ".why"));
  CHECK(ListShards(dir.path()) == std::vector<std::string>{shards[0], shards[2]});
  CHECK(RunProcess({ToolPath("rl-data"), "inspect", dir.path()}).exit_code == 0);
  // Nothing more to move.
  CHECK(RunProcess({ToolPath("rl-data"), "quarantine", dir.path()}).out == "");
}

// One damaged variant of a dead writer's staging folder.
struct Mutation {
  std::string family;  // "bit flip", "truncation", "structure"
  std::string name;
  std::function<void(const std::vector<std::string>& staged, const std::string& folder)> apply;
};

// The staged-episodes family of the corrupt-input corpus: deterministic
// damage to the middle one of three staged episodes (or to the folder).
std::vector<Mutation> StagedMutations(int64_t file_size) {
  std::vector<Mutation> out;
  constexpr int kFlips = 40, kCuts = 16;
  for (int i = 0; i < kFlips; ++i) {
    const int64_t offset = file_size * i / kFlips + i % 7;
    out.push_back({"bit flip", "8 bytes inverted at " + std::to_string(offset),
                   [offset](const auto& staged, const auto&) {
                     std::string bytes = testing::ReadFile(staged[1]);
                     for (int64_t b = offset; b < offset + 8 && b < int64_t(bytes.size()); ++b) {
                       bytes[size_t(b)] = char(~bytes[size_t(b)]);
                     }
                     testing::WriteFile(staged[1], bytes);
                   }});
  }
  for (int i = 0; i < kCuts; ++i) {
    const int64_t length = file_size * i / kCuts;
    out.push_back({"truncation", "cut to " + std::to_string(length) + " bytes",
                   [length](const auto& staged, const auto&) {
                     REQUIRE(::truncate(staged[1].c_str(), length) == 0);
                   }});
  }
  const auto structure = [&](const std::string& name, auto apply) {
    out.push_back({"structure", name, apply});
  };
  structure("zero-filled", [](const auto& staged, const auto&) {
    testing::WriteFile(staged[1], std::string(testing::ReadFile(staged[1]).size(), '\0'));
  });
  structure("random bytes", [](const auto& staged, const auto&) {
    Rng rng(5);
    std::string bytes = testing::ReadFile(staged[1]);
    for (char& c : bytes) c = char(rng.NextU64());
    testing::WriteFile(staged[1], bytes);
  });
  structure("an HDF5 file without data", [](const auto& staged, const auto&) {
    const hid_t file = H5Fcreate(staged[1].c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(file);
  });
  structure("another schema", [](const auto& staged, const auto&) {
    TempDir scratch;
    DatasetWriter writer(scratch.path(), WriterOptions{});
    writer.Add(testing::MakeEpisode(2));  // 8x8 images, not 16x16
    fs::copy_file(scratch.path() + "/.staging/" + writer.token() + "/" + StagedEpisodeName(0, 0),
                  staged[1], fs::copy_options::overwrite_existing);
  });
  structure("a directory", [](const auto& staged, const auto&) {
    fs::remove(staged[1]);
    fs::create_directory(staged[1]);
    testing::WriteFile(staged[1] + "/x", "x");
  });
  structure("a FIFO", [](const auto& staged, const auto&) {
    fs::remove(staged[1]);
    REQUIRE(::mkfifo(staged[1].c_str(), 0644) == 0);
  });
  structure("a symlink to /dev/zero", [](const auto& staged, const auto&) {
    fs::remove(staged[1]);
    fs::create_symlink("/dev/zero", staged[1]);
  });
  structure("a symlink to a good episode", [](const auto& staged, const auto&) {
    fs::rename(staged[1], staged[1] + ".elsewhere");
    fs::create_symlink(staged[1] + ".elsewhere", staged[1]);
  });
  structure("an unreadable file", [](const auto& staged, const auto&) {
    REQUIRE(::chmod(staged[1].c_str(), 0) == 0);
  });
  structure("an overflowing name", [](const auto& staged, const auto& folder) {
    fs::rename(staged[1], folder + "/s99999999999999999999-e0.h5");
  });
  structure("a foreign file", [](const auto&, const auto& folder) {
    testing::WriteFile(folder + "/notes.txt", "hello");
  });
  structure("a directory named like a temporary file", [](const auto&, const auto& folder) {
    fs::create_directory(folder + "/shard.h5.tmp");
  });
  structure("the lock is a directory", [](const auto&, const auto& folder) {
    fs::remove(folder + "/lock");
    fs::create_directory(folder + "/lock");
  });
  structure("no lock", [](const auto&, const auto& folder) { fs::remove(folder + "/lock"); });
  structure("the staging folder is a file", [](const auto&, const auto& folder) {
    fs::remove_all(folder);
    testing::WriteFile(folder, "x");
  });
  structure("a shard of that name is a directory", [](const auto& staged, const auto& folder) {
    const std::string dir = fs::path(folder).parent_path().parent_path().string();
    fs::create_directory(ShardPath(dir, kToken, 0));
    (void)staged;
  });
  structure("a shard of that name is truncated", [](const auto& staged, const auto& folder) {
    const std::string dir = fs::path(folder).parent_path().parent_path().string();
    fs::copy_file(staged[0], ShardPath(dir, kToken, 0));
    REQUIRE(::truncate(ShardPath(dir, kToken, 0).c_str(), 4000) == 0);
  });
  return out;
}

// `timeout 60 argv...`: a hang shows as exit 124.
ProcessResult RunBounded(std::vector<std::string> argv) {
  argv.insert(argv.begin(), {"timeout", "-s", "KILL", "60"});
  return RunProcess(argv);
}

TEST_CASE("damaged staged episodes never crash hang or block recovery inspection or writers") {
  TempDir probe;
  const int64_t size = static_cast<int64_t>(fs::file_size(MakeDeadWriter(probe.path(), {1, 2, 3})[1]));
  std::map<std::string, int> outcomes;  // "<family>: <outcome>" -> count
  int cases = 0;
  for (const Mutation& mutation : StagedMutations(size)) {
    CAPTURE(mutation.name);
    ++cases;
    TempDir dir;
    const auto staged = MakeDeadWriter(dir.path(), {1, 2, 3});
    mutation.apply(staged, dir.path() + "/.staging/" + kToken);
    // The tools a user runs there: recover, inspect, a new collector (writer), inspect.
    const ProcessResult recover = RunBounded({ToolPath("rl-data"), "recover", dir.path()});
    CHECK_MESSAGE(recover.exit_code == 0, recover.err);
    const ProcessResult inspect = RunBounded({ToolPath("rl-data"), "inspect", dir.path()});
    const ProcessResult writer =
        RunBounded({ToolPath("data_writer_child"), dir.path(), "100", "1", "1"});
    CHECK_MESSAGE(writer.exit_code == 0, writer.err);
    const ProcessResult after = RunBounded({ToolPath("rl-data"), "inspect", dir.path()});
    CHECK_MESSAGE(after.exit_code == 0, after.err);
    for (const ProcessResult* r : {&recover, &inspect, &writer, &after}) {
      CHECK(r->signal == 0);     // no crash, no hang (timeout kills with SIGKILL)
      CHECK(r->exit_code != 1);  // no internal error
    }
    // Inspect before the writer: valid, or (everything quarantined) "no shards".
    CHECK((inspect.exit_code == 0 || inspect.err.find("no shards") != std::string::npos));
    // Every episode that reads back is one of ours or the new writer's, once.
    std::multiset<uint64_t> seeds;
    REQUIRE_NOTHROW(seeds = SeedsIn(dir.path()));
    for (uint64_t seed : {1, 3}) {
      if (mutation.name != "the staging folder is a file" && mutation.name != "the lock is a directory" &&
          mutation.name != "no lock") {
        CHECK(seeds.count(seed) == 1);  // the undamaged episodes are never lost
      }
    }
    for (uint64_t seed : seeds) CHECK(seeds.count(seed) == 1);
    const bool damaged_kept = !testing::ListFiles(dir.path() + "/.quarantine").empty();
    const char* outcome = recover.exit_code != 0 || writer.exit_code != 0 || after.exit_code != 0
                              ? "FAILED"
                          : damaged_kept        ? "quarantined"
                          : seeds.count(2) == 1 ? "recovered intact"
                                                : "left alone";
    ++outcomes[mutation.family + ": " + outcome];
  }
  std::string summary = std::to_string(cases) + " staged-episode mutations:";
  for (const auto& [outcome, count] : outcomes) summary += " " + outcome + " " + std::to_string(count) + ";";
  MESSAGE(summary);
  for (const auto& [outcome, count] : outcomes) CHECK(outcome.find("FAILED") == std::string::npos);
}

}  // namespace
}  // namespace perpetua
