// Evaluation results: per-episode outcomes summarised into a success rate
// with its Wilson interval, mean return and length, a per-object table, and
// the paired comparison of two policies run on identical episodes. Reports
// are JSON (stdout / --json FILE) and a human table (stderr).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/stats.h"
#include "rollout/rollout.h"

namespace perpetua {

// What evaluation keeps of one episode.
struct EpisodeOutcome {
  int64_t index = 0;                 // episode index in the run
  uint64_t seed = 0;                 // Env::Reset seed
  bool success = false;              // ground truth from the cell
  double total_return = 0.0;         // sum of rewards
  int64_t length = 0;                // steps
  std::vector<int64_t> object_ids;   // objects present (empty for cells without objects)
  std::vector<std::string> object_families;  // family of each object ("" if the cell names none)
  std::string goal_region;           // the held-out goal's region (reset info "goal_region"; "" without one)
  std::string policy_id;             // the policy that acted
  bool interrupted = false;          // a robot e-stop or a person ended it: neither success nor failure
  bool unstable = false;             // a physics blow-up ended it (a failure; sim/sim_cell.h)
  // Why a failure failed ("" for a success or an interrupted episode):
  // "unstable" after a physics blow-up, else the cell's own reason (last
  // info's "failure", e.g. the grasp cell's "closed-beside"), else
  // "time-limit" when the episode was cut short, else "ended".
  std::string failure;
};
// Families come from the reset info's "objects": [{"id", "family"}, ...] when present.
EpisodeOutcome OutcomeOf(const RolloutResult& result);

// Successes among episodes, with the 95% Wilson interval.
struct RateSummary {
  int64_t episodes = 0;
  int64_t successes = 0;
  double rate = 0.0;  // successes / episodes (0 when there are none)
  Interval interval;  // 95% Wilson; [0, 1] when there are no episodes
};
RateSummary SummarizeRate(int64_t successes, int64_t episodes);

struct EvalSummary {
  std::string policy_id;
  std::string label;                 // how the table names the policy (a checkpoint: path, learner, step); "" = policy_id
  RateSummary overall;               // over the episodes not interrupted
  int64_t interrupted = 0;           // episodes a robot interruption ended, kept out of every rate
  std::vector<uint64_t> unstable_seeds;  // seeds of the episodes a physics blow-up ended (counted as failures)
  double mean_return = 0.0;
  double mean_length = 0.0;
  // Object id -> success among the episodes where that object was present
  // (an episode with several objects counts for each of them).
  std::map<int64_t, RateSummary> per_object;
  std::map<int64_t, std::string> object_family;    // object id -> family ("" if unknown)
  std::map<std::string, RateSummary> per_family;   // family -> success (same counting rule)
  // Held-out goal region -> success (rl-eval --goals with held-out goals; empty otherwise).
  std::map<std::string, RateSummary> per_goal_region;
  // Failure reason (EpisodeOutcome::failure) -> failed episodes.
  std::map<std::string, int64_t> failures;
};
// Requires at least one outcome (checked).
EvalSummary Summarize(const std::vector<EpisodeOutcome>& outcomes);

// A against B on the same episodes (pairs matched by index and seed).
struct PairedComparison {
  int64_t pairs = 0;
  int64_t both = 0, only_a = 0, only_b = 0, neither = 0;  // the 2x2 table of successes
  McNemarResult mcnemar;
  BootstrapResult bootstrap;  // rate(A) - rate(B) with its 95% percentile interval
  double alpha = 0.05;        // significance level of the verdict
  // "better" / "worse" when McNemar's mid-p < alpha (A succeeds more / less
  // often than B on the same episodes), else "indistinguishable".
  std::string verdict;
};
// The outcomes must be paired (same size, indices and seeds, at least one):
// anything else is a bug (PERPETUA_CHECK).
PairedComparison ComparePaired(const std::vector<EpisodeOutcome>& a,
                               const std::vector<EpisodeOutcome>& b, uint64_t seed,
                               int bootstrap_resamples = 10000, double alpha = 0.05);

// JSON forms (stable keys, documented in docs/eval.md).
nlohmann::json ToJson(const RateSummary& rate);
nlohmann::json ToJson(const EvalSummary& summary);
nlohmann::json ToJson(const PairedComparison& comparison);
nlohmann::json ToJson(const EpisodeOutcome& outcome);

// The fewest episodes in which exactly one policy succeeds that let the
// paired test (McNemar mid-p) call a difference at `alpha` (5 at 0.05): with
// fewer, "indistinguishable" says only that the sample is too small.
int64_t MinDiscordantPairs(double alpha);

// Readable multi-line tables for stderr (per-object rows only up to 30
// objects; the JSON always has them all). An "indistinguishable" verdict
// from too few differing episodes says so.
std::string FormatSummary(const EvalSummary& summary);
std::string FormatComparison(const PairedComparison& comparison, const std::string& name_a,
                             const std::string& name_b);

}  // namespace perpetua
