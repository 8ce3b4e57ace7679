// rl-goals sample: goals drawn from a fitted VAE into a goal file
// (data/goal_file.h) that goal-conditioned collection and evaluation read.
//
//   --from prior   z ~ N(0, I) (the VAE's generative model: Skew-Fit's goal
//                  distribution when the VAE was fitted with alpha < 0); the
//                  goal image is the decoded z, resized to the data's image
//                  size; the goal latent is z.
//   --from data    images of --data drawn with weights p(x)^--alpha over a
//                  pool of --pool images drawn uniformly (vae/skew.h),
//                  tempered by --skew-min-ess as the trainer's are, with
//                  a lower floor by default (0.01 against 0.1: the
//                  collectors' goals reach further, docs/goals.md); the
//                  goal image is the real image, its latent the posterior
//                  mean (rlkit's Skew-Fit exploration goals: seen states
//                  drawn with the skew weights). With --follow the data
//                  stays open and the shards written since are added
//                  before each draw.
// Every draw comes from --seed: the same seed and inputs give the same file.
// The file's meta records the source, the VAE (path, id, step), the image
// key and size, the seed, and for --from data alpha, skew_min_ess,
// applied_alpha, pool, the data and the pool's effective sample size.
// --follow S streams: it checks the VAE file every S seconds and, whenever
// it was replaced (rl-goals fit or rl-train sac --goals writing a new
// latest.ckpt), draws again and atomically replaces --out, printing the
// path each time; collectors with --goals FILE take the new goals at their
// next episode (data/goal_file.h). It runs until SIGINT or SIGTERM (exit
// 130); a VAE file that cannot be read then is warned about and skipped.
// Torch-free header.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/error.h"
#include "data/dataset_sampler.h"
#include "env/goal_env.h"
#include "replay/replay_mix.h"

namespace perpetua {

struct SampleGoalsConfig {
  std::string vae;
  std::string out;
  int64_t count = 100;
  std::string from = "prior";
  std::vector<std::string> data;
  double alpha = -1.0;
  int pool = 2048;
  double skew_min_ess = 0.01;
  uint64_t seed = 0;
  std::string device = "cpu";
  int threads = 0;
  double follow = 0;
  DatasetSamplerConfig dataset;
  void Visit(ConfigVisitor& v) {
    v.Field("vae", vae, "the VAE checkpoint (rl-goals fit's latest.ckpt)", FieldKind::kRequired);
    v.Field("out", out, "the goal file to write (HDF5, atomically replaced)", FieldKind::kRequired);
    v.Field("count", count, "goals to draw");
    v.Field("from", from, "prior: decode z ~ N(0, I); data: real images of --data, skewed by p(x)^alpha");
    v.Field("data", data, "with --from data: dataset directories to draw images from");
    v.Field("alpha", alpha, "with --from data: weights p(x)^alpha over the pool, in [-1, 0] (0: uniform)");
    v.Field("pool", pool, "with --from data: images drawn uniformly whose densities weight the goals");
    v.Field("skew_min_ess", skew_min_ess,
            "with --from data: temper the skew so that its effective sample size stays at least this share of the "
            "pool, in [0, 1] (0: p(x)^alpha as it is)");
    v.Field("seed", seed, "seed of every draw");
    v.Field("device", device, "where the VAE runs: cpu or cuda[:N]");
    v.Field("threads", threads, "LibTorch intra-op threads (0: one per core; 1 beside a trainer and a collector)");
    v.Field("follow", follow,
            "stream: every this many seconds, if --vae was replaced, draw again into --out (until SIGINT/SIGTERM); "
            "0: draw once");
    v.Group("dataset", dataset, "reading --data");
  }
  // Error(kUsage) naming the flag. With `inputs` false (--print-config) a
  // missing --vae, --out or --data is not an error.
  void Validate(bool inputs = true) const;
};

// Draws the goals and writes the file; prints its path on stdout (again at
// each new draw with --follow).
ExitCode RunSampleGoals(const SampleGoalsConfig& config, const ReplayDataFactory& data_factory);

// --goals vae:CKPT for collectors (rollout/goal_factory.h): `count` goals
// decoded from z ~ N(0, I) (seeded by `seed`) by the VAE of `checkpoint`
// (rl-goals fit's, or a goal-conditioned SAC checkpoint, which holds its
// VAE), resized to the cell's `image_shape` [H,W,C]. Drawn again, the same
// latents through the new VAE, whenever the checkpoint file is replaced;
// each set carries the checkpoint's id (GoalImages::vae_id). The first draw
// throws: Error(kBadData) for a file without a VAE or a VAE that does not
// read the cell's 3-channel 'image'; later failures warn and keep the goals.
struct VaeGoalOptions {
  std::string checkpoint;
  std::vector<int64_t> image_shape;
  int64_t count = 256;
  uint64_t seed = 0;
  std::string device = "cpu";
};
std::shared_ptr<GoalSupply> MakeVaeGoalSupply(const VaeGoalOptions& options);

}  // namespace perpetua
