#include "env/goal_env.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "common/error.h"
#include "common/rng.h"

namespace perpetua {
namespace {

// The seed stream of the episodes' goal choice.
constexpr uint64_t kGoalStream = 31;


}  // namespace

GoalEnv::GoalEnv(std::unique_ptr<Env> inner, Array goals, std::string source, nlohmann::json goal_info)
    : inner_(std::move(inner)),
      spec_(inner_->spec()),
      goals_(std::move(goals)),
      source_(std::move(source)),
      goal_info_(std::move(goal_info)) {
  const ObservationSpec* image = nullptr;
  for (const ObservationSpec& observation : spec_.observations) {
    if (observation.key == kGoalImageKey) {
      Fail(ExitCode::kUsage, spec_.name + " already observes '" + kGoalImageKey + "': --goals adds it twice");
    }
    if (observation.key == "image") image = &observation;
  }
  if (image == nullptr || image->dtype != DType::kUint8) {
    Fail(ExitCode::kBadData,
         source_ + ": goal images need a cell with a uint8 'image' observation; " + spec_.name + " has none");
  }
  if (goals_.dtype != DType::kUint8 || goals_.shape.size() != 4 || goals_.shape[0] < 1 ||
      std::vector<int64_t>(goals_.shape.begin() + 1, goals_.shape.end()) != image->shape) {
    Fail(ExitCode::kBadData,
         source_ + ": the goals are " +
             (goals_.shape.size() == 4 ? ShapeString({goals_.shape.begin() + 1, goals_.shape.end()}) : ShapeString(goals_.shape)) +
             " images, the cell's 'image' is " + ShapeString(image->shape) + " (--cell.image-size?)");
  }
  if (!goal_info_.is_null() && (!goal_info_.is_array() || static_cast<int64_t>(goal_info_.size()) != goal_count())) {
    Fail(ExitCode::kBadData, source_ + ": meta 'goals' must list one object per goal");
  }
  spec_.observations.push_back({kGoalImageKey, DType::kUint8, image->shape});
}

Array GoalEnv::Goal(int64_t index) const {
  PERPETUA_CHECK(index >= 0 && index < goal_count());
  Array goal = Array::Zeros(DType::kUint8, {goals_.shape.begin() + 1, goals_.shape.end()});
  std::memcpy(goal.u8.data(), goals_.u8.data() + index * goal.u8.size(), goal.u8.size());
  return goal;
}

ResetResult GoalEnv::DoReset(uint64_t seed, const nlohmann::json& options) {
  nlohmann::json inner_options = options;
  current_ = static_cast<int64_t>(DeriveSeed(seed, kGoalStream, 0) % static_cast<uint64_t>(goal_count()));
  if (options.is_object() && options.contains("goal_index")) {
    const nlohmann::json& index = options["goal_index"];
    if (!index.is_number_integer() || index.get<int64_t>() < 0 || index.get<int64_t>() >= goal_count()) {
      Fail(ExitCode::kUsage, "reset option 'goal_index' must be an integer in 0.." + std::to_string(goal_count() - 1) +
                                 " (" + source_ + " holds " + std::to_string(goal_count()) + " goals)");
    }
    current_ = index.get<int64_t>();
    inner_options.erase("goal_index");
  }
  std::string region;
  if (goal_info_.is_array()) {  // a held-out goal: the cell judges reaching it
    const nlohmann::json& goal = goal_info_[static_cast<size_t>(current_)];
    if (!inner_options.is_object()) inner_options = nlohmann::json::object();
    if (goal.contains("reset")) {
      for (const auto& [key, value] : goal["reset"].items()) inner_options[key] = value;
    }
    region = goal.value("region", std::string());
  }
  ResetResult result = inner_->Reset(seed, inner_options);
  result.observation[kGoalImageKey] = Goal(current_);
  if (!result.info.is_object()) result.info = nlohmann::json::object();
  result.info["goal_index"] = current_;
  if (!region.empty()) result.info["goal_region"] = region;
  return result;
}

StepResult GoalEnv::DoStep(const std::vector<float>& action) {
  StepResult result = inner_->Step(action);
  result.observation[kGoalImageKey] = Goal(current_);
  return result;
}

namespace {

class RenderingGoalEnv : public GoalEnv, public StateRenderer {
 public:
  RenderingGoalEnv(std::unique_ptr<Env> inner, StateRenderer* renderer, Array goals, std::string source,
                   nlohmann::json goal_info)
      : GoalEnv(std::move(inner), std::move(goals), std::move(source), std::move(goal_info)), renderer_(renderer) {}
  Observation RenderState(const nlohmann::json& state) override {
    Observation observation = renderer_->RenderState(state);
    observation[kGoalImageKey] = Goal(current_);
    return observation;
  }
  Array RenderPicture(int size) override { return renderer_->RenderPicture(size); }

 private:
  StateRenderer* renderer_;  // the inner env, owned by inner_
};

}  // namespace

std::unique_ptr<Env> MakeGoalEnv(std::unique_ptr<Env> inner, Array goals, const std::string& source,
                                 nlohmann::json goal_info) {
  if (StateRenderer* renderer = AsStateRenderer(*inner)) {
    return std::make_unique<RenderingGoalEnv>(std::move(inner), renderer, std::move(goals), source,
                                              std::move(goal_info));
  }
  return std::make_unique<GoalEnv>(std::move(inner), std::move(goals), source, std::move(goal_info));
}

}  // namespace perpetua
