// ReplayData over trajectory datasets on disk (lib/data): the offline buffer
// is a DatasetSampler over the --data directories (RefreshOffline adds the
// shards that appear there later), and every online shard opens as a
// DatasetSampler of its own (ReplayMix keeps a window of them). Torch-free.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "data/dataset_sampler.h"
#include "env/env.h"
#include "replay/replay_mix.h"

namespace perpetua {

// Opens every shard of `dirs` (may be empty: online-only training). Throws
// Error(kBadData) "<dir>: no shards" for an empty directory, and the reader's
// errors for missing/corrupt/mismatched shards. spec() is valid once any
// transition is known (offline, or after the first online shard):
// observations sorted by key from the shards' schema; action bounds from the
// shards' perpetua_env_spec attribute when present, else [-1, 1] per component.
// With `subset`, only the directories' shards it keeps (data/shard_subset.h).
std::unique_ptr<ReplayData> OpenDatasetReplay(const std::vector<std::string>& dirs, DatasetSamplerConfig config,
                                              const ShardSubset& subset = {});

// The EnvSpec a dataset file declares (see OpenDatasetReplay). Throws Error(kBadData).
EnvSpec EnvSpecOfShard(const std::string& path, const Schema& schema);

}  // namespace perpetua
