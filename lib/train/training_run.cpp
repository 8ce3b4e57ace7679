#include "train/training_run.h"

#include <dirent.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <set>
#include <thread>

#include "common/clock.h"
#include "common/document.h"
#include "common/file_lock.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/signals.h"
#include "common/step_file.h"
#include "data/dataset_reader.h"
#include "dist/collective.h"
#include "dist/rank_rows.h"
#include "env/env_spec_json.h"
#include "nn/checkpoint.h"
#include "nn/metrics.h"
#include "nn/row_draws.h"
#include "nn/tensor_io.h"
#include "nn/torch_runtime.h"
#include "replay/online_source.h"
#include "train/learner.h"
#include "train/run_tensorboard.h"

namespace perpetua {
namespace {

using Clock = std::chrono::steady_clock;

// The names in `dir` that `keep` accepts, sorted (none if `dir` cannot be read).
template <class Keep>
std::vector<std::string> NamesIn(const std::string& dir, Keep keep) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (auto* entry = readdir(d)) {
      if (keep(std::string(entry->d_name))) names.push_back(entry->d_name);
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string StepName(int64_t step) {
  char name[32];
  std::snprintf(name, sizeof(name), "ckpt-%08lld.ckpt", static_cast<long long>(step));
  return name;
}

// Learner metrics reduced over one metrics window, in the order first reported.
class MetricsWindow {
 public:
  void Add(const std::vector<Metric>& metrics) {
    for (const Metric& m : metrics) {
      auto it = std::find_if(sums_.begin(), sums_.end(), [&](const Metric& s) { return s.name == m.name; });
      if (it == sums_.end()) {
        sums_.push_back(m);
        continue;
      }
      switch (m.reduce) {
        case Metric::Reduce::kMean: it->value += m.value; break;
        case Metric::Reduce::kMin: it->value = std::min(it->value, m.value); break;
        case Metric::Reduce::kMax: it->value = std::max(it->value, m.value); break;
      }
    }
  }
  // name -> window figure (means divided by `steps`).
  MetricsLog::Row Reduced(int steps) const {
    MetricsLog::Row row;
    for (const Metric& m : sums_) row.emplace_back(m.name, m.reduce == Metric::Reduce::kMean ? m.value / steps : m.value);
    return row;
  }

 private:
  std::vector<Metric> sums_;
};

// Sums of the run's per-step figures over one metrics window.
struct Window {
  int steps = 0;
  MetricsWindow learner;
  double online_share = 0, update_s = 0, wait_s = 0;
  Clock::time_point start = Clock::now();
};

// The shard paths of `dirs` (offline buffer), so that a watched directory does not add them again.
std::set<std::string> OfflineShards(const std::vector<std::string>& dirs) {
  std::set<std::string> shards;
  for (const auto& dir : dirs) {
    if (!IsDirectory(dir)) continue;
    for (const auto& shard : ListShards(dir)) shards.insert(shard);
  }
  return shards;
}

}  // namespace

void TrainRunConfig::Visit(ConfigVisitor& v) {
  v.Field("data", data, "offline buffer: dataset directories (every shard in them) or HDF5 files (a shard, robomimic, D4RL, Minari)");
  v.Field("online", online, "'-': paths of finished shards on stdin; DIR: new shards appearing in DIR (online buffer)");
  v.Field("out", out, "output directory for checkpoints and metrics", FieldKind::kRequired);
  v.Field("resume", resume, "continue exactly from OUT/latest.ckpt");
  v.Field("init", init, "warm-start the networks from this checkpoint (new run, step 0)");
  v.Field("steps", steps, "total gradient steps (a resumed run counts from its checkpoint)");
  v.Field("batch_size", batch_size, "transitions per gradient step");
  v.Field("online_fraction", online_fraction, "share of each batch from the online buffer");
  v.Field("online_window", online_window,
          "online buffer size in transitions: the newest online shards, the oldest leaving first "
          "(they stay in the offline buffer when in a --data directory); 0: unbounded");
  v.Field("data_refresh_s", data_refresh_s,
          "seconds between listings of the --data directories for new shards (offline buffer); 0: never");
  v.Field("min_transitions", min_transitions, "transitions needed before training starts (online sources are waited for)");
  v.Field("seed", seed, "seed of everything random (weights, sampling, learner noise)");
  v.Field("device", device, "cpu or cuda[:N]");
  v.Field("threads", threads, "trainer intra-op threads (0: cores left by the learner's helpers, >= 1)");
  v.Field("checkpoint_every", checkpoint_every, "steps between checkpoints");
  v.Field("keep_checkpoints", keep_checkpoints, "numbered checkpoints kept (latest.ckpt always)");
  v.Field("log_every", log_every, "steps between metrics rows");
  v.Group("dataset", dataset, "reading the offline and online buffers");
  v.Group("tensorboard", tensorboard, "TensorBoard event files in OUT/tensorboard/ (docs/tensorboard.md)");
  v.Group("dist", dist, "data-parallel training over several processes and machines (docs/distributed.md)");
}

void TrainRunConfig::Validate(bool inputs) const {
  if (inputs && out.empty()) Fail(ExitCode::kUsage, "--out is required (the output directory)");
  if (inputs && data.empty() && online.empty()) Fail(ExitCode::kUsage, "give --data DIR... and/or --online -|DIR");
  if (inputs && !online.empty()) OnlineSource::Validate(online);  // the directory must exist
  if (resume && !init.empty()) Fail(ExitCode::kUsage, "--resume and --init exclude each other");
  if (steps < 0) Fail(ExitCode::kUsage, "--steps must be >= 0");
  if (batch_size < 1) Fail(ExitCode::kUsage, "--batch-size must be >= 1");
  if (!(online_fraction >= 0.0 && online_fraction <= 1.0)) Fail(ExitCode::kUsage, "--online-fraction must be in [0, 1]");
  if (online_window < 0) {
    Fail(ExitCode::kUsage, "--online-window must be >= 0 (transitions; 0 = unbounded), got " +
                               std::to_string(online_window));
  }
  if (!(data_refresh_s >= 0.0 && std::isfinite(data_refresh_s))) {
    Fail(ExitCode::kUsage, "--data-refresh-s must be a number of seconds >= 0 (0 = never)");
  }
  if (min_transitions < 1) Fail(ExitCode::kUsage, "--min-transitions must be >= 1");
  if (checkpoint_every < 1) Fail(ExitCode::kUsage, "--checkpoint-every must be >= 1");
  if (keep_checkpoints < 1) Fail(ExitCode::kUsage, "--keep-checkpoints must be >= 1");
  if (log_every < 1) Fail(ExitCode::kUsage, "--log-every must be >= 1");
  tensorboard.Validate();
  dist.Validate();
}

struct TrainingRun::Impl {
  TrainRunConfig config;
  std::string effective_yaml;
  ReplayDataFactory factory;
  std::unique_ptr<Learner> learner;

  FileLock lock;
  std::unique_ptr<ReplayData> data;
  std::unique_ptr<ReplayMix> mix;
  std::unique_ptr<ImageTap> image_tap;  // the learner samples through it (observation images)
  std::unique_ptr<RankRowsSource> rank_rows;  // --dist.sampling shared: this rank's rows of the whole batch
  DistPlan dist;                               // who this process is (one process unless dist.enabled)
  std::unique_ptr<Collective> collective;      // null in one process
  bool interrupted = false;                    // the ranks agreed to stop on a signal
  std::unique_ptr<OnlineSource> online;
  Rng rng;
  at::Generator generator = at::detail::createCPUGenerator(0);
  std::unique_ptr<MetricsLog> metrics;
  std::unique_ptr<RunTensorBoard> board;  // OUT/tensorboard/
  std::string run_id;
  std::string last_checkpoint;
  int64_t last_saved_step = -1;
  std::unique_ptr<Progress> progress;
  std::unique_ptr<StepFileWriter> step_file;  // OUT/trainer.step, for paced collectors
  bool built = false;

  Window window;
  Clock::time_point init_time = Clock::now();
  Clock::time_point last_refresh = Clock::now();
  double total_update_s = 0.0;

  ~Impl() {
    if (learner) learner->Stop();
    online.reset();
  }

  std::string DataSource() const { return config.data.empty() ? std::string("online data") : config.data.front(); }

  // Rank 0 (or the one process) owns OUT: lock, checkpoints, metrics, TensorBoard, step file.
  bool Writer() const { return !dist.enabled || dist.rank == 0; }

  // The shards this process reads: all, or its rank's share (--dist.shards disjoint).
  ShardSubset Subset() const {
    return dist.enabled && dist.disjoint_shards ? ShardSubset{dist.rank, dist.world_size} : ShardSubset{};
  }

  // Resolves --dist.* and the launcher's environment; checks what a run of several ranks needs.
  void PlanDist() {
    dist = ResolveDist(config.dist, config.device);
    if (!dist.enabled) return;
    if (config.batch_size % dist.world_size != 0) {
      Fail(ExitCode::kUsage, "--batch-size " + std::to_string(config.batch_size) + " must divide by the " +
                                 std::to_string(dist.world_size) + " ranks (each trains on its share of the batch)");
    }
    if (config.online == "-") {
      Fail(ExitCode::kUsage,
           "--online - feeds one process; ranks follow a shared directory: --online DIR (docs/distributed.md)");
    }
  }

  // The ranks meet, compare settings (and what they resume from), and take their rows.
  void ConnectDist(const CheckpointContents& resume_from) {
    if (!dist.enabled) return;
    std::string fingerprint = DistFingerprint(effective_yaml);
    if (config.resume) {
      fingerprint += "resume: " + resume_from.metadata.value("id", std::string("?")) + "\n";
    }
    LogInfo("data-parallel: " + dist.Describe() + ", waiting for the other ranks...");
    collective = Collective::Connect(dist, fingerprint);
    SetRowShare({dist.rank, dist.world_size});
  }

  void Lock() {
    lock = FileLock::TryLock(config.out + "/.lock", /*create=*/true);
    if (!lock.held()) Fail(ExitCode::kLocked, config.out + ": another rl-train run is training into this directory");
    RemoveStaleTemporaries();
  }

  // Temporary files of checkpoint writes a killed run left behind
  // (WriteFileAtomic's "<name>.tmp-<token>"). Only the lock holder writes
  // here, so none of them is in progress.
  void RemoveStaleTemporaries() {
    const auto stale = NamesIn(config.out, [](const std::string& name) {
      const size_t tmp = name.find(".tmp-");
      return tmp != std::string::npos && EndsWith(name.substr(0, tmp), ".ckpt");
    });
    for (const std::string& name : stale) {
      if (std::remove((config.out + "/" + name).c_str()) == 0) LogInfo("removed " + name + ", left by a killed run");
    }
  }

  void WaitForData() {
    const auto total = [&] { return mix->offline_size() + mix->online_size(); };
    bool told = false;
    while (total() < config.min_transitions) {
      if (!online || !online->open()) {
        Fail(ExitCode::kBadData,
             "only " + std::to_string(total()) + " transition(s) to train on (need --min-transitions " +
                 std::to_string(config.min_transitions) + ")" + (config.data.empty() ? "" : " in --data") +
                 (config.online.empty() ? "" : " and the --online stream closed") +
                 (Subset().all() ? "" : " among this rank's " + Subset().Describe() + " (--dist.shards disjoint)"));
      }
      if (StopRequested()) return;
      if (!told) LogInfo("waiting for online shards " + online->where() + "...");
      told = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  nlohmann::json TrainerState() const {
    uint64_t s[4];
    rng.GetState(s);
    return {{"rng", {s[0], s[1], s[2], s[3]}}, {"online_shards", mix->online_shards()}, {"run_id", run_id}};
  }

  static nlohmann::json ParseTrainerState(const CheckpointContents& c, const std::string& source) {
    auto it = c.blobs.find("trainer.state");
    if (it == c.blobs.end() || !c.blobs.count("trainer.generator")) {
      Fail(ExitCode::kBadData, source + ": checkpoint lacks the trainer state (not written by rl-train?)");
    }
    const nlohmann::json state = ParseJson(it->second, source + ": trainer state", ExitCode::kBadData);
    const auto all = [](const nlohmann::json& list, bool (nlohmann::json::*is)() const noexcept) {
      return list.is_array() && std::all_of(list.begin(), list.end(), [&](const nlohmann::json& v) { return (v.*is)(); });
    };
    const bool well_typed = state.is_object() && state.contains("rng") && state["rng"].size() == 4 &&
                            all(state["rng"], &nlohmann::json::is_number_unsigned) &&
                            state.value("run_id", nlohmann::json("")).is_string() &&
                            all(state.value("online_shards", nlohmann::json::array()), &nlohmann::json::is_string);
    if (!well_typed) {
      Fail(ExitCode::kBadData, source + ": checkpoint trainer state is malformed");
    }
    return state;
  }

  // The online window of the interrupted run: its shards are on disk, re-read
  // them (oldest first; a smaller --online-window keeps the newest).
  void RestoreOnlineShards(const CheckpointContents& c, const std::string& source) {
    const nlohmann::json state = ParseTrainerState(c, source);
    for (const auto& path : state.value("online_shards", std::vector<std::string>{})) {
      if (!Subset().Keeps(path)) continue;  // another rank's (the checkpoint is rank 0's)
      try {
        mix->AddOnlineShard(path);
      } catch (const Error& e) {
        LogWarning(std::string("resumed run cannot re-read an online shard: ") + e.what());
      }
    }
  }

  void RestoreGenerators(const CheckpointContents& c, const std::string& source) {
    const nlohmann::json state = ParseTrainerState(c, source);
    uint64_t s[4];
    for (int i = 0; i < 4; ++i) s[i] = state["rng"][i].get<uint64_t>();
    rng.SetState(s);
    generator.set_state(TensorFromBytes(c.blobs.at("trainer.generator"), source));
    run_id = state.value("run_id", UniqueToken());
  }

  void StartOnline() {
    if (config.online.empty()) return;
    std::set<std::string> known = OfflineShards(config.data);
    for (const auto& path : mix->online_shards()) known.insert(path);
    online = std::make_unique<OnlineSource>(
        config.online,
        [this, subset = Subset()](const std::string& path) {
          if (!subset.Keeps(path)) return false;  // another rank's shard
          mix->AddOnlineShard(path);
          return true;
        },
        std::move(known));
  }

  void BuildLearner(const torch::Device& device, const CheckpointContents& resume_from) {
    LearnerSetup setup;
    setup.data_spec = data->spec();
    setup.data_source = DataSource();
    setup.device = device;
    setup.seed = config.seed;
    setup.batch_size = config.batch_size / dist.world_size;
    setup.batches = image_tap.get();
    if (dist.enabled && dist.shared_sampling) {
      rank_rows = std::make_unique<RankRowsSource>(image_tap.get(), dist.rank, dist.world_size);
      setup.batches = rank_rows.get();
    }
    setup.out_dir = config.out;
    setup.collective = collective.get();
    const std::string latest = config.out + "/latest.ckpt";
    if (config.resume) {
      learner->Build(setup, LearnerStart::kResume, &resume_from, latest);
    } else if (!config.init.empty()) {
      const CheckpointContents init = ReadCheckpoint(config.init);
      learner->Build(setup, LearnerStart::kInit, &init, config.init);
    } else {
      learner->Build(setup, LearnerStart::kFresh, nullptr, "");
    }
    built = true;
    rng = Rng(DeriveSeed(config.seed, /*stream=*/1, 0));
    generator = at::detail::createCPUGenerator(DeriveSeed(config.seed, /*stream=*/2, 0));
    run_id = UniqueToken();
    if (config.resume) {
      RestoreGenerators(resume_from, latest);
      last_checkpoint = latest;
      last_saved_step = learner->step();
      LogInfo("resumed from " + latest + " at step " + std::to_string(learner->step()));
    } else if (!config.init.empty()) {
      LogInfo("initialised the networks from " + config.init);
    }
    // Each rank samples with its own stream (shared sampling: rank 0's); the
    // torch generator is the same on every rank (nn/row_draws.h).
    if (dist.enabled && !dist.shared_sampling && dist.rank != 0) {
      rng = Rng(DeriveSeed(config.seed, /*stream=*/1000 + static_cast<uint64_t>(dist.rank),
                           static_cast<uint64_t>(learner->step())));
    }
    if (collective) {
      if (learner->ReplicatedState().empty()) {
        Fail(ExitCode::kUsage, "rl-train " + learner->algorithm() + " cannot train data-parallel yet (--dist.*)");
      }
      collective->CheckReplicas(learner->ReplicatedState(), learner->step());  // identical start
    }
  }

  void Init() {
    config.Validate();
    learner->Validate();
    // Default: the trainer gets the cores the learner's helpers leave. On a
    // busy 2-core machine an oversubscribed OpenMP team is several times slower.
    int threads = config.threads;
    if (threads == 0) {
      const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
      threads = std::max(1, cores - learner->helper_threads());
    }
    PlanDist();
    if (dist.enabled && config.threads == 0) threads = std::max(1, threads / dist.local_world_size);
    const TorchRuntime runtime = ConfigureTorchRuntime(config.device, threads);
    if (Writer()) {
      EnsureWritableDirectory(config.out);
      Lock();
    }
    CheckpointContents resume_from;
    const std::string latest = config.out + "/latest.ckpt";
    if (config.resume) {
      if (!IsRegularFile(latest)) Fail(ExitCode::kBadData, "--resume: no checkpoint at " + latest);
      resume_from = ReadCheckpoint(latest);
    }
    ConnectDist(resume_from);
    data = factory(config.data, Subset());
    mix = std::make_unique<ReplayMix>(data.get(), config.online_fraction, config.online_window);
    image_tap = std::make_unique<ImageTap>(mix.get(), config.tensorboard.images);
    if (config.resume) RestoreOnlineShards(resume_from, latest);
    StartOnline();
    WaitForData();
    if (StopRequested()) Fail(ExitCode::kInterrupted, "interrupted while waiting for data");
    BuildLearner(torch::Device(runtime.device), resume_from);
    if (Writer()) {
      WriteFileAtomic(config.out + "/config.yaml", effective_yaml);
      step_file = std::make_unique<StepFileWriter>(config.out + "/" + kTrainerStepFile);
      step_file->Publish(learner->step());
      metrics = std::make_unique<MetricsLog>(config.out);
      board = std::make_unique<RunTensorBoard>(config.tensorboard, config.out + "/tensorboard", learner->step(),
                                               effective_yaml);
    }
    LogInfo("training " + learner->algorithm() + " (" + learner->Describe() + ") on " +
            std::to_string(mix->offline_size()) + " offline + " + std::to_string(mix->online_size()) +
            " online transitions, device " + runtime.device + ", " + std::to_string(runtime.threads) +
            " trainer thread(s)" + (dist.enabled ? ", " + dist.Describe() : std::string()) +
            (Subset().all() ? std::string() : ", reading " + Subset().Describe()));
    if (Writer()) progress = std::make_unique<Progress>("train", config.steps);
    init_time = Clock::now();
    last_refresh = init_time;
    window = Window();
  }

  // Every data_refresh_s: the shards that appeared in the --data directories
  // join the offline buffer (a damaged one stops the run with kBadData, as at start).
  void MaybeRefreshOffline() {
    if (config.data.empty() || config.data_refresh_s <= 0 || Since(last_refresh) < config.data_refresh_s) return;
    last_refresh = Clock::now();
    const std::vector<std::string> added = mix->RefreshOffline();
    if (!added.empty()) {
      LogInfo("offline buffer: " + std::to_string(added.size()) + " new shard(s) in --data, " +
              std::to_string(mix->offline_size()) + " transitions");
    }
  }

  // True when a signal asks to stop: on any rank, then on all (they stop at the same step).
  bool StopAgreed() {
    const bool stop = collective ? collective->AnyOf(StopRequested()) : StopRequested();
    if (stop) interrupted = true;
    return stop;
  }

  bool Step() {
    if (learner->step() >= config.steps || StopAgreed()) return false;
    MaybeRefreshOffline();
    if (board && board->WantsImages(learner->step() + 1)) image_tap->Arm();
    const auto t0 = Clock::now();
    UpdateResult result;
    try {
      result = learner->Update(rng, generator);
    } catch (const Error& e) {
      if (e.code() != ExitCode::kDiverged) throw;
      Fail(ExitCode::kDiverged, std::string(e.what()) + "; stopped without saving, the last good checkpoint is " +
                                    (last_checkpoint.empty() ? std::string("(none yet)") : last_checkpoint));
    }
    const double step_s = Since(t0);
    const double update_s = step_s - result.wait_seconds;
    total_update_s += update_s;
    Window& w = window;
    ++w.steps;
    w.learner.Add(result.metrics);
    w.online_share += result.batch_size > 0 ? static_cast<double>(result.online_count) / result.batch_size : 0.0;
    w.update_s += update_s;
    w.wait_s += result.wait_seconds;
    const int64_t step = learner->step();
    if (collective && dist.check_every > 0 && step % dist.check_every == 0) {
      collective->CheckReplicas(learner->ReplicatedState(), step);
    }
    if (!Writer()) return true;
    step_file->Publish(step);
    const auto images = image_tap->Take();
    if (!images.empty()) board->AddImages(step, images);
    if (step % config.log_every == 0 || step == config.steps) LogWindow();
    if (step % config.checkpoint_every == 0) SaveCheckpoint();
    return true;
  }

  void LogWindow() {
    Window& w = window;
    if (w.steps == 0) return;
    const double wall = Since(w.start);
    const double n = w.steps;
    MetricsLog::Row row = {{"step", static_cast<double>(learner->step())}};
    const MetricsLog::Row learner_row = w.learner.Reduced(w.steps);
    row.insert(row.end(), learner_row.begin(), learner_row.end());
    const MetricsLog::Row run_row = {
        {"steps_per_s", n / wall},
        {"update_fraction", w.update_s / wall},
        {"wait_fraction", w.wait_s / wall},
        {"offline_transitions", static_cast<double>(mix->offline_size())},
        {"online_transitions", static_cast<double>(mix->online_size())},
        {"online_share", w.online_share / n},
        {"online_shards", static_cast<double>(online ? online->added() : 0)},
        {"online_shards_rejected", static_cast<double>(online ? online->rejected() : 0)},
        {"elapsed_s", Since(init_time)}};
    row.insert(row.end(), run_row.begin(), run_row.end());
    metrics->Write(row);
    board->AddRow(learner->step(), learner_row, run_row);
    std::string status;
    for (size_t i = 0; i < learner_row.size() && i < 3; ++i) {
      char figure[64];
      std::snprintf(figure, sizeof(figure), "%s %.4g  ", learner_row[i].first.c_str(), learner_row[i].second);
      status += figure;
    }
    char rate[64];
    std::snprintf(rate, sizeof(rate), "%.1f steps/s  update %.0f%%", n / wall, 100.0 * w.update_s / wall);
    progress->Update(learner->step(), status + rate);
    window = Window();
  }

  std::string SaveCheckpoint() {
    if (!Writer()) return "";
    const int64_t step = learner->step();
    CheckpointContents c;
    learner->Save(&c);
    c.metadata["algorithm"] = learner->algorithm();
    c.metadata["step"] = step;
    c.metadata["id"] = run_id + "-" + std::to_string(step);
    c.metadata["seed"] = config.seed;
    c.metadata["env_spec"] = EnvSpecToJson(data->spec());
    c.metadata["config_yaml"] = effective_yaml;
    c.metadata["created_unix"] = UnixSeconds();
    c.blobs["trainer.state"] = TrainerState().dump();
    c.blobs["trainer.generator"] = TensorToBytes(generator.get_state());
    const std::string bytes = SerializeCheckpoint(c);
    const std::string numbered = config.out + "/" + StepName(step);
    WriteFileAtomic(numbered, bytes);
    WriteFileAtomic(config.out + "/latest.ckpt", bytes);
    last_checkpoint = numbered;
    last_saved_step = step;
    PruneCheckpoints();
    // After the checkpoint: a run killed in between lacks these records
    // rather than repeating them when resumed (run_tensorboard.h).
    if (board) board->Commit();
    return numbered;
  }

  void PruneCheckpoints() {
    // Names sort by step thanks to zero padding.
    const auto names = NamesIn(config.out, [](const std::string& name) {
      return name.rfind("ckpt-", 0) == 0 && name.size() > 5 && EndsWith(name, ".ckpt");
    });
    for (size_t i = 0; i + config.keep_checkpoints < names.size(); ++i) {
      std::remove((config.out + "/" + names[i]).c_str());
    }
  }

  std::string Finish() {
    if (Writer() && window.steps > 0) LogWindow();
    learner->Stop();
    if (Writer() && last_saved_step != learner->step()) SaveCheckpoint();
    if (collective) {
      const double wall = Since(init_time);
      char line[160];
      std::snprintf(line, sizeof(line), "collectives took %.2f s of %.2f s (%.1f%%) on rank %d", collective->seconds(),
                    wall, wall > 0 ? 100.0 * collective->seconds() / wall : 0.0, dist.rank);
      LogInfo(line);
    }
    online.reset();
    if (board) board->Commit();
    if (progress) progress->Finish("step " + std::to_string(learner->step()) + ", checkpoint " + last_checkpoint);
    return config.out + "/latest.ckpt";
  }
};

TrainingRun::TrainingRun(const TrainRunConfig& config, std::string effective_config_yaml,
                         ReplayDataFactory data_factory, std::unique_ptr<Learner> learner)
    : impl_(std::make_unique<Impl>()) {
  impl_->config = config;
  impl_->effective_yaml = std::move(effective_config_yaml);
  impl_->factory = std::move(data_factory);
  impl_->learner = std::move(learner);
}

TrainingRun::~TrainingRun() = default;
void TrainingRun::Init() { impl_->Init(); }
bool TrainingRun::Step() { return impl_->Step(); }
std::string TrainingRun::Finish() { return impl_->Finish(); }
std::string TrainingRun::SaveCheckpoint() { return impl_->SaveCheckpoint(); }
int64_t TrainingRun::step() const { return impl_->built ? impl_->learner->step() : 0; }
bool TrainingRun::interrupted() const { return impl_->interrupted; }
bool TrainingRun::writer() const { return impl_->Writer(); }
double TrainingRun::collective_seconds() const { return impl_->collective ? impl_->collective->seconds() : 0.0; }
double TrainingRun::update_seconds() const { return impl_->total_update_s; }
double TrainingRun::wall_seconds() const { return Since(impl_->init_time); }
double TrainingRun::tensorboard_seconds() const { return impl_->board ? impl_->board->seconds() : 0.0; }

ExitCode RunTraining(TrainingRun& run) {
  run.Init();
  while (run.Step()) {
  }
  const bool interrupted = run.interrupted();
  const std::string latest = run.Finish();
  if (run.writer()) std::cout << latest << std::endl;
  if (interrupted) {
    LogInfo("interrupted at step " + std::to_string(run.step()) + "; checkpoint written");
    return ExitCode::kInterrupted;
  }
  return ExitCode::kOk;
}

}  // namespace perpetua
