#include "rollout/rollout.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/rng.h"
#include "common/signals.h"

namespace perpetua {

uint64_t EpisodeSeed(uint64_t run_seed, int64_t index) {
  return DeriveSeed(run_seed, /*stream=*/0, static_cast<uint64_t>(index));
}

namespace {

// Appends one step's array to a stacked [T, ...] array (created on first use).
void AppendStep(const std::string& key, const Array& step, Array& stacked, bool first) {
  if (first) {
    stacked = Array{};
    stacked.dtype = step.dtype;
    stacked.shape = step.shape;
    stacked.shape.insert(stacked.shape.begin(), 0);
  } else {
    const std::vector<int64_t> per_step(stacked.shape.begin() + 1, stacked.shape.end());
    if (step.dtype != stacked.dtype || step.shape != per_step) {
      Fail(ExitCode::kEnvFailure, "observation '" + key + "' changed from " +
                                      DTypeName(stacked.dtype) + " " + ShapeString(per_step) +
                                      " to " + DTypeName(step.dtype) + " " +
                                      ShapeString(step.shape) + " within an episode");
    }
  }
  if (step.dtype == DType::kUint8) {
    stacked.u8.insert(stacked.u8.end(), step.u8.begin(), step.u8.end());
  } else {
    stacked.f32.insert(stacked.f32.end(), step.f32.begin(), step.f32.end());
  }
  stacked.shape[0] += 1;
}

void AppendObservation(const Observation& observation, std::map<std::string, Array>& stacked,
                       bool first) {
  if (!first && observation.size() != stacked.size()) {
    Fail(ExitCode::kEnvFailure, "the cell changed its observation keys within an episode");
  }
  for (const auto& [key, array] : observation) {
    auto it = stacked.find(key);
    if (!first && it == stacked.end()) {
      Fail(ExitCode::kEnvFailure, "observation '" + key + "' appeared within an episode");
    }
    AppendStep(key, array, stacked[key], first);
  }
}

void RecordFrames(const EpisodeOptions& options, Env& env, const Observation& observation,
                  RolloutResult& result) {
  if (!options.record_key.empty()) {
    auto it = observation.find(options.record_key);
    if (it == observation.end()) {
      Fail(ExitCode::kUsage, "the cell has no observation '" + options.record_key + "' to record");
    }
    result.policy_frames.push_back(it->second);
  }
  if (options.view_renderer) result.view_frames.push_back(options.view_renderer(env));
}

}  // namespace

std::optional<RolloutResult> RunEpisode(Env& env, Policy& policy, uint64_t seed,
                                        const nlohmann::json& reset_options,
                                        const EpisodeOptions& options,
                                        const std::function<bool()>& abort) {
  const EnvSpec& spec = env.spec();
  const int action_dim = spec.action.dim();
  RolloutResult result;
  Episode& episode = result.episode;
  episode.metadata.seed = seed;
  episode.metadata.start_time_unix = UnixSeconds();

  policy.BeginEpisode(seed);
  episode.metadata.policy_id = policy.id();
  ResetResult reset = env.Reset(seed, reset_options);
  result.reset_info = reset.info;
  if (reset.info.is_object() && reset.info.contains("object_ids")) {
    for (const auto& id : reset.info["object_ids"]) episode.metadata.object_ids.push_back(id.get<int64_t>());
  }
  // The cell's true state at every observation (info "true_state", env/env.h).
  nlohmann::json true_state = nlohmann::json::object();
  const auto record_state = [&true_state](const nlohmann::json& info) {
    if (!info.is_object() || !info.contains("true_state") || !info["true_state"].is_object()) return;
    for (const auto& [key, value] : info["true_state"].items()) true_state[key].push_back(value);
  };
  record_state(reset.info);
  AppendObservation(reset.observation, episode.observations, /*first=*/true);
  RecordFrames(options, env, reset.observation, result);

  episode.actions.dtype = DType::kFloat32;
  episode.actions.shape = {0, action_dim};
  Observation observation = std::move(reset.observation);
  nlohmann::json info = std::move(reset.info);
  int64_t clipped = 0;
  const int max_steps = spec.max_episode_steps > 0 ? spec.max_episode_steps : 1000000;
  for (int step = 0;; ++step) {
    if (abort && abort()) return std::nullopt;
    std::vector<float> action = policy.Act(observation, info);
    if (static_cast<int>(action.size()) != action_dim) {
      Fail(ExitCode::kBadData, "policy " + policy.id() + " returned " +
                                   std::to_string(action.size()) + " action components, the cell '" +
                                   spec.name + "' expects " + std::to_string(action_dim));
    }
    for (int i = 0; i < action_dim; ++i) {
      if (!std::isfinite(action[i])) {
        Fail(ExitCode::kBadData, "policy " + policy.id() + " returned a non-finite action (component " +
                                     std::to_string(i) + ") at step " + std::to_string(step));
      }
    }
    clipped += ClipAction(spec.action, action);  // record the action the cell applies
    StepResult stepped = env.Step(action);
    const bool last_allowed = step + 1 >= max_steps;
    if (last_allowed && !stepped.terminated && !stepped.truncated) stepped.truncated = true;

    episode.actions.f32.insert(episode.actions.f32.end(), action.begin(), action.end());
    episode.actions.shape[0] += 1;
    episode.rewards.push_back(static_cast<float>(stepped.reward));
    episode.terminated.push_back(stepped.terminated ? 1 : 0);
    episode.truncated.push_back(stepped.truncated ? 1 : 0);
    result.total_return += stepped.reward;
    AppendObservation(stepped.observation, episode.observations, /*first=*/false);
    record_state(stepped.info);
    RecordFrames(options, env, stepped.observation, result);
    observation = std::move(stepped.observation);
    info = std::move(stepped.info);
    if (stepped.terminated || stepped.truncated) break;
  }
  episode.metadata.end_time_unix = UnixSeconds();
  if (info.is_object() && info.contains("success") && info["success"].is_boolean()) {
    episode.metadata.success = info["success"].get<bool>();
  }
  // A robot's interruption (robot/remote_env.h) is kept apart from failures.
  if (info.is_object() && info.contains("interrupted") && info["interrupted"].is_boolean()) {
    episode.metadata.interrupted = info["interrupted"].get<bool>();
  }
  nlohmann::json extra = {{"return", result.total_return}, {"clipped_action_components", clipped}};
  if (!true_state.empty()) extra["true_state"] = std::move(true_state);
  if (result.reset_info.is_object() && result.reset_info.contains("goal_index")) {  // env/goal_env.h
    extra["goal_index"] = result.reset_info["goal_index"];
    if (result.reset_info.contains("goal_vae")) extra["goal_vae"] = result.reset_info["goal_vae"];
  }
  // A remote robot's pacing statistics (achieved rate, jitter, holds).
  if (info.is_object() && info.contains("robot") && info["robot"].is_object() &&
      info["robot"].contains("episode")) {
    extra["robot"] = info["robot"]["episode"];
  }
  // A physics blow-up (sim/sim_cell.h) ended the episode: flagged with what
  // reproduces it, and logged once; the run goes on.
  if (info.is_object() && info.contains("unstable") && info["unstable"].is_object()) {
    extra["unstable"] = info["unstable"];
    LogWarning(spec.name + ": episode with seed " + std::to_string(seed) +
               ": the simulation became unstable (" + info["unstable"].dump() +
               "); the episode ends truncated and is flagged 'unstable'");
  }
  episode.metadata.extra_json = extra.dump();
  result.final_info = std::move(info);
  return result;
}

namespace {

// State shared between the calling thread and the workers.
struct RunState {
  std::mutex mutex;
  std::condition_variable changed;
  int64_t next_to_start = 0;    // relative index of the next episode to claim
  int64_t next_to_deliver = 0;  // relative index the sink expects next
  int64_t finished_steps = 0;   // steps of the episodes finished so far
  std::map<int64_t, std::optional<RolloutResult>> finished;  // nullopt: dropped
  int active_workers = 0;
  std::atomic<bool> halt{false};  // an error: workers drop what they run and exit
  std::exception_ptr error;       // the first failure

  void SetError(std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!error) error = e;
    halt = true;
    changed.notify_all();
  }
};

constexpr auto kPollInterval = std::chrono::milliseconds(20);

void WorkerLoop(int worker_index, const RunnerOptions& options, const WorkerFactory& make_worker,
                const ResetOptionsFn& options_for, RunState& state, int64_t window) {
  try {
    Worker worker = make_worker(worker_index);
    PERPETUA_CHECK(worker.env && worker.policy);
    const auto abort = [&] { return state.halt.load() || options.abort_requested(); };
    for (;;) {
      int64_t relative = -1;
      {
        std::unique_lock<std::mutex> lock(state.mutex);
        for (;;) {
          if (state.halt || options.stop_requested()) break;
          if (options.episodes >= 0 && state.next_to_start >= options.episodes) break;
          if (state.next_to_start - state.next_to_deliver < window &&
              (!options.may_start || options.may_start(state.finished_steps))) {
            relative = state.next_to_start++;
            break;
          }
          state.changed.wait_for(lock, kPollInterval);
        }
      }
      if (relative < 0) break;
      const int64_t index = options.first_index + relative;
      const uint64_t seed = EpisodeSeed(options.seed, index);
      const nlohmann::json reset_options =
          options_for ? options_for(index, seed) : nlohmann::json::object();
      std::optional<RolloutResult> result =
          RunEpisode(*worker.env, *worker.policy, seed, reset_options, options.episode, abort);
      if (result) result->index = index;
      std::lock_guard<std::mutex> lock(state.mutex);
      if (result) state.finished_steps += result->episode.num_steps();
      state.finished.emplace(relative, std::move(result));
      state.changed.notify_all();
    }
  } catch (...) {
    state.SetError(std::current_exception());
  }
  std::lock_guard<std::mutex> lock(state.mutex);
  --state.active_workers;
  state.changed.notify_all();
}

}  // namespace

RunnerSummary RunEpisodes(const RunnerOptions& options_in, const WorkerFactory& make_worker,
                          const ResetOptionsFn& options_for, const EpisodeSink& sink) {
  PERPETUA_CHECK(options_in.workers >= 1);
  RunnerOptions options = options_in;
  if (!options.stop_requested) options.stop_requested = [] { return StopRequested(); };
  if (!options.abort_requested) options.abort_requested = [] { return AbortRequested(); };
  const int64_t window =
      options.workers + (options.max_pending > 0 ? options.max_pending : 2 * options.workers);

  const auto start = std::chrono::steady_clock::now();
  RunnerSummary summary;
  RunState state;
  state.active_workers = options.workers;
  std::vector<std::thread> threads;
  threads.reserve(options.workers);
  for (int w = 0; w < options.workers; ++w) {
    threads.emplace_back(WorkerLoop, w, std::cref(options), std::cref(make_worker),
                         std::cref(options_for), std::ref(state), window);
  }

  bool sink_failed = false;
  for (;;) {
    std::optional<RolloutResult> next;
    bool have = false;
    {
      std::unique_lock<std::mutex> lock(state.mutex);
      for (;;) {
        auto it = state.finished.find(state.next_to_deliver);
        if (it != state.finished.end()) {
          next = std::move(it->second);
          state.finished.erase(it);
          ++state.next_to_deliver;
          have = true;
          break;
        }
        if (state.active_workers == 0) {
          // Nothing will fill the gap (an error or an abort): skip to the next finished one.
          if (state.finished.empty()) break;
          state.next_to_deliver = state.finished.begin()->first;
          continue;
        }
        state.changed.wait_for(lock, kPollInterval);
      }
      state.changed.notify_all();
    }
    if (!have) break;
    if (!next) {
      ++summary.dropped;
      continue;
    }
    summary.steps += next->episode.num_steps();
    try {
      sink(std::move(*next));
    } catch (...) {
      state.SetError(std::current_exception());
      sink_failed = true;
      break;
    }
    ++summary.delivered;
  }
  for (auto& thread : threads) thread.join();
  if (sink_failed) {
    // Count what the workers had finished but the sink never took.
    for (auto& entry : state.finished) {
      if (!entry.second) ++summary.dropped;
    }
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (state.error) std::rethrow_exception(state.error);
  summary.stopped = options.episodes < 0 || summary.delivered < options.episodes;
  return summary;
}

}  // namespace perpetua
