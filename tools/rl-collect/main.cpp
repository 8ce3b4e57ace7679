// rl-collect: run a policy on a robot or simulated cell and write trajectory shards.
// See lib/collect/collect.h for the behaviour and docs/collect.md for usage.
#include <hdf5.h>

#include "collect/collect.h"
#include "common/cli.h"
#include "learners/register_learners.h"

int main(int argc, char** argv) {
  // HDF5 1.10 crashes in its exit-time cleanup (H5_term_library) when a file
  // failed to close, e.g. on a full disk, turning exit code 6 into a SIGSEGV.
  // Every file the writer opens is closed explicitly or abandoned after such a
  // failure (its episodes are fsynced elsewhere), so skip that cleanup.
  H5dont_atexit();
  perpetua::RegisterLearnerPolicies();  // --policy CHECKPOINT of any learner
  perpetua::Tool tool("rl-collect", "Run a policy on a simulated or real robot; write HDF5 "
                                    "trajectory shards and print each finished shard's path.");
  perpetua::CollectConfig config;
  tool.SetMain(config, [&] { return perpetua::RunCollect(config, tool.effective_config()); },
               [&] { perpetua::ValidateCollectConfig(config, /*inputs=*/false); });
  return tool.Main(argc, argv);
}
