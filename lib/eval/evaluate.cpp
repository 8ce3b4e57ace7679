#include "eval/evaluate.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "common/fs.h"
#include "common/log.h"
#include "common/signals.h"
#include "env_factory/make_env.h"
#include "eval/report.h"
#include "eval/report_page.h"
#include "nn/checkpoint.h"
#include "perpetua/version.h"
#include "nn/torch_runtime.h"
#include "rollout/goal_factory.h"
#include "rollout/policy_factory.h"
#include "rollout/rollout.h"
#include "env/state_render.h"
#include "rollout/video.h"
#include "tensorboard/event_writer.h"

namespace perpetua {
namespace {

}  // namespace

void ValidateEvalConfig(const EvalConfig& c, bool inputs) {
  if (inputs && c.policy.empty()) Fail(ExitCode::kUsage, "--policy is required: random, scripted or a checkpoint file");
  if (c.episodes < 1) {
    Fail(ExitCode::kUsage, "--episodes must be at least 1, got " + std::to_string(c.episodes));
  }
  if (c.workers < 1 || c.workers > 256) {
    Fail(ExitCode::kUsage, "--workers must be in 1..256, got " + std::to_string(c.workers));
  }
  if (!(c.min_success >= 0.0 && c.min_success <= 1.0)) {
    Fail(ExitCode::kUsage, "--min-success must be in [0, 1], got " + std::to_string(c.min_success));
  }
  if (c.video_first < 0 || c.video_failures < 0 || c.video_successes < 0) {
    Fail(ExitCode::kUsage, "--video-first, --video-failures and --video-successes must be >= 0");
  }
  if (c.video_size < 16 || c.video_size > 1024) Fail(ExitCode::kUsage, "--video-size must be in 16..1024");
  if (c.bootstrap_resamples < 100) Fail(ExitCode::kUsage, "--bootstrap-resamples must be >= 100");
  if (c.threads < 1) Fail(ExitCode::kUsage, "--threads must be >= 1, got " + std::to_string(c.threads));
  if (c.tensorboard_step < 0) Fail(ExitCode::kUsage, "--tensorboard-step must be >= 0");
  if (c.tensorboard.empty() && c.tensorboard_step != 0) {
    Fail(ExitCode::kUsage, "--tensorboard-step needs --tensorboard DIR");
  }
  if (c.report.empty() && (!c.report_curve.empty() || !c.report_title.empty())) {
    Fail(ExitCode::kUsage, "--report-curve and --report-title need --report DIR");
  }
}

namespace {

// What the page says of a policy: its argument and, for a checkpoint, the
// run that wrote it (algorithm, id, step, seed).
nlohmann::json PolicyProvenance(const std::string& policy) {
  nlohmann::json entry = {{"policy", policy}};
  if (!IsCheckpointPolicy(policy)) return entry;
  const nlohmann::json metadata = ReadCheckpointMetadata(policy);
  for (const char* key : {"algorithm", "id", "step", "seed"}) {
    if (metadata.contains(key)) entry[key] = metadata[key];
  }
  return entry;
}

// How the table names a policy: a checkpoint by its path, learner and step
// ("runs/loop/promoted.ckpt (sac, step 94500)"), the others by their id.
std::string PolicyLabel(const std::string& policy) {
  if (!IsCheckpointPolicy(policy)) return "";
  const nlohmann::json p = PolicyProvenance(policy);
  std::string label = policy;
  if (p.contains("algorithm") && p["algorithm"].is_string() && p.contains("step") && p["step"].is_number_integer()) {
    label += " (" + p["algorithm"].get<std::string>() + ", step " + std::to_string(p["step"].get<int64_t>()) + ")";
  }
  return label;
}

std::string UtcNow() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

// Policy A's success and interval as scalars in a new event file in config.tensorboard.
void WriteTensorBoard(const EvalConfig& config, const RateSummary& rate) {
  tensorboard::EventWriter writer(config.tensorboard);
  const std::string prefix = config.env.objects + "/";
  writer.AddScalar(prefix + "success", config.tensorboard_step, rate.rate);
  writer.AddScalar(prefix + "wilson_low", config.tensorboard_step, rate.interval.low);
  writer.AddScalar(prefix + "wilson_high", config.tensorboard_step, rate.interval.high);
  writer.Flush();
}

// Runs one policy over the configured episodes. Returns false if interrupted.
bool EvaluatePolicy(const EvalConfig& config, const std::string& policy, const EnvSpec& spec,
                    const std::shared_ptr<GoalSupply>& goals, const std::string& video_prefix, std::vector<EpisodeOutcome>& outcomes,
                    std::vector<std::string>& videos) {
  PolicyOptions policy_options;
  policy_options.explore = false;  // evaluate the mean of stochastic policies
  policy_options.device = config.device;
  RunnerOptions runner;
  runner.workers = config.workers;
  runner.seed = config.seed;
  runner.episodes = config.episodes;

  const std::string video_key = RgbObservationKey(spec);
  if (!config.video.empty()) {
    // The larger view: the cell's own picture at --video-size, rendered on the
    // worker's thread after every step (cells without one: the scaled policy view).
    runner.episode.view_renderer = [&config](Env& env) {
      StateRenderer* renderer = AsStateRenderer(env);
      return renderer ? renderer->RenderPicture(config.video_size) : Array{};
    };
  }
  int failure_videos = 0, success_videos = 0;
  Progress progress("eval " + policy, config.episodes);
  int64_t successes = 0;
  const auto sink = [&](RolloutResult&& result) {
    const EpisodeOutcome outcome = OutcomeOf(result);
    successes += outcome.success;
    const bool first = result.index < config.video_first;
    const bool failure_video = !outcome.success && failure_videos < config.video_failures;
    const bool success_video = outcome.success && success_videos < config.video_successes;
    if (!config.video.empty() && (first || failure_video || success_video)) {
      if (!first) ++(outcome.success ? success_videos : failure_videos);
      const std::vector<Array>& large = result.view_frames;
      const std::vector<Array> small = UnstackFrames(result.episode.observations.at(video_key));
      std::vector<Array> frames;
      for (size_t t = 0; t < small.size(); ++t) {
        const bool has_large = t < large.size() && !large[t].shape.empty();
        frames.push_back(ComposeVideoFrame(small[t], has_large ? &large[t] : nullptr, config.video_size));
      }
      char name[96];
      std::snprintf(name, sizeof name, "%sepisode-%05lld-%s.mp4", video_prefix.c_str(),
                    static_cast<long long>(result.index), outcome.success ? "success" : "failure");
      WriteVideo(config.video + "/" + name, frames, /*fps=*/5.0);
      videos.push_back(config.video + "/" + name);
    }
    outcomes.push_back(outcome);
    progress.Update(int64_t(outcomes.size()),
                    "success " + std::to_string(successes) + "/" + std::to_string(outcomes.size()));
  };
  const RunnerSummary summary = RunEpisodes(
      runner,
      [&](int) {
        Worker worker;
        worker.env = MakeEnv(config.env, goals);
        worker.policy = MakePolicy(policy, spec, config.seed, policy_options);
        return worker;
      },
      nullptr, sink);
  progress.Finish("success " + std::to_string(successes) + "/" + std::to_string(outcomes.size()));
  return summary.delivered == config.episodes;
}

}  // namespace

ExitCode RunEval(const EvalConfig& flags, const std::string& tool_config_yaml) {
  ValidateEvalConfig(flags, /*inputs=*/true);
  EvalConfig config = flags;
  AdoptCheckpointObservations(&config.env, {config.policy, config.compare});
  // A run page: its folder first (and the curve, read now), videos beside it unless --video says elsewhere.
  std::vector<CurvePoint> curve;
  const std::shared_ptr<GoalSupply> goals = MakeGoalSupply(config.env, config.seed, config.device, /*live=*/false);
  std::unique_ptr<Env> probe = MakeEnv(config.env, goals);
  const EnvSpec spec = probe->spec();
  const bool has_larger_view = AsStateRenderer(*probe) != nullptr;
  probe.reset();
  if (!config.report.empty()) {
    EnsureWritableDirectory(config.report);
    // The page's videos, unless the cell has no image to show (pendulum, a robot of vectors).
    if (config.video.empty() && !RgbObservationKey(spec).empty()) config.video = config.report + "/videos";
    if (!config.report_curve.empty()) curve = ReadCurveCsv(config.report_curve);
  }
  if (!config.video.empty()) {
    if (RgbObservationKey(spec).empty()) {
      Fail(ExitCode::kUsage, "--video: the cell '" + spec.name + "' has no RGB image observation");
    }
    EnsureWritableDirectory(config.video);
    if (!has_larger_view) {
      LogWarning("--video: the cell '" + spec.name +
                 "' renders no larger view; videos show the policy view scaled up");
    }
  }
  if (IsCheckpointPolicy(config.policy) || (!config.compare.empty() && IsCheckpointPolicy(config.compare))) {
    ConfigureTorchRuntime(config.device, config.threads);
  }
  // Fail on a bad policy before any episode runs.
  PolicyOptions policy_options;
  policy_options.explore = false;  // evaluate the mean of stochastic policies
  policy_options.device = config.device;
  MakePolicy(config.policy, spec, config.seed, policy_options);
  if (!config.compare.empty()) MakePolicy(config.compare, spec, config.seed, policy_options);
  // A report file must be writable before hours of evaluation, not after.
  if (!config.json.empty()) {
    const size_t slash = config.json.find_last_of('/');
    EnsureWritableDirectory(slash == std::string::npos ? "." : config.json.substr(0, slash + 1));
  }
  if (!config.tensorboard.empty()) EnsureWritableDirectory(config.tensorboard);

  std::vector<EpisodeOutcome> a, b;
  std::vector<std::string> videos;
  const bool comparing = !config.compare.empty();
  const int64_t needed = MinDiscordantPairs(0.05);
  if (comparing && config.episodes < needed) {
    LogWarning(std::to_string(config.episodes) + " episodes: the paired test can never call a difference at alpha " +
               "0.05 (it needs at least " + std::to_string(needed) +
               " episodes in which exactly one policy succeeds); evaluate 50 or more");
  }
  if (!EvaluatePolicy(config, config.policy, spec, goals, comparing ? "a-" : "", a, videos) ||
      (comparing && !EvaluatePolicy(config, config.compare, spec, goals, "b-", b, videos))) {
    LogWarning("interrupted: no report written");
    return ExitCode::kInterrupted;
  }

  nlohmann::json report;
  report["tool"] = "rl-eval";
  report["env"] = spec.name;
  report["env_args"] = spec.env_args;  // the cell exactly, as adopted from the checkpoints
  report["objects"] = config.env.objects;
  report["episodes"] = config.episodes;
  report["seed"] = config.seed;
  EvalSummary summary_a = Summarize(a);
  summary_a.label = PolicyLabel(config.policy);
  report["a"] = ToJson(summary_a);
  report["a"]["policy"] = config.policy;
  std::string table = FormatSummary(summary_a);
  nlohmann::json outcomes = {{"a", nlohmann::json::array()}};
  for (const auto& o : a) outcomes["a"].push_back(ToJson(o));
  if (comparing) {
    EvalSummary summary_b = Summarize(b);
    summary_b.label = PolicyLabel(config.compare);
    report["b"] = ToJson(summary_b);
    report["b"]["policy"] = config.compare;
    const PairedComparison comparison = ComparePaired(a, b, config.seed, config.bootstrap_resamples);
    report["comparison"] = ToJson(comparison);
    table += FormatSummary(summary_b) + FormatComparison(comparison, config.policy, config.compare);
    outcomes["b"] = nlohmann::json::array();
    for (const auto& o : b) outcomes["b"].push_back(ToJson(o));
  }
  bool gate_failed = false;
  if (config.min_success > 0.0) {
    const double value = config.strict ? summary_a.overall.interval.low : summary_a.overall.rate;
    gate_failed = value < config.min_success;
    report["gate"] = {{"min_success", config.min_success},
                      {"strict", config.strict},
                      {"value", value},
                      {"passed", !gate_failed}};
    char line[160];
    std::snprintf(line, sizeof line, "gate: %s %.4f %s --min-success %.4f: %s\n",
                  config.strict ? "Wilson lower bound" : "success rate", value,
                  gate_failed ? "<" : ">=", config.min_success, gate_failed ? "FAILED" : "passed");
    table += line;
  }
  report["outcomes"] = outcomes;
  report["config"] = tool_config_yaml;

  const std::string text = report.dump(2) + "\n";
  if (config.json.empty() && ::isatty(STDOUT_FILENO)) {
    // A person at a terminal reads the table (stderr); the JSON is for files and pipes.
    LogInfo("the JSON report is not printed on a terminal: --json FILE writes it (as does a pipe or redirect)");
  } else if (config.json.empty()) {
    if (std::fputs(text.c_str(), stdout) < 0 || std::fflush(stdout) != 0) {
      Fail(ExitCode::kIoError, "cannot write the report to stdout");
    }
  } else {
    WriteFileAtomic(config.json, text);
  }
  if (!config.tensorboard.empty()) WriteTensorBoard(config, summary_a.overall);
  if (!config.report.empty()) {
    WriteFileAtomic(config.report + "/report.json", text);
    ReportPageInput page;
    page.title = config.report_title.empty() ? "Evaluation of " + config.policy : config.report_title;
    page.report = report;
    page.curve = curve;
    for (const std::string& video : videos) {
      page.videos.push_back(std::filesystem::path(video).lexically_proximate(config.report).string());
    }
    page.provenance = {{"tool", std::string("rl-eval ") + PERPETUA_VERSION},
                       {"written", UtcNow()},
                       {"cell", spec.name},
                       {"objects", config.env.objects},
                       {"episodes", config.episodes},
                       {"seed", config.seed},
                       {"policy A", PolicyProvenance(config.policy)}};
    if (comparing) page.provenance["policy B"] = PolicyProvenance(config.compare);
    if (!config.report_curve.empty()) page.provenance["curve"] = config.report_curve;
    LogInfo("run page: " + WriteReportPage(config.report, page));
  }
  std::fputs(table.c_str(), stderr);
  return gate_failed ? ExitCode::kGateFailed : ExitCode::kOk;
}

}  // namespace perpetua
