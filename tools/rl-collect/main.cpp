// rl-collect: run a policy on a robot or simulated cell and write trajectory shards.
// See lib/collect/collect.h for the behaviour and docs/collect.md for usage.
#include "collect/collect.h"
#include "common/cli.h"

int main(int argc, char** argv) {
  perpetua::Tool tool("rl-collect", "Run a policy on a simulated or real robot; write HDF5 "
                                    "trajectory shards and print each finished shard's path.");
  perpetua::CollectConfig config;
  tool.SetMain(config, [&] { return perpetua::RunCollect(config, tool.effective_config()); });
  return tool.Main(argc, argv);
}
