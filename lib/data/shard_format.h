// The on-disk format of Perpetua trajectory datasets (schema version 1).
//
// A dataset is a directory:
//   DIR/shard-<token>-<seq>.h5     complete shards; the only files readers open
//   DIR/.staging/<token>/          one folder per live (or dead) writer:
//       lock                       flock-ed by the writer while it lives
//       s<seq>-e<k>.h5             episode k of shard seq, one complete file each
//       *.tmp                      files being written (never read, deleted by recovery)
// <token> is UniqueToken() (host-pid-ns-random), so names never collide.
//
// A shard (and a staged episode file) is HDF5 in robomimic's layout:
//   /                      attrs: perpetua_schema_version (int64) = kSchemaVersion,
//                                 perpetua_provenance (JSON string: tool, version,
//                                 host, pid, writer token, created_unix, hdf5 version),
//                                 perpetua_tool_config (YAML string: the writer tool's
//                                 effective config)
//   /data                  attrs: total (int64, sum of num_samples), env_args (JSON string),
//                                 perpetua_env_spec (JSON string, may be "{}")
//   /data/demo_<i>         attrs: num_samples (int64 N), success, interrupted (int64 0/1),
//                                 seed (uint64), object_ids (int64 array), policy_id,
//                                 extra_json (strings), start_time_unix, end_time_unix (double)
//       actions            (N, A) float32
//       rewards            (N,)   float32
//       dones              (N,)   uint8   terminated OR truncated
//       terminated         (N,)   uint8   the task ended the episode: do not bootstrap
//       truncated          (N,)   uint8   a time limit / interruption cut it: bootstrap
//       obs/<key>          (N, ...) observations the actions were chosen from
//                                 uint8 images (N, H, W, C) or float32 vectors (N, k)
//       final_obs/<key>    (1, ...) the observation after the last action
//       next_obs/<key>     (N, ...) optional (WriterOptions store_next_obs)
//   /mask/train, /mask/valid   (M,) fixed-length byte strings "demo_<i>"
// Every dataset is chunked with the fletcher32 checksum filter, so flipped
// bytes are detected on read; images (uint8 [H, W, C] per step) and any
// observation of 1 KiB or more per step are chunked one step per chunk and
// deflate-compressed; the rest is one chunk per dataset. Deflate and
// fletcher32 are built into every HDF5 library (h5py, robomimic, HDFView).
#pragma once

#include <cstdint>

namespace perpetua {

inline constexpr int64_t kSchemaVersion = 1;
inline constexpr const char* kSchemaVersionAttr = "perpetua_schema_version";
inline constexpr const char* kProvenanceAttr = "perpetua_provenance";
inline constexpr const char* kToolConfigAttr = "perpetua_tool_config";
inline constexpr const char* kEnvSpecAttr = "perpetua_env_spec";
inline constexpr const char* kStagingDirName = ".staging";
inline constexpr const char* kShardPrefix = "shard-";
inline constexpr const char* kShardSuffix = ".h5";
// Per-step bytes from which any observation is chunked per step and compressed.
inline constexpr int64_t kCompressMinStepBytes = 1024;

}  // namespace perpetua
