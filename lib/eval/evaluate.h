// rl-eval: success of a policy on held-out objects (or any object set), with
// a 95% Wilson interval, mean return and length, a per-object table, an
// optional paired comparison against a second policy on identical episodes,
// a promotion gate and videos.
//
// Determinism: episode i is seeded EpisodeSeed(seed, i) and its objects and
// poses follow from that seed, so the report is the same for any --workers
// (only the "config" entry, which records the flags, differs) and a compared
// policy B meets exactly the episodes A met.
//
// Output: the JSON report on stdout, or atomically into --json FILE (stdout
// then stays empty); a readable table on stderr. With --tensorboard DIR, policy
// A's success rate and 95% Wilson bounds also go to a new event file in DIR as
// the scalars "<objects>/success", "<objects>/wilson_low", "<objects>/wilson_high"
// at step --tensorboard-step (docs/tensorboard.md; scripts/loop.sh uses it). Videos: mp4 of the first
// --video-first episodes and of up to --video-failures failures, each frame
// the policy's view (scaled) beside the cell's larger picture of the same
// moment at --video-size pixels (StateRenderer::RenderPicture; a cell without
// one gets the policy view scaled up alone).
//
// Exit codes: kOk; kGateFailed when --min-success is set and the success
// rate (with --strict: the interval's lower bound) is below it; kUsage for
// bad flags (N = 0, unknown env, policy or object ids); kBadData for a
// corrupt checkpoint or one for other specs; kEnvFailure if the cell fails;
// kIoError if the report or a video cannot be written; kInterrupted after
// SIGINT/SIGTERM (no report: a partial evaluation would mislead).
#pragma once

#include <cstdint>
#include <string>

#include "common/config.h"
#include "common/error.h"
#include "env/env_config.h"
#include "rollout/policy_factory.h"

namespace perpetua {

struct EvalConfig {
  EvalConfig() { env.objects = "heldout"; }
  EnvConfig env;                   // --env, --objects (default heldout), --cell.*
  CellFlags cell;                  // (the view that binds --cell.*)
  std::string policy;              // A: random | scripted | checkpoint path (required)
  std::string compare;             // B: a second policy run on the same episodes ("" = none)
  int64_t episodes = 100;          // episodes per policy
  uint64_t seed = 0;               // run seed
  int workers = 1;                 // cells run in parallel; does not change the result
  std::string json;                // report file ("" = stdout)
  double min_success = 0.0;        // gate: exit kGateFailed below this (0 = no gate)
  bool strict = false;             // gate on the Wilson lower bound instead of the rate
  std::string video;               // directory for mp4 videos ("" = none)
  int video_first = 5;             // videos of the first K episodes
  int video_failures = 10;         // and of at most this many failures
  int video_successes = 0;         // and of at most this many successes (after the first K)
  int video_size = 256;            // side of the larger view in videos
  std::string device = "cpu";      // checkpoint policies: cpu | cuda[:N]
  int threads = 1;                 // LibTorch threads for checkpoint policies (the result depends on it)
  int bootstrap_resamples = 10000; // paired bootstrap resamples for --compare
  std::string tensorboard;         // TensorBoard run directory for the success scalars ("" = none)
  int64_t tensorboard_step = 0;    // their step (the loop: the round's training steps)
  std::string report;              // run page directory: index.html, report.json, videos/ ("" = none)
  std::string report_curve;        // a learning curve CSV shown on the page (the loop's curve.csv)
  std::string report_title;        // the page's heading ("" = "Evaluation of <policy>")

  void Visit(ConfigVisitor& v) {
    VisitEnvFlags(v, env, cell);
    v.Field("policy", policy, "policy A: random | scripted | checkpoint path", FieldKind::kRequired);
    v.Field("compare", compare, "policy B, run on the same episodes for a paired test");
    v.Field("episodes", episodes, "episodes per policy (>= 1)");
    v.Field("seed", seed, "run seed; episode i is seeded DeriveSeed(seed, 0, i)");
    v.Field("workers", workers, "cells run in parallel (the result does not depend on it)");
    v.Field("json", json, "write the JSON report here instead of stdout");
    v.Field("min_success", min_success, "gate: exit 5 when the success rate is below this");
    v.Field("strict", strict, "gate on the 95% Wilson lower bound instead of the rate");
    v.Field("video", video, "directory for mp4 videos of episodes (empty = none)");
    v.Field("video_first", video_first, "videos of the first K episodes");
    v.Field("video_failures", video_failures, "videos of at most this many failed episodes");
    v.Field("video_successes", video_successes, "videos of at most this many successful episodes (after the first K)");
    v.Field("video_size", video_size, "pixel side of the larger view in videos");
    v.Field("device", device, "checkpoint policies: cpu | cuda[:N]");
    v.Field("threads", threads, "LibTorch threads for checkpoint policies, shared by the workers; a checkpoint's actions, and so the episodes, are bit-identical only for the same --threads");
    v.Field("bootstrap_resamples", bootstrap_resamples, "resamples of the paired bootstrap");
    v.Field("tensorboard", tensorboard,
            "also write <objects>/success, wilson_low, wilson_high to an event file in this directory");
    v.Field("tensorboard_step", tensorboard_step, "the step of those scalars (>= 0)");
    v.Field("report", report,
            "write a run page here: index.html (curve, table, videos, config, provenance), report.json, videos/");
    v.Field("report_curve", report_curve, "learning curve CSV for the page (columns minutes, train_steps, "
                                          "success, wilson_low, wilson_high)");
    v.Field("report_title", report_title, "heading of the page");
  }
};

// Runs the evaluation described in the file comment. `tool_config_yaml` is
// the effective config, recorded in the report.
ExitCode RunEval(const EvalConfig& config, const std::string& tool_config_yaml);

// Throws Error(kUsage) naming the first bad setting. With `inputs` false
// (--print-config) a missing --policy is not an error.
void ValidateEvalConfig(const EvalConfig& config, bool inputs);

}  // namespace perpetua
