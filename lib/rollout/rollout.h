// The one episode loop shared by rl-collect and rl-eval: a policy drives an
// environment from Reset() until the episode ends, and the steps are
// assembled into an Episode (data/episode.h) ready for the dataset writer.
//
// RunEpisodes() runs many episodes on N worker threads. Each worker builds
// and owns its own Env and Policy (in its own thread: renderers bind GL
// contexts to threads). Determinism: episode i always gets the seed
// EpisodeSeed(seed, i) and the reset options options_for(i, seed_i), whatever
// the worker count, and results reach the sink in episode-index order, so a
// run with 4 workers gives the same episodes as a run with 1 (given policies
// that reseed in Policy::BeginEpisode).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/array.h"
#include "data/episode.h"
#include "env/env.h"
#include "policy/policy.h"

namespace perpetua {

// The seed of episode `index` of a run seeded with `run_seed`:
// DeriveSeed(run_seed, /*stream=*/0, index).
uint64_t EpisodeSeed(uint64_t run_seed, int64_t index);

// Renders an extra (larger) view of the cell for videos: [H, W, 3] uint8.
// Called after Reset() and after every Step() on the worker's thread.
using ViewRenderer = std::function<Array(Env& env)>;

// How RunEpisode records an episode.
struct EpisodeOptions {
  // Keep each step's frame of this observation key (plus the final one) in
  // RolloutResult::policy_frames; "" records none.
  std::string record_key;
  // If set, also render and keep a larger view per step (RolloutResult::view_frames).
  ViewRenderer view_renderer;
};

// One finished episode with what evaluation needs beside the arrays.
struct RolloutResult {
  int64_t index = 0;                  // episode index in the run (0, 1, ...)
  Episode episode;                    // arrays and metadata (seed, success, objects, policy id, times)
  double total_return = 0.0;          // sum of rewards
  nlohmann::json reset_info;          // the cell's info at Reset()
  nlohmann::json final_info;          // the cell's info at the last step
  std::vector<Array> policy_frames;   // (N+1) frames of EpisodeOptions::record_key, if asked
  std::vector<Array> view_frames;     // (N+1) larger views, if asked
};

// Runs one episode: policy.BeginEpisode(seed), env.Reset(seed, options), then
// Act/Step until terminated or truncated. If the cell has not ended the
// episode after spec().max_episode_steps steps, the last step is marked
// truncated (a safety net; cells truncate themselves).
//
// metadata.success comes from the last step's info["success"] (false if
// absent); metadata.object_ids from the reset info's "object_ids" (if any);
// metadata.interrupted from the last step's info["interrupted"] (a robot's
// e-stop or a person); a remote robot's pacing statistics (last info's
// "robot"/"episode") go to metadata.extra_json["robot"]. A simulated cell's
// physics blow-up (last info's "unstable", sim/sim_cell.h) goes to
// metadata.extra_json["unstable"] and is logged as one warning line; the
// episode itself is a truncated failure.
// `abort` is polled before every step: when it returns true the episode is
// dropped and std::nullopt returned. Exceptions from env and policy propagate.
std::optional<RolloutResult> RunEpisode(Env& env, Policy& policy, uint64_t seed,
                                        const nlohmann::json& reset_options,
                                        const EpisodeOptions& options,
                                        const std::function<bool()>& abort);

// What one worker drives: built in the worker's own thread.
struct Worker {
  std::unique_ptr<Env> env;
  std::unique_ptr<Policy> policy;
};
// Builds worker `worker_index`'s env and policy. May throw (the run fails).
using WorkerFactory = std::function<Worker(int worker_index)>;
// Reset options for episode `index` with seed `seed` (e.g. which objects).
// Must be a pure function of its arguments; called from worker threads.
using ResetOptionsFn = std::function<nlohmann::json(int64_t index, uint64_t seed)>;
// Receives finished episodes on the calling thread, in increasing index
// order (with gaps only where an abort dropped an episode). May throw: the
// run then stops and RunEpisodes rethrows.
using EpisodeSink = std::function<void(RolloutResult&&)>;

struct RunnerOptions {
  int workers = 1;               // worker threads, each with its own env and policy (>= 1)
  uint64_t seed = 0;             // run seed; episode i gets EpisodeSeed(seed, first_index + i)
  int64_t first_index = 0;       // index of the first episode
  int64_t episodes = 0;          // number of episodes; < 0 runs until stopped
  EpisodeOptions episode;        // recording options for every episode
  // Polled between episodes: when true, no new episode starts; those in
  // progress finish and are delivered. Default: StopRequested() (signals.h).
  std::function<bool()> stop_requested;
  // Polled between steps: when true, episodes in progress are dropped.
  // Default: AbortRequested() (signals.h).
  std::function<bool()> abort_requested;
  // Polled before each episode is claimed (every 20 ms while it says false,
  // from worker threads, one at a time) with the steps of the episodes that
  // finished so far in this run (delivered or not): false holds the next
  // episode back, e.g. to keep pace with a trainer (collect/pace.h). Empty:
  // always true.
  std::function<bool(int64_t finished_steps)> may_start;
  // Finished episodes waiting for the sink, at most (backpressure); 0: 2 x workers.
  int max_pending = 0;
};

// Why RunEpisodes returned.
struct RunnerSummary {
  int64_t delivered = 0;       // episodes handed to the sink
  int64_t dropped = 0;         // episodes in progress dropped by an abort
  bool stopped = false;        // a stop or abort request ended the run early
  int64_t steps = 0;           // environment steps in delivered episodes
  double seconds = 0.0;        // wall-clock duration
};

// Runs episodes as described in the file comment and returns when
// `episodes` are delivered, or a stop/abort request has been honoured. If a
// worker (env, policy, factory) or the sink throws, the other workers are
// stopped after their current step and the first exception is rethrown once
// every thread has joined.
RunnerSummary RunEpisodes(const RunnerOptions& options, const WorkerFactory& make_worker,
                          const ResetOptionsFn& options_for, const EpisodeSink& sink);

}  // namespace perpetua
