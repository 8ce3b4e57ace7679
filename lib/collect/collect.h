// rl-collect: run a policy on a cell (N workers) and write trajectory shards
// forever or for a number of episodes, printing each finished shard's path on
// stdout so `rl-collect ... | rl-train ... -` consumes the live stream.
//
// Promises (tested end to end in tests/collect/):
//  * Durability: every episode handed to the DatasetWriter is on disk (fsync)
//    before the next one is written; a SIGKILL loses at most the episodes in
//    progress (one per worker) plus at most one finished episode waiting for
//    the writer. Finished episodes not yet in a shard are recovered by the
//    next writer opened on the directory (or `rl-data recover`).
//  * Interrupts: a first SIGINT/SIGTERM starts no new episode, lets the
//    running ones finish, writes them, closes the last partial shard, prints
//    every finished shard and returns kInterrupted; a second one drops the
//    episodes in progress and does the same at once.
//  * A closed stdout (the reader went away) does not lose data: shards keep
//    being written and one warning is logged.
//  * Bad input fails before anything is written: unknown env or policy
//    (kUsage), a corrupt checkpoint or one for other specs (kBadData), an
//    unwritable directory (kIoError). A full disk mid-run is kIoError with
//    every earlier shard intact.
#pragma once

#include <cstdint>
#include <string>

#include "common/config.h"
#include "collect/pace.h"
#include "common/error.h"
#include "data/dataset_writer.h"
#include "env/env_config.h"
#include "rollout/policy_factory.h"

namespace perpetua {

// Exploration as QT-Opt collected: epsilon-greedy toward a random or the
// scripted policy, Gaussian noise on the actions.
struct ExplorationConfig {
  double epsilon = 0.0;            // per-step probability of acting as `toward` instead
  std::string toward = "random";   // random | scripted
  double noise = 0.0;              // Gaussian action noise, fraction of each half-range
  double scripted_noise = 0.0;     // noise of the scripted policy (as --policy or as `toward`)
  // The random policy (as --policy or as `toward`) ends the episode by its
  // "terminate" action component (cells that have one: grasp) on this share
  // of its steps; uniform draws would end half of them, so that epsilon 0.2
  // exploration would cut most multi-step grasps short. -1: uniform.
  double random_terminate = 0.05;
  // Share of the episodes in which the scripted policy (with scripted_noise)
  // acts instead of --policy, for the whole episode (EpisodeMixturePolicy):
  // a heuristic that keeps successes in the data while the learnt policy is
  // weak (QT-Opt collected with a scripted policy at first). Epsilon and
  // noise apply on top of whichever acts. 0: off.
  double scripted_episodes = 0.0;

  void Visit(ConfigVisitor& v) {
    v.Field("epsilon", epsilon, "per-step probability of acting as --exploration.toward");
    v.Field("toward", toward, "epsilon-greedy exploration policy: random | scripted");
    v.Field("noise", noise, "Gaussian action noise, as a fraction of each half-range");
    v.Field("scripted_noise", scripted_noise, "noise of the scripted policy (action units)");
    v.Field("random_terminate", random_terminate,
            "share of the random policy's steps that terminate (cells with a 'terminate' action; -1: uniform)");
    v.Field("scripted_episodes", scripted_episodes,
            "share of the episodes acted by the scripted policy instead of --policy (0: off)");
  }
};

struct CollectConfig {
  EnvConfig env;                    // --env, --objects, --cell.*
  CellFlags cell;                   // (the view that binds --cell.*)
  std::string policy = "random";    // random | scripted | checkpoint path
  int64_t episodes = 0;             // episodes to collect (required unless --forever)
  bool forever = false;             // collect until interrupted
  std::string out;                  // dataset directory (required)
  int workers = 1;                  // cells run in parallel threads
  uint64_t seed = 0;                // run seed: episode i gets DeriveSeed(seed, 0, i) (0, as in rl-train and rl-eval)
  int64_t first_episode = 0;        // index of the first episode (continue a run's seed sequence)
  bool reload = false;              // hot-reload the checkpoint when its file changes
  ExplorationConfig exploration;
  PaceConfig pace;                  // keep pace with a trainer (unpaced by default)
  double video_fraction = 0.0;      // share of episodes saved as mp4 (chosen from the seed)
  std::string video;                // video directory, as rl-eval --video; "" = <out>/videos
  std::string device = "cpu";       // checkpoint policies: cpu | cuda[:N]
  int threads = 1;                  // LibTorch threads for checkpoint policies (the episodes depend on it)
  DatasetWriterConfig dataset;

  void Visit(ConfigVisitor& v) {
    VisitEnvFlags(v, env, cell);
    v.Field("policy", policy, "random | scripted | path of a checkpoint rl-train wrote");
    v.Field("episodes", episodes, "episodes to collect (or --forever)", FieldKind::kRequired);
    v.Field("forever", forever, "collect until SIGINT/SIGTERM");
    v.Field("out", out, "dataset directory (created if missing; shared with other collectors)", FieldKind::kRequired);
    v.Field("workers", workers, "cells run in parallel, one thread each");
    v.Field("seed", seed, "run seed; episode i is seeded DeriveSeed(seed, 0, i)");
    v.Field("first_episode", first_episode, "index of the first episode (continues a seed sequence)");
    v.Field("reload", reload, "reload the checkpoint between episodes when its file changes");
    v.Group("exploration", exploration, "exploration on top of the policy");
    v.Group("pace", pace, "keeping pace with a trainer (collect/pace.h)");
    v.Field("video_fraction", video_fraction, "share of episodes also saved as mp4 (0..1)");
    v.Field("video", video, "directory for the mp4 videos (as in rl-eval); empty = OUT/videos");
    v.Field("device", device, "checkpoint policies: cpu | cuda[:N]");
    v.Field("threads", threads, "LibTorch threads for checkpoint policies, shared by the workers; a checkpoint's actions, and so the episodes, are bit-identical only for the same --threads");
    v.Group("dataset", dataset, "shard writing");
  }
};

// Runs a collection as described in the file comment. `tool_config_yaml` is
// the effective config, saved in every shard. Returns kOk, or kInterrupted
// after a signal; throws Error for the failures listed above.
ExitCode RunCollect(const CollectConfig& config, const std::string& tool_config_yaml);

// Throws Error(kUsage) naming the first bad setting. With `inputs` false
// (--print-config) a missing --out or --episodes is not an error.
void ValidateCollectConfig(const CollectConfig& config, bool inputs);

}  // namespace perpetua
