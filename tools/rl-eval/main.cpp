// rl-eval: success on held-out objects and goals, with confidence intervals.
// See lib/eval/evaluate.h for the behaviour and docs/eval.md for usage.
#include "common/cli.h"
#include "eval/evaluate.h"
#include "learners/register_learners.h"

int main(int argc, char** argv) {
  perpetua::RegisterLearnerPolicies();  // --policy CHECKPOINT of any learner
  perpetua::Tool tool("rl-eval", "Evaluate a policy on held-out objects: success rate with "
                                 "its 95% interval, per-object table, paired comparison.");
  perpetua::EvalConfig config;
  tool.SetMain(config, [&] { return perpetua::RunEval(config, tool.effective_config()); },
               [&] { perpetua::ValidateEvalConfig(config, /*inputs=*/false); });
  return tool.Main(argc, argv);
}
