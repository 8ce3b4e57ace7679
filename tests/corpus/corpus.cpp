#include "corpus/corpus.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <tuple>

#include <nlohmann/json.hpp>

#include "common/rng.h"
#include "corpus/mutate.h"
#include "nn/checkpoint.h"

namespace perpetua::corpus {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void Broken(const std::string& what) { throw std::runtime_error("corpus: " + what); }

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void Write(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  if (!out) Broken("cannot write " + path);
}

// Runs a tool to make a seed; its stdout goes to `out_path` when given.
void RunTool(const std::vector<std::string>& argv, const std::string& out_path = "") {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    if (!out_path.empty()) {
      const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(out, 1);
    } else {
      ::dup2(null, 1);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string line;
    for (const auto& a : argv) line += a + " ";
    Broken("seed command failed: " + line);
  }
}

// The settings every command shares: a small, fast cell and network.
const std::vector<std::string> kCell = {"--env", "grasp", "--cell.image-size", "16", "--cell.max-episode-steps", "3"};
const std::vector<std::string> kTrain = {"--network.encoder-channels", "8,8", "--network.head-channels", "8",
                                         "--network.hidden", "8", "--target-workers.count", "0", "--batch-size", "4",
                                         "--min-transitions", "1", "--threads", "1", "--seed", "1"};

std::vector<std::string> Cat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Collects cases; keeps every stride-th input (the same ones in every run).
class Builder {
 public:
  Builder(std::string family, std::string dir, const Options& options)
      : family_(std::move(family)), dir_(std::move(dir)), stride_(std::max(1, options.stride)) {}
  // A fresh directory for input `name`, or "" if the stride skips it.
  std::string Begin(const std::string& name) {
    if (index_++ % stride_ != 0) return "";
    const std::string dir = dir_ + "/" + std::to_string(index_);
    fs::create_directories(dir);
    current_ = Case{family_, name, {}};
    return dir;
  }
  void Add(const std::string& label, std::vector<std::string> argv, std::string stdin_text = "") {
    current_.commands.push_back(Command{label, std::move(argv), std::move(stdin_text)});
  }
  void End() { cases_.push_back(std::move(current_)); }
  std::vector<Case> Take() { return std::move(cases_); }

 private:
  std::string family_, dir_;
  int stride_;
  int index_ = 0;
  Case current_;
  std::vector<Case> cases_;
};

// ---------------------------------------------------------------- shards

// The commands that read a dataset directory `dir` holding shard `shard`.
void AddShardReaders(Builder& b, const Seeds& s, const std::string& dir, const std::string& data,
                     const std::string& shard) {
  const std::string bin = s.bin_dir + "/";
  b.Add("rl-data inspect", {bin + "rl-data", "inspect", data});
  b.Add("rl-data recover", {bin + "rl-data", "recover", data});
  b.Add("rl-train q --data", Cat({bin + "rl-train", "q", "--data", data, "--out", dir + "/train", "--steps", "1"}, kTrain));
  b.Add("rl-train q --online -", Cat({bin + "rl-train", "q", "--online", "-", "--out", dir + "/online", "--steps", "1"}, kTrain),
        shard + "\n");
}

using Hdf5Edit = std::function<void(hid_t)>;

std::vector<std::pair<std::string, Hdf5Edit>> ShardEdits(const Seeds& s, const std::string& dir) {
  std::vector<std::pair<std::string, Hdf5Edit>> edits;
  const auto add = [&](const std::string& name, Hdf5Edit edit) { edits.emplace_back(name, std::move(edit)); };
  const std::string demo = "data/demo_0";
  std::vector<std::string> datasets;
  {
    const hid_t file = H5Fopen(s.shard.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) Broken("cannot open the seed shard " + s.shard);
    datasets = ListDatasets(file, demo);
    H5Fclose(file);
  }
  // Missing parts.
  for (const std::string& path : {std::string("data"), demo, demo + "/obs", demo + "/final_obs", std::string("mask"),
                                  std::string("mask/train"), std::string("data/demo_1")}) {
    add("missing " + path, [path](hid_t f) { DeleteLink(f, path); });
  }
  for (const std::string& path : datasets) add("missing " + path, [path](hid_t f) { DeleteLink(f, path); });
  // Extra parts.
  add("extra empty demo group", [](hid_t f) { H5Gclose(H5Gcreate2(f, "data/demo_9", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)); });
  add("extra observation of other rows", [demo](hid_t f) {
    const float v[7] = {0};
    PutDataset(f, demo + "/obs/extra", H5T_NATIVE_FLOAT, {7}, v);
  });
  add("extra group among observations", [demo](hid_t f) { H5Gclose(H5Gcreate2(f, (demo + "/obs/sub").c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)); });
  add("a dataset named like a demo", [](hid_t f) { const float v[3] = {0}; PutDataset(f, "data/demo_5", H5T_NATIVE_FLOAT, {3}, v); });
  add("demo_<20 digits>", [demo](hid_t f) { H5Lmove(f, demo.c_str(), f, "data/demo_99999999999999999999", H5P_DEFAULT, H5P_DEFAULT); });
  add("demo_<18 digits>", [demo](hid_t f) { H5Lmove(f, demo.c_str(), f, "data/demo_999999999999999999", H5P_DEFAULT, H5P_DEFAULT); });
  // Attributes: each one missing, of the wrong type, or out of range.
  const std::vector<std::pair<std::string, std::string>> attrs = {
      {"/", "perpetua_schema_version"}, {"/", "perpetua_provenance"}, {"/", "perpetua_tool_config"},
      {"data", "total"}, {"data", "env_args"}, {"data", "perpetua_env_spec"},
      {demo, "num_samples"}, {demo, "success"}, {demo, "seed"}, {demo, "object_ids"},
      {demo, "policy_id"}, {demo, "extra_json"}, {demo, "start_time_unix"}};
  for (const auto& [object, name] : attrs) {
    const std::string at = object + "@" + name;
    add("attr " + at + " missing", [object = object, name = name](hid_t f) { DeleteAttr(f, object, name); });
    add("attr " + at + " = \"x\"", [object = object, name = name](hid_t f) { PutAttrString(f, object, name, "x"); });
    add("attr " + at + " = 1.5", [object = object, name = name](hid_t f) { PutAttrDouble(f, object, name, 1.5); });
    add("attr " + at + " = 2^62", [object = object, name = name](hid_t f) { PutAttrInt(f, object, name, int64_t{1} << 62); });
    add("attr " + at + " = [1, 2]", [object = object, name = name](hid_t f) { PutAttrIntArray(f, object, name, {1, 2}); });
  }
  add("schema version 1.0", [](hid_t f) { PutAttrDouble(f, "/", "perpetua_schema_version", 1.0); });
  add("schema version NaN", [](hid_t f) { PutAttrDouble(f, "/", "perpetua_schema_version", std::nan("")); });
  // JSON attributes: deep, wrongly typed, not JSON.
  for (const auto& [object, name] : std::vector<std::pair<std::string, std::string>>{
           {"/", "perpetua_provenance"}, {"data", "env_args"}, {"data", "perpetua_env_spec"}, {demo, "extra_json"}}) {
    const std::string at = object + "@" + name;
    for (const int depth : {100, 50000}) {
      add("attr " + at + " JSON depth " + std::to_string(depth),
          [object = object, name = name, depth](hid_t f) { PutAttrString(f, object, name, DeepJson(depth)); });
    }
    add("attr " + at + " JSON of wrong types", [object = object, name = name](hid_t f) {
      PutAttrString(f, object, name, R"({"action": {"low": "x", "high": [1, "y"]}, "writer_token": [], "host": 7})");
    });
    add("attr " + at + " not JSON", [object = object, name = name](hid_t f) { PutAttrString(f, object, name, "{\"a\": [1,"); });
  }
  // Dtypes and shapes.
  add("actions as strings", [demo](hid_t f) {
    const hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, 4);
    const std::string v(5 * 4, 'a');
    PutDataset(f, demo + "/actions", t, {5}, v.data());
    H5Tclose(t);
  });
  for (const auto& [name, type] : std::vector<std::pair<std::string, hid_t>>{
           {"int8", H5T_NATIVE_SCHAR}, {"double", H5T_NATIVE_DOUBLE}}) {
    for (const std::string& path : datasets) {
      add(path + " as " + name, [path, type = type](hid_t f) {
        std::vector<hsize_t> dims;
        {
          const hid_t d = H5Dopen2(f, path.c_str(), H5P_DEFAULT);
          const hid_t sp = H5Dget_space(d);
          dims.resize(static_cast<size_t>(H5Sget_simple_extent_ndims(sp)));
          H5Sget_simple_extent_dims(sp, dims.data(), nullptr);
          H5Sclose(sp);
          H5Dclose(d);
        }
        hsize_t n = 1;
        for (hsize_t d : dims) n *= d;
        const std::vector<uint64_t> zeros(n, 0);
        PutDataset(f, path, type, dims, zeros.data());
      });
    }
  }
  const auto reshape = [&](const std::string& name, const std::string& path, std::vector<hsize_t> dims) {
    add(name, [path, dims](hid_t f) {
      hsize_t n = 1;
      for (hsize_t d : dims) n *= d;
      const std::vector<float> zeros(n, 0.0f);
      PutDataset(f, path, H5T_NATIVE_FLOAT, dims, zeros.data());
    });
  };
  reshape("actions [N]", demo + "/actions", {3});
  reshape("actions [N, A, 1]", demo + "/actions", {3, 2, 1});
  reshape("actions [N-1, A]", demo + "/actions", {2, 2});
  reshape("actions [0, A]", demo + "/actions", {0, 2});
  reshape("rewards [N, 2]", demo + "/rewards", {3, 2});
  reshape("rewards [N+1]", demo + "/rewards", {4});
  reshape("image [N, 16, 16]", demo + "/obs/image", {3, 16, 16});
  reshape("image [N, 16, 16, 4] float", demo + "/obs/image", {3, 16, 16, 4});
  reshape("final image [2, 16, 16, 3] float", demo + "/final_obs/image", {2, 16, 16, 3});
  add("actions scalar", [demo](hid_t f) {
    DeleteLink(f, demo + "/actions");
    const hid_t sp = H5Screate(H5S_SCALAR);
    H5Dclose(H5Dcreate2(f, (demo + "/actions").c_str(), H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Sclose(sp);
  });
  // Sizes: counts far beyond the file.
  for (const int64_t steps : {int64_t{1} << 31, int64_t{1} << 40, int64_t{1} << 60}) {
    add("claims " + std::to_string(steps) + " steps", [demo, steps](hid_t f) { ClaimSteps(f, demo, steps); });
  }
  add("actions claim 2^31 rows", [demo](hid_t f) { PutDataset(f, demo + "/actions", H5T_NATIVE_FLOAT, {hsize_t{1} << 31, 2}, nullptr, true); });
  add("num_samples 2^31", [demo](hid_t f) { PutAttrInt(f, demo, "num_samples", int64_t{1} << 31); });
  add("total 2^62", [](hid_t f) { PutAttrInt(f, "data", "total", int64_t{1} << 62); });
  add("object_ids claim 2^40", [demo](hid_t f) {
    DeleteAttr(f, demo, "object_ids");
    const hsize_t n = hsize_t{1} << 40;
    const hid_t sp = H5Screate_simple(1, &n, nullptr);
    const hid_t g = H5Oopen(f, demo.c_str(), H5P_DEFAULT);
    const hid_t a = H5Acreate2(g, "object_ids", H5T_NATIVE_INT64, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) H5Aclose(a);
    H5Oclose(g);
    H5Sclose(sp);
  });
  // Non-finite values.
  for (const std::string& path : datasets) {
    if (path.find("/obs/image") != std::string::npos || path.find("/final_obs/image") != std::string::npos) continue;
    add(path + " NaN", [path](hid_t f) { PoisonFloat(f, path, std::nanf("")); });
    add(path + " Inf", [path](hid_t f) { PoisonFloat(f, path, std::numeric_limits<float>::infinity()); });
  }
  // Links.
  const std::string fifo = dir + "/link-target.fifo";
  ::mkfifo(fifo.c_str(), 0644);
  for (const auto& [name, target] : std::vector<std::pair<std::string, std::string>>{
           {"FIFO", fifo}, {"/dev/zero", "/dev/zero"}, {"a missing file", dir + "/missing.h5"}, {"a valid shard", s.shard}}) {
    add("external link to " + name + " as an observation", [demo, target = target](hid_t f) {
      H5Lcreate_external(target.c_str(), "/data", f, (demo + "/obs/zz").c_str(), H5P_DEFAULT, H5P_DEFAULT);
    });
    add("external link to " + name + " as actions", [demo, target = target](hid_t f) {
      DeleteLink(f, demo + "/actions");
      H5Lcreate_external(target.c_str(), "/data/demo_0/actions", f, (demo + "/actions").c_str(), H5P_DEFAULT, H5P_DEFAULT);
    });
    add("external link to " + name + " as the data group", [target = target](hid_t f) {
      H5Lmove(f, "data", f, "old", H5P_DEFAULT, H5P_DEFAULT);
      H5Lcreate_external(target.c_str(), "/data", f, "data", H5P_DEFAULT, H5P_DEFAULT);
    });
    add("raw data stored in " + name, [demo, target = target](hid_t f) {
      DeleteLink(f, demo + "/rewards");
      const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
      H5Pset_external(dcpl, target.c_str(), 0, 3 * sizeof(float));
      const hsize_t n = 3;
      const hid_t sp = H5Screate_simple(1, &n, nullptr);
      H5Dclose(H5Dcreate2(f, (demo + "/rewards").c_str(), H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT));
      H5Sclose(sp);
      H5Pclose(dcpl);
    });
  }
  add("soft link loop as an observation", [demo](hid_t f) { H5Lcreate_soft((demo + "/obs/zz").c_str(), f, (demo + "/obs/zz").c_str(), H5P_DEFAULT, H5P_DEFAULT); });
  add("dangling soft link as actions", [demo](hid_t f) {
    DeleteLink(f, demo + "/actions");
    H5Lcreate_soft("/nowhere", f, (demo + "/actions").c_str(), H5P_DEFAULT, H5P_DEFAULT);
  });
  add("soft link to another demo's actions", [demo](hid_t f) {
    DeleteLink(f, demo + "/actions");
    H5Lcreate_soft("/data/demo_1/actions", f, (demo + "/actions").c_str(), H5P_DEFAULT, H5P_DEFAULT);
  });
  add("hard link cycle among observations", [demo](hid_t f) { H5Lcreate_hard(f, "/", f, (demo + "/obs/zz").c_str(), H5P_DEFAULT, H5P_DEFAULT); });
  add("hard link: two demos share one group", [](hid_t f) { H5Lcreate_hard(f, "data/demo_0", f, "data/demo_7", H5P_DEFAULT, H5P_DEFAULT); });
  add("mask lists a missing demo", [](hid_t f) {
    const hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, 8);
    const char v[8] = {'d', 'e', 'm', 'o', '_', '4', '2', 0};
    PutDataset(f, "mask/train", t, {1}, v);
    H5Tclose(t);
  });
  add("mask of numbers", [](hid_t f) { const float v[2] = {1, 2}; PutDataset(f, "mask/train", H5T_NATIVE_FLOAT, {2}, v); });
  return edits;
}

std::vector<Case> BuildShards(const Seeds& s, const std::string& dir, const Options& options) {
  Builder b("shard", dir, options);
  const std::string pristine = Read(s.shard);
  const auto begin = [&](const std::string& name, std::string* data, std::string* shard) {
    const std::string case_dir = b.Begin(name);
    if (case_dir.empty()) return case_dir;
    *data = case_dir + "/data";
    *shard = *data + "/" + fs::path(s.shard).filename().string();
    Write(*shard, pristine);
    return case_dir;
  };
  Rng rng(options.seed);
  std::string data, shard;
  for (int i = 0; i < 40; ++i) {  // flipped bytes: 1..16 at a random offset
    const uint64_t offset = rng.UniformInt(pristine.size());
    const int count = 1 + static_cast<int>(rng.UniformInt(16));
    const std::string case_dir = begin("bytes flipped at " + std::to_string(offset) + " x" + std::to_string(count), &data, &shard);
    if (case_dir.empty()) continue;
    FlipBytes(shard, offset, count);
    AddShardReaders(b, s, case_dir, data, shard);
    b.End();
  }
  for (int i = 0; i < 30; ++i) {  // truncated anywhere
    const uint64_t size = rng.UniformInt(pristine.size());
    const std::string case_dir = begin("truncated to " + std::to_string(size), &data, &shard);
    if (case_dir.empty()) continue;
    TruncateFile(shard, size);
    AddShardReaders(b, s, case_dir, data, shard);
    b.End();
  }
  for (const auto& [name, edit] : ShardEdits(s, dir)) {
    const std::string case_dir = begin(name, &data, &shard);
    if (case_dir.empty()) continue;
    try {
      EditHdf5(shard, edit);
    } catch (const std::exception& e) {  // HDF5 refused to write this damage: not an input
      std::fprintf(stderr, "corpus: skipped shard '%s': %s\n", name.c_str(), e.what());
      continue;
    }
    AddShardReaders(b, s, case_dir, data, shard);
    b.End();
  }
  return b.Take();
}

// ---------------------------------------------------------------- checkpoints

void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// The container of nn/checkpoint.h up to the metadata: magic, format version 1, metadata length.
std::string Header(uint64_t metadata_length) {
  std::string out("PERPCKPT", 8);
  out += std::string("\x01\0\0\0", 4);
  PutU64(out, metadata_length);
  return out;
}

// A checkpoint with one 4-byte blob whose length fields claim what they like (hash valid).
std::string RawCheckpointWithLengths(const std::string& metadata_text, uint64_t metadata_length,
                                     uint64_t blob_count, uint64_t blob_length) {
  std::string out = Header(metadata_length) + metadata_text;
  PutU64(out, blob_count);
  PutU64(out, 4);
  out += "blob";
  PutU64(out, blob_length);
  out += "data";
  PutU64(out, Fnv1a64(out.data(), out.size()));
  return out;
}

// The commands that read checkpoint `bytes` (written once per command).
void AddCheckpointReaders(Builder& b, const Seeds& s, const std::string& dir, const std::string& bytes,
                          const std::function<void(const std::string&)>& place = nullptr) {
  const std::string bin = s.bin_dir + "/";
  const std::string policy = dir + "/policy.ckpt";
  const std::string latest = dir + "/resume/latest.ckpt";
  const auto put = [&](const std::string& path) {
    fs::create_directories(fs::path(path).parent_path());
    if (place) {
      place(path);
    } else {
      Write(path, bytes);
    }
  };
  put(policy);
  put(latest);
  b.Add("rl-eval --policy", Cat({bin + "rl-eval", "--policy", policy, "--episodes", "1", "--workers", "1",
                                 "--threads", "1", "--json", dir + "/report.json"}, kCell));
  b.Add("rl-collect --policy", Cat({bin + "rl-collect", "--policy", policy, "--episodes", "1", "--threads", "1",
                                    "--out", dir + "/collected"}, kCell));
  b.Add("rl-train q --init", Cat({bin + "rl-train", "q", "--data", s.data_dir, "--init", policy, "--out",
                                  dir + "/init", "--steps", "1"}, kTrain));
  b.Add("rl-train q --resume", Cat({bin + "rl-train", "q", "--data", s.data_dir, "--resume", "--out",
                                    dir + "/resume", "--steps", "3"}, kTrain));
}

std::vector<std::pair<std::string, std::string>> CraftedCheckpoints(const std::string& pristine) {
  const CheckpointContents valid = ParseCheckpoint(pristine, "seed checkpoint");
  std::vector<std::pair<std::string, std::string>> out;
  const auto with_meta = [&](const std::string& name, const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json meta = valid.metadata;
    edit(meta);
    out.emplace_back(name, RawCheckpoint(meta.dump(), valid.blobs));
  };
  const auto with_text = [&](const std::string& name, const std::string& text) {
    out.emplace_back(name, RawCheckpoint(text, valid.blobs));
  };
  for (const int depth : {65, 1000, 50000, 200000}) {
    const std::string deep = DeepJson(depth);
    std::string meta = valid.metadata.dump();
    meta.insert(meta.size() - 1, ",\"deep\":" + deep);
    with_text("metadata JSON depth " + std::to_string(depth), meta);
    with_text("metadata is JSON depth " + std::to_string(depth), deep);
  }
  with_text("metadata not JSON", "{\"algorithm\": ");
  with_text("metadata an array", "[1, 2]");
  with_text("metadata a string", "\"qtopt\"");
  with_text("metadata empty", "");
  const std::vector<std::pair<std::string, nlohmann::json>> wrong = {
      {"\"x\"", "x"}, {"1.5", 1.5}, {"2^62", int64_t{1} << 62}, {"[]", nlohmann::json::array()}, {"null", nullptr}};
  for (const auto& key : {"algorithm", "qtopt_format", "id", "step", "seed", "network", "input_spec", "env_spec", "cem"}) {
    for (const auto& [label, value] : wrong) {
      with_meta(std::string(key) + " = " + label, [key, value = value](nlohmann::json& m) { m[key] = value; });
    }
    with_meta(std::string(key) + " missing", [key](nlohmann::json& m) { m.erase(key); });
  }
  for (const auto& [group, key] : std::vector<std::pair<std::string, std::string>>{
           {"network", "hidden"}, {"network", "encoder_channels"}, {"input_spec", "height"}, {"input_spec", "proprio_sizes"},
           {"input_spec", "action_low"}, {"cem", "samples"}, {"cem", "iterations"}, {"cem", "elites"}}) {
    with_meta(group + "." + key + " = \"16\"", [group = group, key = key](nlohmann::json& m) { m[group][key] = "16"; });
    with_meta(group + "." + key + " = 1.5", [group = group, key = key](nlohmann::json& m) { m[group][key] = 1.5; });
    with_meta(group + "." + key + " = 2^31", [group = group, key = key](nlohmann::json& m) {
      m[group][key] = m[group][key].is_array() ? nlohmann::json::array({int64_t{1} << 31}) : nlohmann::json(int64_t{1} << 31);
    });
  }
  for (const std::string blob : {"net.online", "net.target1", "example.logits", "example.image", "trainer.state",
                                 "trainer.generator", "optim.adam"}) {
    CheckpointContents c = valid;
    c.blobs.erase(blob);
    out.emplace_back("blob " + blob + " missing", RawCheckpoint(valid.metadata.dump(), c.blobs));
    c = valid;
    if (c.blobs.count(blob)) c.blobs[blob] = c.blobs[blob].substr(0, c.blobs[blob].size() / 2);
    out.emplace_back("blob " + blob + " half", RawCheckpoint(valid.metadata.dump(), c.blobs));
  }
  for (const auto& [label, state] : std::vector<std::pair<std::string, std::string>>{
           {"deep", DeepJson(100000)}, {"rng strings", R"({"rng": ["a", "b", "c", "d"], "run_id": "r"})"},
           {"rng floats", R"({"rng": [1.5, 2, 3, 4]})"}, {"online_shards numbers", R"({"rng": [1, 2, 3, 4], "online_shards": [1]})"},
           {"run_id array", R"({"rng": [1, 2, 3, 4], "run_id": []})"}, {"an array", "[1, 2, 3, 4]"}}) {
    CheckpointContents c = valid;
    c.blobs["trainer.state"] = state;
    out.emplace_back("trainer state " + label, RawCheckpoint(valid.metadata.dump(), c.blobs));
  }
  const std::string meta = valid.metadata.dump();
  for (const auto& [label, length, count, blob] : std::vector<std::tuple<std::string, uint64_t, uint64_t, uint64_t>>{
           {"metadata length 2^30", uint64_t{1} << 30, 1, 4}, {"metadata length 2^63", uint64_t{1} << 63, 1, 4},
           {"blob count 2^62", meta.size(), uint64_t{1} << 62, 4}, {"blob length 2^40", meta.size(), 1, uint64_t{1} << 40},
           {"blob length 2^64-1", meta.size(), 1, ~uint64_t{0}}}) {
    out.emplace_back(label, RawCheckpointWithLengths(meta, length, count, blob));
  }
  return out;
}

std::vector<Case> BuildCheckpoints(const Seeds& s, const std::string& dir, const Options& options) {
  Builder b("checkpoint", dir, options);
  const std::string pristine = Read(s.checkpoint);
  Rng rng(options.seed + 1);
  for (int i = 0; i < 20; ++i) {  // every byte is covered by the hash: a few suffice
    const uint64_t offset = rng.UniformInt(pristine.size());
    const std::string case_dir = b.Begin("bytes flipped at " + std::to_string(offset));
    if (case_dir.empty()) continue;
    std::string bytes = pristine;
    bytes[offset] = static_cast<char>(bytes[offset] ^ 0x5a);
    AddCheckpointReaders(b, s, case_dir, bytes);
    b.End();
  }
  for (int i = 0; i < 10; ++i) {
    const uint64_t size = rng.UniformInt(pristine.size());
    const std::string case_dir = b.Begin("truncated to " + std::to_string(size));
    if (case_dir.empty()) continue;
    AddCheckpointReaders(b, s, case_dir, pristine.substr(0, size));
    b.End();
  }
  for (const auto& [name, bytes] : CraftedCheckpoints(pristine)) {
    const std::string case_dir = b.Begin(name);
    if (case_dir.empty()) continue;
    AddCheckpointReaders(b, s, case_dir, bytes);
    b.End();
  }
  return b.Take();
}

// ---------------------------------------------------------------- configs

// argv of `tool_verb --config PATH --print-config` (with a dummy positional where one is required).
std::vector<std::string> ConfigCommand(const Seeds& s, const std::string& tool_verb, const std::string& path) {
  std::vector<std::string> argv;
  std::stringstream words(tool_verb);
  for (std::string w; words >> w;) argv.push_back(argv.empty() ? s.bin_dir + "/" + w : w);
  if (tool_verb == "rl-data recover" || tool_verb == "rl-robot ping") argv.push_back("x");
  return Cat(argv, {"--config", path, "--print-config"});
}

std::vector<std::pair<std::string, std::string>> ConfigTexts(const std::string& valid, Rng& rng) {
  std::vector<std::pair<std::string, std::string>> out;
  for (int i = 0; i < 4; ++i) {
    std::string text = valid;
    const size_t at = rng.UniformInt(text.size());
    text[at] = static_cast<char>(text[at] ^ (1 + rng.UniformInt(255)));
    out.emplace_back("byte flipped at " + std::to_string(at), text);
  }
  for (int i = 0; i < 2; ++i) {
    const size_t at = rng.UniformInt(valid.size());
    out.emplace_back("truncated to " + std::to_string(at), valid.substr(0, at));
  }
  std::string garbage(2048, '\0');
  for (char& c : garbage) c = static_cast<char>(rng.UniformInt(256));
  out.emplace_back("random bytes", garbage);
  out.emplace_back("NUL bytes", std::string(64, '\0'));
  out.emplace_back("flow nesting 100", "a: " + std::string(100, '[') + std::string(100, ']') + "\n");
  out.emplace_back("flow nesting 100000", "a: " + std::string(100000, '{') + "\n");
  std::string block;
  for (int i = 0; i < 300; ++i) block += std::string(static_cast<size_t>(i), ' ') + "k:\n";
  out.emplace_back("block nesting 300", block);
  std::string compact;
  for (int i = 0; i < 100000; ++i) compact += "- ";
  out.emplace_back("sequence nesting 100000", compact + "x\n");
  out.emplace_back("sequence key", "[a, b]: 1\n");
  out.emplace_back("mapping key", "{a: 1}: 2\n");
  out.emplace_back("complex key", "? - a\n  - b\n: 1\n");
  out.emplace_back("2 MiB", std::string(2 << 20, '#'));
  std::string laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n";
  for (int i = 0; i < 9; ++i) {
    laughs += std::string(1, static_cast<char>('b' + i)) + ": &" + std::string(1, static_cast<char>('b' + i)) + " [";
    for (int j = 0; j < 9; ++j) laughs += std::string(j ? ", *" : "*") + std::string(1, static_cast<char>('a' + i));
    laughs += "]\n";
  }
  out.emplace_back("billion laughs", laughs);
  out.emplace_back("two documents", valid + "---\n" + valid);
  out.emplace_back("a list", "- 1\n- 2\n");
  out.emplace_back("a scalar", "42\n");
  out.emplace_back("tabs", "\ta:\t1\n");
  // Each top-level key of the valid config with a value of the wrong type.
  int changed = 0;
  std::stringstream lines(valid);
  for (std::string line; std::getline(lines, line) && changed < 3;) {
    if (line.empty() || line[0] == ' ' || line[0] == '#' || line.find(": ") == std::string::npos) continue;
    const std::string key = line.substr(0, line.find(": "));
    ++changed;
    for (const char* value : {"[1, [2]]", "{x: 1}", "99999999999999999999999", "-1", "1.5", "!!binary AAAA"}) {
      out.emplace_back(key + " = " + value, key + ": " + value + "\n");
    }
  }
  return out;
}

std::vector<Case> BuildConfigs(const Seeds& s, const std::string& dir, const Options& options) {
  Builder b("config", dir, options);
  Rng rng(options.seed + 2);
  for (const auto& [tool_verb, valid_path] : s.configs) {
    for (const auto& [name, text] : ConfigTexts(Read(valid_path), rng)) {
      const std::string case_dir = b.Begin(tool_verb + ": " + name);
      if (case_dir.empty()) continue;
      Write(case_dir + "/config.yaml", text);
      b.Add(tool_verb + " --config", ConfigCommand(s, tool_verb, case_dir + "/config.yaml"));
      b.End();
    }
  }
  return b.Take();
}

// ---------------------------------------------------------------- non-files

// Makes a non-file of `kind` at `path`.
void MakeNonFile(const std::string& kind, const std::string& path) {
  fs::create_directories(fs::path(path).parent_path());
  if (kind == "FIFO") {
    ::mkfifo(path.c_str(), 0644);
  } else if (kind == "directory") {
    fs::create_directories(path);
  } else if (kind == "device /dev/zero" || kind == "device /dev/null") {
    fs::create_symlink(kind.substr(7), path);
  } else if (kind == "symlink loop") {
    fs::create_symlink(path, path);
  } else if (kind == "dangling symlink") {
    fs::create_symlink(path + ".missing", path);
  } else if (kind == "empty file") {
    Write(path, "");
  } else if (kind == "socket") {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
    ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    ::close(fd);
  }
}

std::vector<Case> BuildNonFiles(const Seeds& s, const std::string& dir, const Options& options) {
  Builder b("non-file", dir, options);
  for (const std::string kind : {"FIFO", "directory", "device /dev/zero", "device /dev/null", "symlink loop",
                                 "dangling symlink", "empty file", "socket"}) {
    std::string case_dir = b.Begin(kind + " as a shard");
    if (!case_dir.empty()) {
      const std::string shard = case_dir + "/data/shard-x.h5";
      MakeNonFile(kind, shard);
      AddShardReaders(b, s, case_dir, case_dir + "/data", shard);
      b.Add("rl-data inspect FILE", {s.bin_dir + "/rl-data", "inspect", shard});
      b.End();
    }
    case_dir = b.Begin(kind + " as a checkpoint");
    if (!case_dir.empty()) {
      AddCheckpointReaders(b, s, case_dir, "", [&](const std::string& path) { MakeNonFile(kind, path); });
      b.End();
    }
    case_dir = b.Begin(kind + " as a config");
    if (!case_dir.empty()) {
      MakeNonFile(kind, case_dir + "/config.yaml");
      for (const auto& entry : s.configs) {
        b.Add(entry.first + " --config", ConfigCommand(s, entry.first, case_dir + "/config.yaml"));
      }
      b.End();
    }
  }
  return b.Take();
}

}  // namespace

std::string RawCheckpoint(const std::string& metadata_text, const std::map<std::string, std::string>& blobs) {
  std::string out = Header(metadata_text.size()) + metadata_text;
  PutU64(out, blobs.size());
  for (const auto& [name, data] : blobs) {
    PutU64(out, name.size());
    out += name;
    PutU64(out, data.size());
    out += data;
  }
  PutU64(out, Fnv1a64(out.data(), out.size()));
  return out;
}

std::vector<Family> Families() {
  return {{"shard", BuildShards},
          {"checkpoint", BuildCheckpoints},
          {"config", BuildConfigs},
          {"non-file", BuildNonFiles}};
}

Seeds MakeSeeds(const std::string& root, const std::string& bin_dir) {
  Seeds s;
  s.bin_dir = bin_dir;
  s.root = root;
  s.data_dir = root + "/seeds/data";
  const std::string bin = bin_dir + "/";
  RunTool(Cat({bin + "rl-collect", "--policy", "random", "--episodes", "2", "--seed", "1", "--threads", "1",
               "--out", s.data_dir}, kCell));
  for (const auto& entry : fs::directory_iterator(s.data_dir)) {
    if (entry.path().extension() == ".h5") s.shard = entry.path().string();
  }
  if (s.shard.empty()) Broken("rl-collect wrote no shard");
  RunTool(Cat({bin + "rl-train", "q", "--data", s.data_dir, "--out", root + "/seeds/train", "--steps", "2"}, kTrain));
  s.checkpoint = root + "/seeds/train/latest.ckpt";
  for (const std::string tool_verb : {"rl-data inspect", "rl-data recover", "rl-train q", "rl-eval", "rl-collect",
                                      "rl-robot serve", "rl-robot ping"}) {
    std::string name = tool_verb;
    for (char& c : name) c = c == ' ' ? '-' : c;
    const std::string path = root + "/seeds/" + name + ".yaml";
    std::vector<std::string> argv = ConfigCommand(s, tool_verb, "/dev/null");
    argv.erase(argv.end() - 3, argv.end() - 1);  // no --config: the defaults
    RunTool(argv, path);
    s.configs[tool_verb] = path;
  }
  return s;
}

std::vector<Case> BuildCorpus(const Seeds& seeds, const Options& options) {
  std::vector<Case> all;
  for (const Family& family : Families()) {
    const std::string dir = seeds.root + "/" + family.name;
    fs::create_directories(dir);
    for (Case& c : family.build(seeds, dir, options)) all.push_back(std::move(c));
  }
  return all;
}

}  // namespace perpetua::corpus
