#include "env_factory/heldout_goal_set.h"

#include <cstring>
#include <optional>

#include "common/error.h"
#include "common/rng.h"
#include "common/whole_number.h"
#include "env/state_render.h"
#include "env_factory/make_env.h"
#include "sim/heldout_goals.h"

namespace perpetua {
namespace {

// The seed stream of the resets goal pictures are rendered from.
constexpr uint64_t kHeldoutStream = 32;

// N of "heldout:N" (kHeldoutGoalCount for "heldout").
int64_t HeldoutCount(const std::string& goals) {
  if (goals == "heldout") return kHeldoutGoalCount;
  const std::string digits = goals.substr(std::strlen("heldout:"));
  const std::string bad = "--goals " + goals + ": N of heldout:N must be a whole number in 1.." +
                          std::to_string(kMaxHeldoutGoals);
  const std::optional<uint64_t> count = ParseWholeNumber(digits, kMaxHeldoutGoals);
  if (!count || *count < 1) Fail(ExitCode::kUsage, bad);
  return static_cast<int64_t>(*count);
}

}  // namespace

GoalSet HeldoutGoalSet(const EnvConfig& env, int64_t count, uint64_t seed) {
  if (count < 1 || count > kMaxHeldoutGoals) {
    Fail(ExitCode::kUsage, "--count must be in 1.." + std::to_string(kMaxHeldoutGoals));
  }
  const std::vector<sim::HeldoutGoal> goals = sim::HeldoutGoals(env.name, static_cast<int>(count));
  EnvConfig bare = env;
  bare.goals.clear();
  std::unique_ptr<Env> cell = MakeEnv(bare);
  StateRenderer* renderer = AsStateRenderer(*cell);
  if (renderer == nullptr) Fail(ExitCode::kUsage, "cell '" + env.name + "' cannot render a state");
  GoalSet set;
  nlohmann::json each = nlohmann::json::array();
  for (size_t i = 0; i < goals.size(); ++i) {
    cell->Reset(DeriveSeed(seed, kHeldoutStream, i), goals[i].reset);
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
              {"cell", env.name},
              {"env_args", cell->spec().env_args},
              {"seed", seed},
              {"image_key", "image"},
              {"threshold", sim::GoalThreshold(env.name)},
              {"goals", each}};
  return set;
}

std::shared_ptr<GoalSupply> HeldoutGoalSupply(const EnvConfig& env) {
  const int64_t count = HeldoutCount(env.goals);
  return FixedGoalSupply(ToGoalImages(HeldoutGoalSet(env, count, 0)), "heldout:" + std::to_string(count));
}

std::shared_ptr<GoalSupply> FileOrHeldoutGoalSupply(const EnvConfig& env) {
  return IsHeldoutGoals(env.goals) ? HeldoutGoalSupply(env) : GoalFileSupply(env.goals);
}

}  // namespace perpetua
