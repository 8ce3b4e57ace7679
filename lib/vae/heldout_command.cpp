#include "vae/heldout_command.h"

#include <cstring>
#include <iostream>

#include "common/rng.h"
#include "data/goal_file.h"
#include "env/state_render.h"
#include "env_factory/make_env.h"
#include "sim/heldout_goals.h"

namespace perpetua {
namespace {

// The seed stream of the resets goal pictures are rendered from.
constexpr uint64_t kHeldoutStream = 32;

}  // namespace

void HeldoutGoalsConfig::Validate(bool inputs) const {
  if (inputs && out.empty()) Fail(ExitCode::kUsage, "--out is required");
  if (count < 1 || count > 100000) Fail(ExitCode::kUsage, "--count must be in 1..100000");
  if (!env.goals.empty()) Fail(ExitCode::kUsage, "--goals: held-out goals are made from the cell itself, not a goal file");
}

ExitCode RunHeldoutGoals(const HeldoutGoalsConfig& config) {
  config.Validate();
  const std::vector<sim::HeldoutGoal> goals = sim::HeldoutGoals(config.env.name, static_cast<int>(config.count));
  std::unique_ptr<Env> env = MakeEnv(config.env);
  StateRenderer* renderer = AsStateRenderer(*env);
  if (renderer == nullptr) Fail(ExitCode::kUsage, "cell '" + config.env.name + "' cannot render a state");
  GoalSet set;
  nlohmann::json each = nlohmann::json::array();
  for (size_t i = 0; i < goals.size(); ++i) {
    env->Reset(DeriveSeed(config.seed, kHeldoutStream, i), goals[i].reset);
    const Observation observation = renderer->RenderState(goals[i].state);
    const Array& image = observation.at("image");
    if (i == 0) {
      std::vector<int64_t> shape = {static_cast<int64_t>(goals.size())};
      shape.insert(shape.end(), image.shape.begin(), image.shape.end());
      set.images = Array::Zeros(DType::kUint8, shape);
    }
    std::memcpy(set.images.u8.data() + i * image.u8.size(), image.u8.data(), image.u8.size());
    each.push_back({{"reset", goals[i].reset}, {"state", goals[i].state}, {"region", goals[i].region}});
  }
  set.latents = Array::Zeros(DType::kFloat32, {set.size(), 0});
  set.meta = {{"source", "heldout"},
              {"cell", config.env.name},
              {"env_args", env->spec().env_args},
              {"seed", config.seed},
              {"image_key", "image"},
              {"threshold", sim::GoalThreshold(config.env.name)},
              {"goals", each}};
  WriteGoalFile(config.out, set);
  std::cout << config.out << std::endl;
  return ExitCode::kOk;
}

}  // namespace perpetua
