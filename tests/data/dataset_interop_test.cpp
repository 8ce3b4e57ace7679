// Interop with the Python ecosystem through Debian's python3-h5py
// (/usr/bin/python3): our shards follow robomimic's rules, and D4RL, Minari
// and robomimic files written by h5py read back as datasets.
#include <doctest/doctest.h>

#include "data/dataset_reader.h"
#include "data/dataset_sampler.h"
#include "data/dataset_writer.h"
#include "data/episode_factory.h"
#include "support/test_support.h"

namespace perpetua {
namespace {

using testing::RunProcess;
using testing::TempDir;

// Runs a Python program with Debian's interpreter; returns its stdout.
std::string RunPython(const TempDir& dir, const std::string& program,
                      const std::vector<std::string>& args) {
  testing::WriteFile(dir / "program.py", program);
  std::vector<std::string> argv{"/usr/bin/python3", dir / "program.py"};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto result = RunProcess(argv);
  CAPTURE(result.err);
  REQUIRE(result.exit_code == 0);
  return result.out;
}

// robomimic's reading rules (robomimic/utils/file_utils.py, dataset.py), checked with h5py.
constexpr const char* kRobomimicCheck = R"PY(
import json, re, sys
import h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
assert "data" in f and "mask" in f, list(f.keys())
demos = list(f["data"].keys())
assert demos and all(re.fullmatch(r"demo_\d+", d) for d in demos), demos
demos = [demos[i] for i in np.argsort([int(d[5:]) for d in demos])]
total = 0
for d in demos:
    g = f["data/" + d]
    n = int(g.attrs["num_samples"])
    assert g["actions"].shape[0] == n and g["actions"].dtype == np.float32
    assert g["rewards"].shape == (n,) and g["dones"].shape == (n,)
    assert g["terminated"].shape == (n,) and g["truncated"].shape == (n,)
    assert (g["dones"][:] == (g["terminated"][:] | g["truncated"][:])).all()
    for k in g["obs"]:
        assert g["obs"][k].shape[0] == n, (d, k)
    assert g["obs/image"].dtype == np.uint8 and g["obs/image"].shape[1:] == (16, 16, 3)
    assert g["obs/proprio"].dtype == np.float32
    assert g["obs/image"].compression == "gzip"
    if "next_obs" in g:
        assert (g["next_obs/image"][:-1] == g["obs/image"][1:]).all()
        assert (g["next_obs/image"][-1] == g["final_obs/image"][0]).all()
    total += n
assert int(f["data"].attrs["total"]) == total, (f["data"].attrs["total"], total)
env_meta = json.loads(f["data"].attrs["env_args"])
masks = {}
for name in f["mask"]:
    masks[name] = [e.decode("utf-8") for e in np.array(f["mask/" + name][:])]
assert sorted(masks) == ["train", "valid"], masks
assert sorted(masks["train"] + masks["valid"]) == sorted(demos)
assert int(f.attrs["perpetua_schema_version"]) == 1
g = f["data/" + demos[0]]
print(json.dumps({"env_args": env_meta, "demos": len(demos), "total": total,
                  "first_action": float(g["actions"][0, 0]),
                  "image_sum": int(g["obs/image"][:].astype(np.int64).sum()),
                  "seed": int(g.attrs["seed"]), "success": int(g.attrs["success"]),
                  "policy_id": g.attrs["policy_id"].decode(),
                  "config": f.attrs["perpetua_tool_config"].decode(),
                  "valid": len(masks["valid"])}))
)PY";

TEST_CASE("h5py reads our shards by robomimic's rules") {
  for (const bool next_obs : {false, true}) {
    CAPTURE(next_obs);
    TempDir dir;
    WriterOptions options;
    options.config.episodes_per_shard = 20;
    options.config.store_next_obs = next_obs;
    options.config.valid_fraction = 0.25;
    options.env_args = {{"env_name", "grasp"}, {"type", 5}, {"env_kwargs", {{"objects", 3}}}};
    options.tool_config_yaml = "episodes: 20\n";
    testing::EpisodeShape shape;
    shape.height = 16;
    shape.width = 16;
    std::string shard;
    Episode first;
    {
      DatasetWriter writer(dir.path(), options);
      for (uint64_t seed = 0; seed < 20; ++seed) {
        const Episode e = testing::MakeEpisode(seed, shape);
        if (seed == 0) first = e;
        shard = writer.Add(e);
      }
    }
    REQUIRE(!shard.empty());
    const auto got = nlohmann::json::parse(RunPython(dir, kRobomimicCheck, {shard}));
    CHECK(got["env_args"] == options.env_args);
    CHECK(got["demos"] == 20);
    CHECK(got["total"] == 100);
    CHECK(got["first_action"].get<float>() == first.actions.f32[0]);
    int64_t image_sum = 0;
    for (int64_t i = 0; i < 5 * 16 * 16 * 3; ++i) image_sum += first.observations["image"].u8[static_cast<size_t>(i)];
    CHECK(got["image_sum"] == image_sum);
    CHECK(got["seed"] == 0);
    CHECK(got["success"] == 1);
    CHECK(got["policy_id"] == "scripted:0");
    CHECK(got["config"] == "episodes: 20\n");
    CHECK(got["valid"].get<int>() > 0);  // about a quarter, chosen from the seeds
    CHECK(got["valid"].get<int>() < 12);
  }
}

constexpr const char* kMakeForeignFiles = R"PY(
import sys
import h5py, numpy as np
out = sys.argv[1]
T = 10  # D4RL: rows; episodes end at rows 3 (terminal), 6 (timeout), 9 (end of data)
obs = np.arange(T * 3, dtype=np.float64).reshape(T, 3)
with h5py.File(out + "/d4rl.h5", "w") as f:
    f["observations"] = obs
    nxt = np.concatenate([obs[1:], obs[-1:] + 3])  # s' = next row within an episode
    nxt[[3, 6, 9]] = obs[[3, 6, 9]] + 1000          # episode ends: a distinct final observation
    f["next_observations"] = nxt
    f["actions"] = np.arange(T * 2, dtype=np.float32).reshape(T, 2) / 10
    f["rewards"] = np.arange(T, dtype=np.float64)
    term = np.zeros(T, dtype=bool); term[3] = True
    tout = np.zeros(T, dtype=bool); tout[6] = True
    f["terminals"] = term
    f["timeouts"] = tout
with h5py.File(out + "/d4rl_nonext.h5", "w") as f:
    f["observations"] = obs.astype(np.float32)
    f["actions"] = np.arange(T * 2, dtype=np.float32).reshape(T, 2) / 10
    f["rewards"] = np.arange(T, dtype=np.float32)
    term = np.zeros(T, dtype=bool); term[3] = True
    f["terminals"] = term
    f["timeouts"] = np.zeros(T, dtype=bool)
with h5py.File(out + "/minari.h5", "w") as f:
    f.attrs["total_episodes"] = 2
    for e, n in enumerate([4, 6]):
        g = f.create_group("episode_%d" % e)
        g.attrs["id"] = e
        o = g.create_group("observations")
        o["image"] = np.full((n + 1, 4, 4, 3), e * 10, dtype=np.uint8) + np.arange(n + 1, dtype=np.uint8)[:, None, None, None]
        o["state"] = np.arange((n + 1) * 2, dtype=np.float64).reshape(n + 1, 2) + 100 * e
        g["actions"] = np.ones((n, 2), dtype=np.float32) * e
        g["rewards"] = np.arange(n, dtype=np.float64)
        t = np.zeros(n, dtype=bool); u = np.zeros(n, dtype=bool)
        (t if e == 0 else u)[-1] = True
        g["terminations"] = t
        g["truncations"] = u
with h5py.File(out + "/minari_flat.h5", "w") as f:
    g = f.create_group("episode_0")
    g["observations"] = np.arange(6 * 3, dtype=np.float32).reshape(6, 3)
    g["actions"] = np.zeros((5, 1), dtype=np.float32)
    g["rewards"] = np.zeros(5, dtype=np.float32)
    g["terminations"] = np.zeros(5, dtype=bool)
    g["truncations"] = np.array([0, 0, 0, 0, 1], dtype=bool)
with h5py.File(out + "/robomimic.h5", "w") as f:
    d = f.create_group("data")
    d.attrs["env_args"] = '{"env_name": "Lift", "type": 1, "env_kwargs": {}}'
    d.attrs["total"] = 8
    for i, n in enumerate([3, 5]):
        g = d.create_group("demo_%d" % i)
        g.attrs["num_samples"] = n
        g["obs/eef"] = np.arange(n * 2, dtype=np.float64).reshape(n, 2) + 10 * i
        if i == 0:
            g["next_obs/eef"] = g["obs/eef"][:] + 1
        g["actions"] = np.zeros((n, 7))
        g["rewards"] = np.zeros(n)
        dn = np.zeros(n, dtype=np.int64); dn[-1] = 1
        g["dones"] = dn
    f["mask/train"] = np.array([b"demo_0", b"demo_1"], dtype="S6")
)PY";

TEST_CASE("D4RL Minari and robomimic files written by h5py read as datasets") {
  TempDir dir;
  RunPython(dir, kMakeForeignFiles, {dir.path()});
  SUBCASE("D4RL with next_observations") {
    DatasetReader reader({dir / "d4rl.h5"});
    CHECK(reader.files()[0].format == "d4rl");
    REQUIRE(reader.num_episodes() == 3);
    CHECK(reader.num_transitions() == 10);
    const Episode e1 = reader.ReadEpisode(1);  // rows 4..6, cut by the timeout
    REQUIRE(e1.num_steps() == 3);
    CHECK(e1.observations.at("observation").shape == std::vector<int64_t>{4, 3});
    CHECK(e1.observations.at("observation").f32[0] == 12.0f);        // obs[4][0]
    CHECK(e1.observations.at("observation").f32[9] == 1018.0f);      // next_obs[6][0]
    CHECK(e1.rewards == std::vector<float>{4, 5, 6});
    CHECK(e1.terminated == std::vector<uint8_t>{0, 0, 0});
    CHECK(e1.truncated == std::vector<uint8_t>{0, 0, 1});
    CHECK(e1.actions.f32[0] == doctest::Approx(0.8));
    const Episode e0 = reader.ReadEpisode(0);
    CHECK(e0.terminated == std::vector<uint8_t>{0, 0, 0, 1});
  }
  SUBCASE("D4RL without next_observations drops each episode's last step") {
    DatasetReader reader({dir / "d4rl_nonext.h5"});
    REQUIRE(reader.num_episodes() == 2);  // rows 0..3 and 4..9
    const Episode e0 = reader.ReadEpisode(0);
    CHECK(e0.num_steps() == 3);
    CHECK(e0.observations.at("observation").f32[9] == 9.0f);  // obs[3][0] is the last s'
  }
  SUBCASE("Minari with dict observations") {
    DatasetReader reader({dir / "minari.h5"});
    CHECK(reader.files()[0].format == "minari");
    REQUIRE(reader.num_episodes() == 2);
    CHECK(reader.schema().Describe() == "image uint8 [4, 4, 3], state float32 [2]; actions [2]");
    const Episode e1 = reader.ReadEpisode(1);
    REQUIRE(e1.num_steps() == 6);
    CHECK(e1.observations.at("image").u8[6 * 48] == 16);  // final frame: 10 + 6
    CHECK(e1.observations.at("state").f32[12] == 112.0f);
    CHECK(e1.truncated.back() == 1);
    CHECK(e1.terminated.back() == 0);
    CHECK(reader.ReadEpisode(0).terminated.back() == 1);
  }
  SUBCASE("Minari with one observation array") {
    DatasetReader reader({dir / "minari_flat.h5"});
    const Episode e = reader.ReadEpisode(0);
    CHECK(e.observations.at("observation").shape == std::vector<int64_t>{6, 3});
    CHECK(e.truncated == std::vector<uint8_t>{0, 0, 0, 0, 1});
  }
  SUBCASE("robomimic with and without next_obs") {
    DatasetReader reader({dir / "robomimic.h5"});
    CHECK(reader.files()[0].format == "robomimic");
    CHECK(nlohmann::json::parse(reader.files()[0].env_args_json)["env_name"] == "Lift");
    REQUIRE(reader.num_episodes() == 2);
    const Episode e0 = reader.ReadEpisode(0);
    CHECK(e0.num_steps() == 3);
    CHECK(e0.observations.at("eef").f32[6] == 5.0f);  // next_obs[2][0] = obs[2][0] + 1
    CHECK(e0.terminated.back() == 1);
    const Episode e1 = reader.ReadEpisode(1);
    CHECK(e1.num_steps() == 4);  // no next_obs: the last step is dropped
    CHECK(e1.observations.at("eef").f32[8] == 18.0f);
  }
  SUBCASE("a sampler serves D4RL transitions") {
    DatasetSampler sampler({dir / "d4rl.h5"}, DatasetSamplerConfig{});
    Rng rng(3);
    const TransitionBatch batch = sampler.Sample(64, rng);
    for (int64_t i = 0; i < batch.size(); ++i) {
      const float s = batch.observations.at("observation").f32[static_cast<size_t>(i * 3)];
      const float next = batch.next_observations.at("observation").f32[static_cast<size_t>(i * 3)];
      const bool end = s == 9.0f || s == 18.0f || s == 27.0f;
      CHECK(next == s + (end ? 1000.0f : 3.0f));
      CHECK(batch.rewards[static_cast<size_t>(i)] == s / 3.0f);
      CHECK(batch.terminated[static_cast<size_t>(i)] == (s == 9.0f ? 1 : 0));
    }
  }
}

TEST_CASE("rl-data inspect reads foreign formats") {
  TempDir dir;
  RunPython(dir, kMakeForeignFiles, {dir.path()});
  const auto result = RunProcess({testing::ToolPath("rl-data"), "inspect", dir / "minari.h5", dir / "minari.h5"});
  CHECK(result.exit_code == 0);
  const auto json = nlohmann::json::parse(result.out);
  CHECK(json["episodes"] == 4);
  CHECK(json["files"][0]["format"] == "minari");
}

}  // namespace
}  // namespace perpetua
