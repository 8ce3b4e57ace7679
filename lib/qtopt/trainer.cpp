#include "qtopt/trainer.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <thread>

#include "common/document.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/signals.h"
#include "nn/checkpoint.h"
#include "nn/metrics.h"
#include "nn/tensor_io.h"
#include "nn/torch_runtime.h"
#include "qtopt/q_checkpoint.h"
#include "qtopt/q_learner.h"
#include "qtopt/target_pipeline.h"

namespace perpetua {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string StepName(int64_t step) {
  char name[32];
  std::snprintf(name, sizeof(name), "ckpt-%08lld.ckpt", static_cast<long long>(step));
  return name;
}

void ValidateTrainConfig(const QTrainConfig& c) {
  if (c.out.empty()) Fail(ExitCode::kUsage, "--out is required (the output directory)");
  if (c.data.empty() && c.online.empty()) Fail(ExitCode::kUsage, "give --data DIR... and/or --online -");
  if (!c.online.empty() && c.online != "-") {
    Fail(ExitCode::kUsage, "--online takes '-' (shard paths on stdin), got '" + c.online + "'");
  }
  if (c.resume && !c.init.empty()) Fail(ExitCode::kUsage, "--resume and --init exclude each other");
  if (c.steps < 0) Fail(ExitCode::kUsage, "--steps must be >= 0");
  if (c.batch_size < 1) Fail(ExitCode::kUsage, "--batch-size must be >= 1");
  if (!(c.online_fraction >= 0.0 && c.online_fraction <= 1.0)) Fail(ExitCode::kUsage, "--online-fraction must be in [0, 1]");
  if (c.min_transitions < 1) Fail(ExitCode::kUsage, "--min-transitions must be >= 1");
  if (c.checkpoint_every < 1) Fail(ExitCode::kUsage, "--checkpoint-every must be >= 1");
  if (c.keep_checkpoints < 1) Fail(ExitCode::kUsage, "--keep-checkpoints must be >= 1");
  if (c.log_every < 1) Fail(ExitCode::kUsage, "--log-every must be >= 1");
  c.network.Validate("network");
  c.cem.Validate("cem");
  c.target.Validate("target");
  c.optim.Validate("optim");
  c.augment.Validate("augment");
  c.workers.Validate("workers");
}

// Sums of per-step figures over one metrics window.
struct Window {
  int steps = 0;
  double loss = 0, q_mean = 0, q_min = 1, q_max = 0, grad_norm = 0, conservative = 0, target_mean = 0, next_value = 0, terminal = 0;
  double online_share = 0, update_s = 0, wait_s = 0;
  Clock::time_point start = Clock::now();
};

}  // namespace

struct QTrainer::Impl {
  QTrainConfig config;
  std::string effective_yaml;
  ReplayDataFactory factory;

  torch::Device device{torch::kCPU};
  int lock_fd = -1;
  std::unique_ptr<ReplayData> data;
  std::unique_ptr<ReplayMix> mix;
  QInputSpec spec;
  std::unique_ptr<QLearner> learner;
  Rng rng;
  at::Generator generator = at::detail::createCPUGenerator(0);
  std::unique_ptr<TargetPipeline> pipeline;
  std::unique_ptr<MetricsLog> metrics;
  std::string run_id;
  std::string last_checkpoint;
  int64_t last_saved_step = -1;
  int64_t start_step = 0;
  std::unique_ptr<Progress> progress;

  // stdin reader (online stream)
  std::thread reader;
  std::atomic<bool> reader_stop{false};
  std::atomic<bool> stream_open{false};
  std::atomic<int64_t> shards_added{0}, shards_rejected{0};

  Window window;
  Clock::time_point init_time = Clock::now();
  double total_update_s = 0.0;

  ~Impl() { StopReader(); if (lock_fd >= 0) close(lock_fd); }

  void StopReader() {
    reader_stop = true;
    if (reader.joinable()) reader.join();
  }

  void Lock() {
    const std::string path = config.out + "/.lock";
    lock_fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd < 0) Fail(ExitCode::kIoError, path + ": cannot open: " + std::strerror(errno));
    if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
      Fail(ExitCode::kLocked, config.out + ": another rl-train run is training into this directory");
    }
  }

  // Reads shard paths from stdin (one per line) until EOF or StopReader().
  void ReadStream() {
    std::string pending;
    char buffer[4096];
    while (!reader_stop) {
      pollfd fd{STDIN_FILENO, POLLIN, 0};
      const int ready = poll(&fd, 1, 100);
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) continue;
      const ssize_t n = read(STDIN_FILENO, buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // EOF (or an unreadable stdin: the stream ends)
      pending.append(buffer, static_cast<size_t>(n));
      for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
        std::string line = pending.substr(0, nl);
        pending.erase(0, nl + 1);
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (!line.empty()) AddShard(line);
      }
    }
    if (!pending.empty() && !reader_stop) AddShard(pending);
    if (!reader_stop) {
      LogInfo("online stream closed after " + std::to_string(shards_added.load()) + " shard(s)");
    }
    stream_open = false;
  }

  void AddShard(const std::string& path) {
    try {
      mix->AddOnlineShard(path);
      ++shards_added;
    } catch (const std::exception& e) {  // Error, or anything else: never escapes the reader thread
      ++shards_rejected;
      LogWarning("online shard skipped: " + (dynamic_cast<const Error*>(&e) ? "" : path + ": ") + e.what());
    }
  }

  void WaitForData() {
    const auto total = [&] { return mix->offline_size() + mix->online_size(); };
    bool told = false;
    while (total() < config.min_transitions) {
      if (!stream_open) {
        Fail(ExitCode::kBadData,
             "only " + std::to_string(total()) + " transition(s) to train on (need --min-transitions " +
                 std::to_string(config.min_transitions) + ")" +
                 (config.data.empty() ? "" : " in --data") +
                 (config.online.empty() ? "" : " and the --online stream closed"));
      }
      if (StopRequested()) return;
      if (!told) LogInfo("waiting for online shards on stdin...");
      told = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  nlohmann::json TrainerState() const {
    uint64_t s[4];
    rng.GetState(s);
    return {{"rng", {s[0], s[1], s[2], s[3]}},
            {"online_shards", mix->online_shards()},
            {"run_id", run_id}};
  }

  static nlohmann::json ParseTrainerState(const CheckpointContents& c, const std::string& source) {
    auto it = c.blobs.find("trainer.state");
    if (it == c.blobs.end() || !c.blobs.count("trainer.generator")) {
      Fail(ExitCode::kBadData, source + ": checkpoint lacks the trainer state (not written by rl-train q?)");
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

  // The online buffer of the interrupted run: its shards are on disk, re-read them.
  void RestoreOnlineShards(const CheckpointContents& c, const std::string& source) {
    const nlohmann::json state = ParseTrainerState(c, source);
    for (const auto& path : state.value("online_shards", std::vector<std::string>{})) {
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

  void BuildLearner(const CheckpointContents& resume_from) {
    const std::string latest = config.out + "/latest.ckpt";
    QNetworkConfig network = config.network;
    if (config.resume) {
      const LoadedQNetwork loaded = LoadQNetwork(resume_from, latest, device);
      CheckSameInputs(loaded.spec, spec, latest, "the data");
      if (loaded.config.ToJson() != network.ToJson()) {
        LogWarning("--resume: using the checkpoint's network sizes " + loaded.config.ToJson().dump() +
                   " (the config asks for " + network.ToJson().dump() + ")");
        network = loaded.config;
      }
    }
    learner = std::make_unique<QLearner>(network, spec, config.optim, config.target, device, config.seed);
    rng = Rng(DeriveSeed(config.seed, /*stream=*/1, 0));
    generator = at::detail::createCPUGenerator(DeriveSeed(config.seed, /*stream=*/2, 0));
    run_id = UniqueToken();
    if (config.resume) {
      learner->Load(resume_from, latest);
      RestoreGenerators(resume_from, latest);
      last_checkpoint = latest;
      last_saved_step = learner->step();
      LogInfo("resumed from " + latest + " at step " + std::to_string(learner->step()));
    } else if (!config.init.empty()) {
      const CheckpointContents init = ReadCheckpoint(config.init);
      const LoadedQNetwork loaded = LoadQNetwork(init, config.init, device);
      CheckSameInputs(loaded.spec, spec, config.init, "the data");
      if (loaded.config.ToJson() != network.ToJson()) {
        Fail(ExitCode::kBadData, config.init + ": checkpoint network " + loaded.config.ToJson().dump() +
                                     " differs from the configured " + network.ToJson().dump());
      }
      learner->InitFrom(init, config.init);
      LogInfo("initialised the networks from " + config.init);
    }
    start_step = learner->step();
  }

  void Init() {
    ValidateTrainConfig(config);
    // Default: the trainer gets the cores the target workers leave. On a busy
    // 2-core machine an oversubscribed OpenMP team is several times slower.
    int threads = config.threads;
    if (threads == 0) {
      const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
      threads = std::max(1, cores - config.workers.count * config.workers.threads);
    }
    const TorchRuntime runtime = ConfigureTorchRuntime(config.device, threads);
    device = torch::Device(runtime.device);
    EnsureWritableDirectory(config.out);
    Lock();
    data = factory(config.data);
    mix = std::make_unique<ReplayMix>(data.get(), config.online_fraction);
    CheckpointContents resume_from;
    if (config.resume) {
      const std::string latest = config.out + "/latest.ckpt";
      if (!IsRegularFile(latest)) Fail(ExitCode::kBadData, "--resume: no checkpoint at " + latest);
      resume_from = ReadCheckpoint(latest);
      RestoreOnlineShards(resume_from, latest);
    }
    if (!config.online.empty()) {
      stream_open = true;
      reader = std::thread([this] { ReadStream(); });
    }
    WaitForData();
    if (StopRequested()) Fail(ExitCode::kInterrupted, "interrupted while waiting for data");
    spec = QInputSpec::FromEnvSpec(data->spec(), config.data.empty() ? "online data" : config.data.front());
    BuildLearner(resume_from);
    WriteFileAtomic(config.out + "/config.yaml", effective_yaml);
    metrics = std::make_unique<MetricsLog>(config.out);
    const int batch = config.batch_size;
    pipeline = std::make_unique<TargetPipeline>(
        config.workers, config.cem, config.target, config.augment, learner->target1(), learner->target2(),
        [this, batch](Rng& r, int* online) { return mix->Sample(batch, r, online); },
        config.data.empty() ? std::string("online data") : config.data.front(), config.seed,
        static_cast<uint64_t>(learner->step()));
    LogInfo("training " + std::to_string(CountParameters(learner->online())) + " parameters on " +
            std::to_string(mix->offline_size()) + " offline + " + std::to_string(mix->online_size()) +
            " online transitions, " + std::to_string(config.workers.count) + " target worker(s), device " +
            runtime.device + ", " + std::to_string(runtime.threads) + " trainer thread(s)");
    progress = std::make_unique<Progress>("train", config.steps);
    init_time = Clock::now();
    window = Window();
  }

  bool Step() {
    if (learner->step() >= config.steps) return false;
    const auto t0 = Clock::now();
    LabeledBatch batch = pipeline->Next(rng, generator, learner->target1(), learner->target2());
    const auto t1 = Clock::now();
    UpdateStats stats;
    try {
      stats = learner->Update(batch.image, batch.proprio, batch.action, batch.target, generator);
    } catch (const Error& e) {
      if (e.code() != ExitCode::kDiverged) throw;
      Fail(ExitCode::kDiverged, std::string(e.what()) + "; stopped without saving, the last good checkpoint is " +
                                    (last_checkpoint.empty() ? std::string("(none yet)") : last_checkpoint));
    }
    const double update_s = Since(t1);
    total_update_s += update_s;
    if (config.workers.count > 0 && learner->step() % config.workers.publish_every == 0) {
      pipeline->Publish(learner->target1(), learner->target2());
    }
    Window& w = window;
    ++w.steps;
    w.loss += stats.loss;
    w.q_mean += stats.q_mean;
    w.q_min = std::min(w.q_min, stats.q_min);
    w.q_max = std::max(w.q_max, stats.q_max);
    w.grad_norm += stats.grad_norm;
    w.conservative += stats.conservative;
    w.target_mean += batch.stats.target_mean;
    w.next_value += batch.stats.next_value_mean;
    w.terminal += batch.stats.terminal_fraction;
    w.online_share += static_cast<double>(batch.online_count) / config.batch_size;
    w.update_s += update_s;
    w.wait_s += std::chrono::duration<double>(t1 - t0).count();
    const int64_t step = learner->step();
    if (step % config.log_every == 0 || step == config.steps) LogWindow();
    if (step % config.checkpoint_every == 0) SaveCheckpoint();
    return true;
  }

  void LogWindow() {
    Window& w = window;
    if (w.steps == 0) return;
    const double wall = Since(w.start);
    const double n = w.steps;
    metrics->Write({{"step", static_cast<double>(learner->step())},
                    {"loss", w.loss / n},
                    {"q_mean", w.q_mean / n},
                    {"q_min", w.q_min},
                    {"q_max", w.q_max},
                    {"grad_norm", w.grad_norm / n},
                    {"conservative", w.conservative / n},
                    {"target_mean", w.target_mean / n},
                    {"next_value_mean", w.next_value / n},
                    {"terminal_fraction", w.terminal / n},
                    {"steps_per_s", n / wall},
                    {"update_fraction", w.update_s / wall},
                    {"wait_fraction", w.wait_s / wall},
                    {"offline_transitions", static_cast<double>(mix->offline_size())},
                    {"online_transitions", static_cast<double>(mix->online_size())},
                    {"online_share", w.online_share / n},
                    {"online_shards", static_cast<double>(shards_added.load())},
                    {"online_shards_rejected", static_cast<double>(shards_rejected.load())},
                    {"elapsed_s", Since(init_time)}});
    char status[160];
    std::snprintf(status, sizeof(status), "loss %.4f  Q %.3f  target %.3f  %.1f steps/s  update %.0f%%",
                  w.loss / n, w.q_mean / n, w.target_mean / n, n / wall, 100.0 * w.update_s / wall);
    progress->Update(learner->step(), status);
    window = Window();
  }

  std::string SaveCheckpoint() {
    const int64_t step = learner->step();
    CheckpointContents c;
    c.metadata = {{"algorithm", kQtOptAlgorithm},
                  {"qtopt_format", kQtOptFormat},
                  {"id", run_id + "-" + std::to_string(step)},
                  {"seed", config.seed},
                  {"network", learner->online().config().ToJson()},
                  {"input_spec", spec.ToJson()},
                  {"env_spec", EnvSpecToJson(data->spec())},
                  {"normalization", {{"image", "x / 255 - 0.5"}, {"proprio", "none"}}},
                  {"cem", {{"iterations", config.cem.iterations},
                           {"samples", config.cem.samples},
                           {"elites", config.cem.elites},
                           {"min_std", config.cem.min_std}}},
                  {"config_yaml", effective_yaml},
                  {"created_unix", std::chrono::duration<double>(
                                       std::chrono::system_clock::now().time_since_epoch()).count()}};
    learner->Save(&c);
    c.blobs["trainer.state"] = TrainerState().dump();
    c.blobs["trainer.generator"] = TensorToBytes(generator.get_state());
    const std::string bytes = SerializeCheckpoint(c);
    const std::string numbered = config.out + "/" + StepName(step);
    WriteFileAtomic(numbered, bytes);
    WriteFileAtomic(config.out + "/latest.ckpt", bytes);
    last_checkpoint = numbered;
    last_saved_step = step;
    PruneCheckpoints();
    return numbered;
  }

  void PruneCheckpoints() {
    const std::string pattern_prefix = "ckpt-";
    // List the directory (names sort by step thanks to zero padding).
    std::vector<std::string> names;
    if (auto* dir = opendir(config.out.c_str())) {
      while (auto* entry = readdir(dir)) {
        const std::string name = entry->d_name;
        if (name.rfind(pattern_prefix, 0) == 0 && name.size() > 5 && name.substr(name.size() - 5) == ".ckpt") {
          names.push_back(name);
        }
      }
      closedir(dir);
    }
    std::sort(names.begin(), names.end());
    for (size_t i = 0; i + config.keep_checkpoints < names.size(); ++i) {
      std::remove((config.out + "/" + names[i]).c_str());
    }
  }

  std::string Finish() {
    if (window.steps > 0) LogWindow();
    if (last_saved_step != learner->step()) SaveCheckpoint();
    pipeline.reset();
    StopReader();
    if (progress) progress->Finish("step " + std::to_string(learner->step()) + ", checkpoint " + last_checkpoint);
    return config.out + "/latest.ckpt";
  }
};

QTrainer::QTrainer(const QTrainConfig& config, std::string effective_config_yaml, ReplayDataFactory data_factory)
    : impl_(std::make_unique<Impl>()) {
  impl_->config = config;
  impl_->effective_yaml = std::move(effective_config_yaml);
  impl_->factory = std::move(data_factory);
}

QTrainer::~QTrainer() = default;
void QTrainer::Init() { impl_->Init(); }
bool QTrainer::Step() { return impl_->Step(); }
std::string QTrainer::Finish() { return impl_->Finish(); }
std::string QTrainer::SaveCheckpoint() { return impl_->SaveCheckpoint(); }
int64_t QTrainer::step() const { return impl_->learner ? impl_->learner->step() : 0; }
double QTrainer::update_seconds() const { return impl_->total_update_s; }
double QTrainer::wall_seconds() const { return Since(impl_->init_time); }

ExitCode RunTrainQ(const QTrainConfig& config, const std::string& effective_config_yaml,
                   const ReplayDataFactory& data_factory) {
  QTrainer trainer(config, effective_config_yaml, data_factory);
  trainer.Init();
  bool interrupted = false;
  while (!StopRequested()) {
    if (!trainer.Step()) break;
  }
  interrupted = StopRequested();
  const std::string latest = trainer.Finish();
  std::cout << latest << std::endl;
  if (interrupted) {
    LogInfo("interrupted at step " + std::to_string(trainer.step()) + "; checkpoint written");
    return ExitCode::kInterrupted;
  }
  return ExitCode::kOk;
}

}  // namespace perpetua
