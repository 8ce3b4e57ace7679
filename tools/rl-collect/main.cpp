// rl-collect: run a policy on a robot or simulated cell and write trajectory shards.
#include "common/cli.h"

int main(int argc, char** argv) {
  perpetua::Tool tool("rl-collect", "Run a policy on a simulated or real robot; write HDF5 "
                                    "trajectory shards and print each finished shard's path.");
  tool.AddPlannedVerb("run", "collect episodes");
  return tool.Main(argc, argv);
}
