// rl-label: rewards learned from example images of success (VICE-RAQ).
#include "common/cli.h"

int main(int argc, char** argv) {
  perpetua::Tool tool("rl-label", "Learn rewards from a few example images of success (VICE), "
                                  "asking a person a few questions.");
  tool.AddPlannedVerb("train-classifier", "train a success classifier from examples and robot data");
  tool.AddPlannedVerb("query", "show a person the states most likely to be successes");
  tool.AddPlannedVerb("relabel", "write classifier rewards into a dataset");
  return tool.Main(argc, argv);
}
