// rl-data: inspect and validate trajectory datasets.
#include "common/cli.h"

int main(int argc, char** argv) {
  perpetua::Tool tool("rl-data", "Inspect and validate trajectory datasets.");
  tool.AddPlannedVerb("inspect", "print episodes, steps, keys, shapes, success and provenance");
  return tool.Main(argc, argv);
}
