#include "collect/collect.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>

#include "collect/reloading_policy.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/rng.h"
#include "common/signals.h"
#include "data/dataset_inspect.h"
#include "env/env_spec_json.h"
#include "env_factory/make_env.h"
#include "nn/checkpoint.h"
#include "nn/torch_runtime.h"
#include "policy/random_policy.h"
#include "policy/scripted_policy.h"
#include "robot/transport.h"
#include "rollout/exploration.h"
#include "rollout/goal_factory.h"
#include "rollout/policy_factory.h"
#include "rollout/rollout.h"
#include "rollout/video.h"

namespace perpetua {
namespace {

// Stream of DeriveSeed used to pick the episodes that get a video.
constexpr uint64_t kVideoStream = 2;

}  // namespace

void ValidateCollectConfig(const CollectConfig& c, bool inputs) {
  if (inputs && c.out.empty()) Fail(ExitCode::kUsage, "--out is required: the dataset directory");
  if (c.forever && c.episodes != 0) Fail(ExitCode::kUsage, "--episodes and --forever exclude each other");
  if (!c.forever && (c.episodes < 0 || (inputs && c.episodes == 0))) {
    Fail(ExitCode::kUsage, "--episodes must be at least 1 (or use --forever), got " +
                               std::to_string(c.episodes));
  }
  if (c.workers < 1 || c.workers > 256) {
    Fail(ExitCode::kUsage, "--workers must be in 1..256, got " + std::to_string(c.workers));
  }
  if (c.first_episode < 0) Fail(ExitCode::kUsage, "--first-episode must be >= 0");
  const ExplorationConfig& e = c.exploration;
  if (!(e.epsilon >= 0.0 && e.epsilon <= 1.0)) {
    Fail(ExitCode::kUsage, "--exploration.epsilon must be in [0, 1], got " + std::to_string(e.epsilon));
  }
  if (e.toward != "random" && e.toward != "scripted") {
    Fail(ExitCode::kUsage, "--exploration.toward must be random or scripted, got '" + e.toward + "'");
  }
  if (!(e.noise >= 0.0)) Fail(ExitCode::kUsage, "--exploration.noise must be >= 0");
  if (!(e.scripted_noise >= 0.0)) Fail(ExitCode::kUsage, "--exploration.scripted-noise must be >= 0");
  if (!(e.random_terminate == -1.0 || (e.random_terminate >= 0.0 && e.random_terminate <= 1.0))) {
    Fail(ExitCode::kUsage, "--exploration.random-terminate must be in [0, 1] or -1 (uniform), got " +
                               ShortestNumberText(e.random_terminate));
  }
  if (!(e.scripted_episodes >= 0.0 && e.scripted_episodes <= 1.0)) {
    Fail(ExitCode::kUsage, "--exploration.scripted-episodes must be in [0, 1], got " +
                               ShortestNumberText(e.scripted_episodes));
  }
  if (!(c.video_fraction >= 0.0 && c.video_fraction <= 1.0)) {
    Fail(ExitCode::kUsage, "--video-fraction must be in [0, 1]");
  }
  if (c.reload && !IsCheckpointPolicy(c.policy)) {
    Fail(ExitCode::kUsage, "--reload needs a checkpoint --policy, not '" + c.policy + "'");
  }
  if (c.threads < 1) Fail(ExitCode::kUsage, "--threads must be >= 1, got " + std::to_string(c.threads));
  c.pace.Validate();
}

namespace {

// Prints finished shard paths on stdout, one per line, flushed. A closed
// stdout is reported once and collection goes on (the shards are on disk).
class PathPrinter {
 public:
  explicit PathPrinter(std::string dir) : dir_(std::move(dir)) {}
  void Print(const std::string& path) {
    ++printed_;
    if (broken_) return;
    if (std::fprintf(stdout, "%s\n", path.c_str()) < 0 || std::fflush(stdout) != 0) {
      broken_ = true;
      LogWarning(std::string("stdout is closed (") + std::strerror(errno) +
                 "); shards keep being written into " + dir_);
    }
  }
  int64_t printed() const { return printed_; }

 private:
  std::string dir_;
  bool broken_ = false;
  int64_t printed_ = 0;
};

std::string Rate(double count, double seconds) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2f", seconds > 0 ? count / seconds : 0.0);
  return buffer;
}

// Warns when `config.out` already holds episodes this run would collect again
// (the same seeds: running one command twice), naming the --first-episode
// that continues after them. Simulated cells only: a robot's episodes differ
// whatever their seed.
void WarnOfRepeatedEpisodes(const CollectConfig& config) {
  if (robot::IsRobotAddress(config.env.name) || !IsDirectory(config.out)) return;
  std::set<uint64_t> held;
  for (const FileReport& file : InspectDatasets({config.out}, /*deep=*/false).files) {
    held.insert(file.seeds.begin(), file.seeds.end());
  }
  const auto seed_of = [&](int64_t i) { return DeriveSeed(config.seed, 0, static_cast<uint64_t>(i)); };
  const int64_t last = config.first_episode + (config.forever ? static_cast<int64_t>(held.size()) : config.episodes);
  int64_t repeated = 0;
  for (int64_t i = config.first_episode; i < last; ++i) repeated += held.count(seed_of(i));
  if (repeated == 0) return;
  int64_t next = config.first_episode;
  while (held.count(seed_of(next)) > 0) ++next;
  LogWarning(config.out + " already holds " + std::to_string(repeated) + " of the episodes this run would collect " +
             "(seed " + std::to_string(config.seed) + ", the same episodes again); --first-episode " +
             std::to_string(next) + " continues after them");
}

}  // namespace

ExitCode RunCollect(const CollectConfig& given, const std::string& tool_config_yaml) {
  ValidateCollectConfig(given, /*inputs=*/true);
  CollectConfig config = given;
  AdoptCheckpointObservations(&config.env, {config.policy});
  // One goal supply for every worker (--goals); the cell's specs, from a probe in this thread (workers build their own).
  const std::shared_ptr<GoalSupply> goals = MakeGoalSupply(config.env, config.seed, config.device, /*live=*/true);
  const EnvSpec spec = MakeEnv(config.env, goals)->spec();
  const std::string video_key = config.video_fraction > 0 ? RgbObservationKey(spec) : "";
  if (config.video_fraction > 0 && video_key.empty()) {
    Fail(ExitCode::kUsage, "--video-fraction: the cell '" + spec.name + "' has no RGB image observation");
  }

  PolicyOptions policy_options;
  policy_options.scripted_noise = config.exploration.scripted_noise;
  policy_options.random_terminate = config.exploration.random_terminate;
  policy_options.device = config.device;
  const bool checkpoint = IsCheckpointPolicy(config.policy);
  if (checkpoint) {
    ConfigureTorchRuntime(config.device, config.threads);
  }
  // Fail on a bad policy before anything is written.
  std::shared_ptr<CheckpointWatcher> watcher;
  std::string initial_id;
  if (config.reload) {
    watcher = std::make_shared<CheckpointWatcher>(config.policy, ReadCheckpointId);
    initial_id = ReadCheckpointId(config.policy);
    watcher->CurrentId();
  }
  const std::string policy_id = MakePolicy(config.policy, spec, config.seed, policy_options)->id();
  if (config.exploration.epsilon > 0) MakePolicy(config.exploration.toward, spec, config.seed, policy_options);
  if (config.exploration.scripted_episodes > 0) MakePolicy("scripted", spec, config.seed, policy_options);

  WarnOfRepeatedEpisodes(config);
  WriterOptions writer_options;
  writer_options.config = config.dataset;
  writer_options.env_args = spec.env_args;
  writer_options.env_spec = EnvSpecToJson(spec);
  writer_options.tool_config_yaml = tool_config_yaml;
  writer_options.tool_name = "rl-collect";
  DatasetWriter writer(config.out, writer_options);
  PathPrinter printer(config.out);
  LogInfo("policy " + policy_id + " on cell " + spec.name + ", " + std::to_string(config.workers) +
          " worker(s), seed " + std::to_string(config.seed) + ", into " + config.out +
          (config.pace.run.empty() ? std::string()
                                   : ", paced to the trainer of " + config.pace.run + " (" +
                                         config.pace.Describe() + ")"));
  for (const std::string& path : writer.recovered_shards()) {
    LogInfo("recovered episodes of a dead collector into " + path);
    printer.Print(path);
  }
  const std::string video_dir = config.video.empty() ? config.out + "/videos" : config.video;
  if (config.video_fraction > 0) EnsureWritableDirectory(video_dir);

  const WorkerFactory make_worker = [&](int) {
    Worker worker;
    worker.env = MakeEnv(config.env, goals);
    std::unique_ptr<Policy> policy = MakePolicy(config.policy, spec, config.seed, policy_options);
    if (config.reload) {
      auto load = [&] { return MakePolicy(config.policy, spec, config.seed, policy_options); };
      policy = std::make_unique<ReloadingPolicy>(watcher, load, std::move(policy), initial_id);
    }
    if (config.exploration.scripted_episodes > 0) {
      policy = std::make_unique<EpisodeMixturePolicy>(
          std::move(policy), MakePolicy("scripted", spec, config.seed, policy_options),
          config.exploration.scripted_episodes);
    }
    if (config.exploration.noise > 0) {
      policy = std::make_unique<GaussianNoisePolicy>(std::move(policy), spec.action, config.exploration.noise);
    }
    if (config.exploration.epsilon > 0) {
      policy = std::make_unique<EpsilonGreedyPolicy>(
          std::move(policy), MakePolicy(config.exploration.toward, spec, config.seed, policy_options),
          config.exploration.epsilon);
    }
    worker.policy = std::move(policy);
    return worker;
  };

  RunnerOptions runner;
  runner.workers = config.workers;
  runner.seed = config.seed;
  runner.first_index = config.first_episode;
  runner.episodes = config.forever ? -1 : config.episodes;
  // One finished episode may wait while the writer stores the previous one:
  // enough to overlap stepping and writing, and a SIGKILL then loses at most
  // the running episodes and that one.
  runner.max_pending = 1;
  std::unique_ptr<TrainerPace> pace;
  if (!config.pace.run.empty()) {
    pace = std::make_unique<TrainerPace>(config.pace);
    runner.may_start = [&pace](int64_t collected) { return pace->MayStart(collected); };
  }

  Progress progress("collect", config.forever ? 0 : config.episodes);
  int64_t episodes = 0, steps = 0, successes = 0, interrupted = 0, unstable = 0;
  const auto start = std::chrono::steady_clock::now();
  auto status = [&] {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return Rate(double(episodes), seconds) + " eps/s, " + Rate(double(steps), seconds) +
           " steps/s, success " + Rate(100.0 * double(successes), double(std::max<int64_t>(1, episodes))) + "%" +
           (interrupted > 0 ? ", " + std::to_string(interrupted) + " interrupted by the robot" : "") +
           (unstable > 0 ? ", " + std::to_string(unstable) + " ended by a physics blow-up" : "");
  };
  const nlohmann::json exploration = {{"epsilon", config.exploration.epsilon},
                                      {"toward", config.exploration.toward},
                                      {"noise", config.exploration.noise},
                                      {"scripted_noise", config.exploration.scripted_noise},
                                      {"random_terminate", config.exploration.random_terminate},
                                      {"scripted_episodes", config.exploration.scripted_episodes}};
  const EpisodeSink sink = [&](RolloutResult&& result) {
    Episode& episode = result.episode;
    nlohmann::json extra = nlohmann::json::parse(episode.metadata.extra_json);
    extra["index"] = result.index;
    extra["run_seed"] = config.seed;
    extra["exploration"] = exploration;
    unstable += extra.contains("unstable");
    episode.metadata.extra_json = extra.dump();
    if (config.video_fraction > 0 &&
        Rng(DeriveSeed(config.seed, kVideoStream, uint64_t(result.index))).Uniform() < config.video_fraction) {
      std::vector<Array> frames;
      for (const Array& frame : UnstackFrames(episode.observations.at(video_key))) {
        frames.push_back(ComposeVideoFrame(frame, nullptr));
      }
      // episode-<index, 5 digits>-<writer token>.mp4: rl-eval's order (episode-<index>-<outcome>.mp4).
      char index[32];
      std::snprintf(index, sizeof index, "%05lld", static_cast<long long>(result.index));
      WriteVideo(video_dir + "/episode-" + index + "-" + writer.token() + ".mp4", frames, /*fps=*/5.0);
    }
    const std::string shard = writer.Add(episode);
    ++episodes;
    steps += episode.num_steps();
    successes += episode.metadata.success;
    interrupted += episode.metadata.interrupted;
    if (!shard.empty()) printer.Print(shard);
    progress.Update(episodes, status());
  };

  RunnerSummary summary;
  try {
    summary = RunEpisodes(runner, make_worker, nullptr, sink);
  } catch (...) {
    // Everything added is durable; make the partial shard visible if we still can.
    try {
      for (const std::string& path : writer.Close()) printer.Print(path);
    } catch (const Error& e) {
      LogWarning(std::string("closing the dataset: ") + e.what() +
                 " (staged episodes are recovered by the next writer or `rl-data recover`)");
    }
    throw;
  }
  for (const std::string& path : writer.Close()) printer.Print(path);
  progress.Finish(status());
  LogInfo("collected " + std::to_string(episodes) + " episodes (" + std::to_string(steps) +
          " steps) into " + std::to_string(printer.printed()) + " shard(s) in " +
          Rate(summary.seconds, 1.0) + " s; " + status() +
          (summary.dropped > 0 ? "; dropped " + std::to_string(summary.dropped) + " in progress" : ""));
  if (InterruptCount() > 0 && summary.stopped) return ExitCode::kInterrupted;
  return ExitCode::kOk;
}

}  // namespace perpetua
