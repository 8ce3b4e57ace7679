// rl-train: off-policy learning from everything ever collected plus the live stream.
#include "common/cli.h"

int main(int argc, char** argv) {
  perpetua::Tool tool("rl-train", "Off-policy learning from trajectory shards and the live "
                                  "stream of new shards.");
  tool.AddPlannedVerb("q", "QT-Opt: image Q-function with CEM action maximisation");
  tool.AddPlannedVerb("sac", "soft actor-critic (maximum entropy)");
  return tool.Main(argc, argv);
}
