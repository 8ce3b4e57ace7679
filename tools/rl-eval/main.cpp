// rl-eval: success on held-out objects and goals, with confidence intervals.
#include "common/cli.h"

int main(int argc, char** argv) {
  perpetua::Tool tool("rl-eval", "Evaluate a policy on held-out objects: success rate with "
                                 "its 95% interval, per-object table, paired comparison.");
  tool.AddPlannedVerb("run", "evaluate a policy");
  return tool.Main(argc, argv);
}
