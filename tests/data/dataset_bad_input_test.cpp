// Bad inputs through the real `rl-data inspect` process and the library:
// each gives one clear line naming the file and exit code 3 (bad-data),
// never a crash.
#include <doctest/doctest.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <functional>

#include "common/fs.h"
#include "common/rng.h"
#include "corpus/mutate.h"
#include "data/dataset_reader.h"
#include "data/dataset_sampler.h"
#include "data/dataset_writer.h"
#include "data/shard_format.h"
#include "data/episode_factory.h"
#include "support/test_support.h"

namespace perpetua {
namespace {

using testing::RunProcess;
using testing::TempDir;
using testing::ToolPath;

// Writes a one-shard dataset of `episodes` episodes (16x16 images) into `dir`.
std::string WriteShard(const std::string& dir, int episodes = 2, uint64_t first_seed = 1) {
  WriterOptions options;
  options.config.episodes_per_shard = episodes;
  DatasetWriter writer(dir, options);
  testing::EpisodeShape shape;
  shape.height = 16;
  shape.width = 16;
  std::string shard;
  for (int i = 0; i < episodes; ++i) shard = writer.Add(testing::MakeEpisode(first_seed + i, shape));
  writer.Close();
  return shard;
}

// Edits an HDF5 file in place with the C API.
void EditFile(const std::string& path, const std::function<void(hid_t)>& edit) {
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  REQUIRE(file >= 0);
  edit(file);
  REQUIRE(H5Fclose(file) >= 0);
}

void FlipBytes(const std::string& path, int64_t offset, int count) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  REQUIRE(f.good());
  for (int i = 0; i < count; ++i) {
    f.seekg(offset + i);
    char c = 0;
    f.read(&c, 1);
    f.seekp(offset + i);
    c = static_cast<char>(c ^ 0x5a);
    f.write(&c, 1);
  }
}

// Runs rl-data inspect and checks: exit 3, last stderr line is one error line naming `name`.
void ExpectInvalid(const std::vector<std::string>& paths, const std::string& name,
                   const std::string& fragment) {
  std::vector<std::string> argv{ToolPath("rl-data"), "inspect"};
  argv.insert(argv.end(), paths.begin(), paths.end());
  const auto result = RunProcess(argv);
  CAPTURE(result.err);
  CHECK(result.signal == 0);
  CHECK(result.exit_code == 3);
  std::string err = result.err;
  while (!err.empty() && err.back() == '\n') err.pop_back();
  const std::string last = err.substr(err.rfind('\n') == std::string::npos ? 0 : err.rfind('\n') + 1);
  CHECK(last.rfind("rl-data: error: ", 0) == 0);
  CHECK(last.find(name) != std::string::npos);
  CHECK(last.find(fragment) != std::string::npos);
  const auto json = nlohmann::json::parse(result.out);
  CHECK(json["valid"] == false);
}

TEST_CASE("inspect accepts a valid dataset and prints a JSON summary") {
  TempDir dir;
  WriteShard(dir.path(), 3);
  const auto result = RunProcess({ToolPath("rl-data"), "inspect", dir.path()});
  CHECK(result.exit_code == 0);
  const auto json = nlohmann::json::parse(result.out);
  CHECK(json["valid"] == true);
  CHECK(json["episodes"] == 3);
  CHECK(json["transitions"] == 15);
  CHECK(json["successes"] == 1);  // seed 3
  CHECK(json["schema"] == "image uint8 [16, 16, 3], proprio float32 [3]; actions [2]");
  CHECK(json["keys"]["observations"]["image"]["dtype"] == "uint8");
  CHECK(json["keys"]["observations"]["image"]["shape"] == nlohmann::json::array({16, 16, 3}));
  CHECK(json["keys"]["action_dim"] == 2);
  CHECK(json["files"][0]["format"] == "perpetua");
  CHECK(json["files"][0]["provenance"]["writer_token"].is_string());
  CHECK(result.err.find("valid") != std::string::npos);
  const auto quick = RunProcess({ToolPath("rl-data"), "inspect", "--quick", dir.path()});
  CHECK(quick.exit_code == 0);
  CHECK(nlohmann::json::parse(quick.out)["successes"] == 1);
}

TEST_CASE("truncated file") {
  TempDir dir;
  const std::string shard = WriteShard(dir.path());
  REQUIRE(::truncate(shard.c_str(), static_cast<off_t>(testing::ReadFile(shard).size() / 2)) == 0);
  ExpectInvalid({dir.path()}, shard, "");
  try {
    DatasetReader reader({dir.path()});
    for (size_t i = 0; i < reader.num_episodes(); ++i) reader.ReadEpisode(i);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::kBadData);
    CHECK(std::string(e.what()).find(shard) == 0);
  }
}

TEST_CASE("flipped bytes in an image chunk fail the checksum") {
  TempDir dir;
  const std::string shard = WriteShard(dir.path());
  haddr_t address = 0;
  hsize_t size = 0;
  EditFile(shard, [&](hid_t file) {
    const hid_t dataset = H5Dopen2(file, "data/demo_1/obs/image", H5P_DEFAULT);
    const hsize_t frame[4] = {2, 0, 0, 0};
    unsigned mask = 0;
    REQUIRE(H5Dget_chunk_info_by_coord(dataset, frame, &mask, &address, &size) >= 0);
    H5Dclose(dataset);
  });
  REQUIRE(size > 8);
  FlipBytes(shard, static_cast<int64_t>(address + size / 2), 4);
  ExpectInvalid({dir.path()}, shard, "data/demo_1/obs/image");
}

TEST_CASE("flipped bytes anywhere never crash the inspector") {
  TempDir dir;
  const std::string shard = WriteShard(dir.path(), 1);
  const std::string pristine = testing::ReadFile(shard);
  Rng rng(7);
  int invalid = 0;
  for (int trial = 0; trial < 30; ++trial) {
    testing::WriteFile(shard, pristine);
    const int64_t offset = static_cast<int64_t>(rng.UniformInt(pristine.size() - 8));
    FlipBytes(shard, offset, 8);
    CAPTURE(offset);
    const auto result = RunProcess({ToolPath("rl-data"), "inspect", shard});
    CHECK(result.signal == 0);
    CHECK((result.exit_code == 0 || result.exit_code == 3));
    if (result.exit_code == 3) {
      ++invalid;
      CHECK(result.err.find("rl-data: error: " + shard) != std::string::npos);
    }
  }
  CHECK(invalid > 10);  // most of a shard is checksummed data or metadata
}

TEST_CASE("wrong dtype or shape") {
  TempDir dir;
  const std::string shard = WriteShard(dir.path());
  SUBCASE("actions stored as strings") {
    EditFile(shard, [](hid_t file) {
      REQUIRE(H5Ldelete(file, "data/demo_0/actions", H5P_DEFAULT) >= 0);
      const hid_t type = H5Tcopy(H5T_C_S1);
      H5Tset_size(type, 4);
      const hsize_t dims[2] = {5, 2};
      const hid_t space = H5Screate_simple(2, dims, nullptr);
      H5Dclose(H5Dcreate2(file, "data/demo_0/actions", type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
      H5Sclose(space);
      H5Tclose(type);
    });
    ExpectInvalid({dir.path()}, shard, "data/demo_0/actions");
  }
  SUBCASE("rewards with the wrong number of rows") {
    EditFile(shard, [](hid_t file) {
      REQUIRE(H5Ldelete(file, "data/demo_1/rewards", H5P_DEFAULT) >= 0);
      const float values[3] = {0, 0, 0};
      const hsize_t dims[1] = {3};
      const hid_t space = H5Screate_simple(1, dims, nullptr);
      const hid_t d = H5Dcreate2(file, "data/demo_1/rewards", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values);
      H5Dclose(d);
      H5Sclose(space);
    });
    ExpectInvalid({dir.path()}, shard, "data/demo_1/rewards: has 3 rows, expected 5");
  }
  SUBCASE("one episode with other image shapes") {
    EditFile(shard, [](hid_t file) {
      REQUIRE(H5Ldelete(file, "data/demo_1/obs/image", H5P_DEFAULT) >= 0);
      std::vector<uint8_t> pixels(5 * 8 * 8 * 3, 7);
      const hsize_t dims[4] = {5, 8, 8, 3};
      const hid_t space = H5Screate_simple(4, dims, nullptr);
      const hid_t d = H5Dcreate2(file, "data/demo_1/obs/image", H5T_STD_U8LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, pixels.data());
      H5Dclose(d);
      H5Sclose(space);
    });
    ExpectInvalid({dir.path()}, shard, "data/demo_1/final_obs/image: is uint8 [16, 16, 3] per step, expected uint8 [8, 8, 3]");
  }
  SUBCASE("one episode with float images") {
    EditFile(shard, [](hid_t file) {
      for (const char* path : {"data/demo_1/obs/image", "data/demo_1/final_obs/image"}) {
        REQUIRE(H5Ldelete(file, path, H5P_DEFAULT) >= 0);
        const hsize_t rows = std::string(path).find("final") == std::string::npos ? 5 : 1;
        std::vector<float> pixels(rows * 16 * 16 * 3, 0.5f);
        const hsize_t dims[4] = {rows, 16, 16, 3};
        const hid_t space = H5Screate_simple(4, dims, nullptr);
        const hid_t d = H5Dcreate2(file, path, H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, pixels.data());
        H5Dclose(d);
        H5Sclose(space);
      }
    });
    ExpectInvalid({dir.path()}, shard, "data/demo_1: observation 'image' is float32 [16, 16, 3], expected uint8 [16, 16, 3] (as in data/demo_0)");
  }
  SUBCASE("a second dataset with other image shapes") {
    TempDir other;
    DatasetWriter writer(other.path(), WriterOptions{});
    writer.Add(testing::MakeEpisode(1));  // 8x8 images
    writer.Close();
    ExpectInvalid({dir.path(), other.path()}, other.path(), "differs");
    try {
      DatasetReader reader({dir.path(), other.path()});
      FAIL("expected an error");
    } catch (const Error& e) {
      CHECK(e.code() == ExitCode::kBadData);
      CHECK(std::string(e.what()).find("observation 'image' is uint8 [8, 8, 3], expected uint8 [16, 16, 3]") != std::string::npos);
    }
  }
}

TEST_CASE("a mask naming a missing demo") {
  TempDir dir;
  const std::string shard = WriteShard(dir.path());
  EditFile(shard, [](hid_t file) {
    REQUIRE(H5Ldelete(file, "mask/train", H5P_DEFAULT) >= 0);
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, 7);
    const hsize_t dims[1] = {1};
    const hid_t space = H5Screate_simple(1, dims, nullptr);
    const hid_t d = H5Dcreate2(file, "mask/train", type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, "demo_99") >= 0);
    H5Dclose(d);
    H5Sclose(space);
    H5Tclose(type);
  });
  ExpectInvalid({dir.path()}, shard, "mask/train: lists demo_99, which is not in data/");
}

TEST_CASE("NaN actions or rewards stored in a file") {
  TempDir dir;
  const std::string shard = WriteShard(dir.path());
  SUBCASE("action") {
    EditFile(shard, [](hid_t file) {
      const hid_t d = H5Dopen2(file, "data/demo_1/actions", H5P_DEFAULT);
      std::vector<float> values(10, 0.5f);
      values[7] = std::nanf("");
      REQUIRE(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) >= 0);
      H5Dclose(d);
    });
    ExpectInvalid({dir.path()}, shard, "data/demo_1/actions: action of step 3 is not finite");
    CHECK_THROWS_WITH_AS(DatasetSampler({dir.path()}, DatasetSamplerConfig{}),
                         doctest::Contains("action of step 3 is not finite"), Error);
  }
  SUBCASE("reward") {
    EditFile(shard, [](hid_t file) {
      const hid_t d = H5Dopen2(file, "data/demo_0/rewards", H5P_DEFAULT);
      const float values[5] = {0, 0, INFINITY, 0, 0};
      REQUIRE(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) >= 0);
      H5Dclose(d);
    });
    ExpectInvalid({dir.path()}, shard, "data/demo_0/rewards: reward of step 2 is not finite");
  }
  SUBCASE("observation") {
    EditFile(shard, [](hid_t file) {
      const hid_t d = H5Dopen2(file, "data/demo_0/final_obs/proprio", H5P_DEFAULT);
      const float values[3] = {0, std::nanf(""), 0};
      REQUIRE(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) >= 0);
      H5Dclose(d);
    });
    ExpectInvalid({dir.path()}, shard, "data/demo_0/final_obs/proprio: observation has a non-finite value");
    DatasetSampler sampler({dir.path()}, DatasetSamplerConfig{});
    Rng rng(1);
    CHECK_THROWS_WITH_AS(for (int i = 0; i < 20; ++i) sampler.Sample(64, rng),
                         doctest::Contains("non-finite"), Error);
  }
}

TEST_CASE("missing group") {
  TempDir dir;
  const std::string shard = WriteShard(dir.path());
  EditFile(shard, [](hid_t file) { REQUIRE(H5Ldelete(file, "data/demo_0/obs", H5P_DEFAULT) >= 0); });
  ExpectInvalid({dir.path()}, shard, "data/demo_0/obs: missing group");
  TempDir no_data;
  const std::string bare = no_data / "bare.h5";
  H5Fclose(H5Fcreate(bare.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  ExpectInvalid({bare}, bare, "unrecognised layout");
}

TEST_CASE("a non-HDF5 file and an empty directory") {
  TempDir dir;
  testing::WriteFile(dir / "shard-notes.h5", "these are not the bytes you are looking for\n");
  ExpectInvalid({dir.path()}, dir / "shard-notes.h5", "not an HDF5 file");
  TempDir empty;
  ExpectInvalid({empty.path()}, empty.path(), "no shards");
  // A path that is not there is a usage error (2), as in rl-train and rl-eval.
  const auto missing = RunProcess({ToolPath("rl-data"), "inspect", empty / "missing"});
  CHECK(missing.exit_code == 2);
  CHECK(missing.err == "rl-data: error: " + empty / "missing" + ": no such file or directory\n");
}

TEST_CASE("a directory without read permission") {
  TempDir dir;
  const std::string locked = dir / "locked";
  WriteShard(locked);
  REQUIRE(::chmod(dir.path().c_str(), 0755) == 0);
  REQUIRE(::chmod(locked.c_str(), 0000) == 0);
  std::vector<std::string> argv{ToolPath("rl-data"), "inspect", locked};
  if (::geteuid() == 0) {
    // root reads anything: run the inspector as user nobody instead.
    argv.insert(argv.begin(), {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"});
  }
  const auto result = RunProcess(argv);
  ::chmod(locked.c_str(), 0755);
  CAPTURE(result.err);
  CHECK(result.exit_code == 3);
  // "cannot list directory" (or "cannot access" where $TMPDIR's parents are closed to nobody).
  CHECK(result.err.find("rl-data: error: " + locked + ": ") != std::string::npos);
  CHECK(result.err.find(": Permission denied") != std::string::npos);
  // A directory whose parent cannot be searched says so too.
  if (::geteuid() == 0) {
    REQUIRE(::chmod(dir.path().c_str(), 0700) == 0);
    const auto hidden = RunProcess(argv);
    CHECK(hidden.exit_code == 3);
    CHECK(hidden.err.find("rl-data: error: " + locked + ": cannot access: Permission denied") != std::string::npos);
  }
}

TEST_CASE("samplers refuse data whose keys or shapes differ from what the learner expects") {
  TempDir dir;
  WriteShard(dir.path());
  Schema expected;
  expected.observations["image"] = KeySpec{DType::kUint8, {64, 64, 3}};
  expected.observations["proprio"] = KeySpec{DType::kFloat32, {3}};
  expected.action_dim = 2;
  try {
    DatasetSampler sampler({dir.path()}, DatasetSamplerConfig{}, expected);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::kBadData);
    CHECK(std::string(e.what()).find("observation 'image' is uint8 [16, 16, 3], expected uint8 [64, 64, 3]") != std::string::npos);
  }
  expected.observations["image"].shape = {16, 16, 3};
  expected.action_dim = 4;
  CHECK_THROWS_WITH_AS(DatasetSampler({dir.path()}, DatasetSamplerConfig{}, expected),
                       doctest::Contains("actions have 2 dims, expected 4"), Error);
}

TEST_CASE("rl-data usage errors") {
  CHECK(RunProcess({ToolPath("rl-data"), "inspect"}).exit_code == 2);  // nothing given
  const auto bad_flag = RunProcess({ToolPath("rl-data"), "inspect", "--quik", "x"});
  CHECK(bad_flag.exit_code == 2);
  CHECK(bad_flag.err.find("quick") != std::string::npos);
  const auto no_dir = RunProcess({ToolPath("rl-data"), "recover"});
  CHECK(no_dir.exit_code == 2);
}

TEST_CASE("a FIFO named like a shard and links out of the file are refused without blocking") {
  TempDir dir;
  const std::string shard = WriteShard(dir.path());
  const std::string fifo = dir / "shard-zz.h5";  // no writer: opening it for reading would block
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  ExpectInvalid({dir.path()}, fifo, "not a regular file");
  ExpectInvalid({fifo}, fifo, "not a regular file");
  // The sampler (rl-train) opens the FIFO through the one opener.
  const std::string refused = fifo + ": not a regular file (a FIFO)";
  CHECK_THROWS_WITH_AS(DatasetSampler({dir.path()}, DatasetSamplerConfig{}), doctest::Contains(refused.c_str()), Error);
  ::unlink(fifo.c_str());
  TempDir other;
  const std::string target = other / "target.fifo";
  REQUIRE(::mkfifo(target.c_str(), 0644) == 0);
  corpus::EditHdf5(shard, [&](hid_t f) {
    H5Lcreate_external(target.c_str(), "/data", f, "data/demo_0/obs/zz", H5P_DEFAULT, H5P_DEFAULT);
  });
  ExpectInvalid({dir.path()}, shard, "data/demo_0/obs/zz: is an external link");
  // One rule: an external link to any file, readable or not, is refused.
  const std::string plain = WriteShard(other.path());
  corpus::EditHdf5(shard, [&](hid_t f) {
    corpus::DeleteLink(f, "data/demo_0/obs/zz");
    corpus::DeleteLink(f, "data/demo_0/actions");
    H5Lcreate_external(plain.c_str(), "/data/demo_0/actions", f, "data/demo_0/actions", H5P_DEFAULT, H5P_DEFAULT);
  });
  ExpectInvalid({dir.path()}, shard, "data/demo_0/actions: is an external link");
  CHECK_THROWS_WITH_AS(DatasetReader({dir.path()}), doctest::Contains("is an external link"), Error);
}

TEST_CASE("raw data stored in another file is refused") {
  TempDir dir;
  const std::string shard = WriteShard(dir.path());
  corpus::EditHdf5(shard, [](hid_t f) {
    corpus::DeleteLink(f, "data/demo_0/rewards");
    const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_external(dcpl, "/dev/zero", 0, 5 * sizeof(float));
    const hsize_t n = 5;
    const hid_t space = H5Screate_simple(1, &n, nullptr);
    H5Dclose(H5Dcreate2(f, "data/demo_0/rewards", H5T_NATIVE_FLOAT, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
    H5Sclose(space);
    H5Pclose(dcpl);
  });
  ExpectInvalid({dir.path()}, shard, "data/demo_0/rewards: stores its data in external files");
}

TEST_CASE("an episode claiming 2^31 steps is refused before anything is allocated") {
  TempDir dir;
  const std::string shard = WriteShard(dir.path());
  corpus::EditHdf5(shard, [](hid_t f) { corpus::ClaimSteps(f, "data/demo_0", int64_t{1} << 31); });
  ExpectInvalid({dir.path()}, shard, "has shape [2147483648");
  CHECK_THROWS_WITH_AS(DatasetReader({shard}), doctest::Contains("but the file holds only"), Error);
}

TEST_CASE("an episode number beyond 64 bits and a fractional schema version are refused") {
  TempDir dir;
  const std::string shard = WriteShard(dir.path());
  const std::string pristine = testing::ReadFile(shard);
  corpus::EditHdf5(shard, [](hid_t f) {
    H5Lmove(f, "data/demo_0", f, "data/demo_99999999999999999999", H5P_DEFAULT, H5P_DEFAULT);
  });
  ExpectInvalid({dir.path()}, shard, "data: demo_99999999999999999999: episode number out of range");
  testing::WriteFile(shard, pristine);
  corpus::EditHdf5(shard, [](hid_t f) { corpus::PutAttrDouble(f, "/", "perpetua_schema_version", 1.5); });
  ExpectInvalid({dir.path()}, shard, "attribute 'perpetua_schema_version' is 1.500000, not an integer");
  corpus::EditHdf5(shard, [](hid_t f) { corpus::PutAttrDouble(f, "/", "perpetua_schema_version", 1.0); });
  CHECK(RunProcess({ToolPath("rl-data"), "inspect", dir.path()}).exit_code == 0);  // a whole number is fine
}

TEST_CASE("provenance nested 50000 levels deep is shown as text without a crash") {
  TempDir dir;
  const std::string shard = WriteShard(dir.path());
  corpus::EditHdf5(shard, [](hid_t f) { corpus::PutAttrString(f, "/", kProvenanceAttr, corpus::DeepJson(50000)); });
  const auto result = RunProcess({ToolPath("rl-data"), "inspect", dir.path()});
  CAPTURE(result.err);
  CHECK(result.signal == 0);
  CHECK(result.exit_code == 0);
  const auto json = nlohmann::json::parse(result.out);
  CHECK(json["files"][0]["provenance"] == corpus::DeepJson(50000));
}

TEST_CASE("provenance fields of unexpected types are shown, not fatal") {
  TempDir dir;
  const std::string shard = WriteShard(dir.path());
  corpus::EditHdf5(shard, [](hid_t f) {
    corpus::PutAttrString(f, "/", kProvenanceAttr, R"({"writer_token": 7, "host": 42})");
  });
  const auto result = RunProcess({ToolPath("rl-data"), "inspect", dir.path()});
  CAPTURE(result.err);
  CHECK(result.signal == 0);
  CHECK(result.exit_code == 0);  // was exit 1: "type must be string, but is number"
  const auto json = nlohmann::json::parse(result.out);
  CHECK(json["files"][0]["provenance"]["host"] == 42);
}

}  // namespace
}  // namespace perpetua
