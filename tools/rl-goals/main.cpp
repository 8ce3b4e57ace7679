// rl-goals: goals the robot invents for itself (Skew-Fit).
#include "common/cli.h"

int main(int argc, char** argv) {
  perpetua::Tool tool("rl-goals", "Fit a density-skewed VAE over what the robot has seen and "
                                  "sample goals to practise (Skew-Fit).");
  tool.AddPlannedVerb("fit-vae", "fit the skewed VAE on dataset images");
  tool.AddPlannedVerb("sample", "sample goal images into goals.h5");
  return tool.Main(argc, argv);
}
