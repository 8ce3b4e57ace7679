// Goal files: the goals rl-goals sample writes for goal-conditioned
// collection and evaluation to read. One HDF5 file:
//   /goals                 group; attributes:
//       perpetua_goals     format version (1)
//       meta               JSON: how the goals were made (source "prior",
//                          "data" or "heldout", the VAE checkpoint's path
//                          and id, the image key, seed, alpha, ...); with
//                          "goals": one object per goal, {"reset": the
//                          cell's reset options that make reaching it the
//                          cell's own success, "region": its part of the
//                          goal range, "state": the state rendered} (held-out
//                          goals, rl-goals heldout; env/goal_env.h applies them)
//   /goals/images          [N,H,W,C] uint8: the goal images
//   /goals/latents         [N,L] float32: each goal in the VAE's latent space
//                          (absent for goals no VAE made: held-out goals)
// Written atomically (a temporary file in the same directory, fsync, rename):
// a reader sees the old file or the new one. Torch-free.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "common/array.h"
#include "env/goal_env.h"

namespace perpetua {

inline constexpr int kGoalFileFormat = 1;

struct GoalSet {
  Array images;         // [N,H,W,C] uint8
  Array latents;        // [N,L] float32 ([N,0] when no VAE made them)
  nlohmann::json meta;  // an object
  int64_t size() const { return images.shape.empty() ? 0 : images.shape[0]; }
};

// Writes `goals` to `path` atomically. Error(kUsage) for shapes that do not
// fit the layout above (no goal, other ranks or dtypes, N differing between
// images and latents), Error(kIoError) when the file cannot be written.
void WriteGoalFile(const std::string& path, const GoalSet& goals);

// Reads a goal file. Error(kBadData) "<path>: ..." for a file that is not a
// goal file (not HDF5, no /goals, another format), shapes as above broken,
// non-finite latents, or a truncated or corrupt file.
GoalSet ReadGoalFile(const std::string& path);

// What an env's goals need of a set (env/goal_env.h): its images, its meta
// "goals" (null when absent) and its meta "vae_id" ("" when absent).
GoalImages ToGoalImages(GoalSet goals);

// --goals FILE (env/goal_env.h): the file's images, its meta "goals" and its
// meta "vae_id", read again whenever the file is replaced (env/followed_goals.h),
// so that collectors pick up the goals `rl-goals sample --follow` rewrites as
// its VAE trains; each read is logged ("FILE: N goals from the VAE of
// checkpoint ID"). The first read throws as ReadGoalFile.
std::shared_ptr<GoalSupply> GoalFileSupply(const std::string& path);

}  // namespace perpetua
