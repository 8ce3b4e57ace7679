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

class FixedSupply : public GoalSupply {
 public:
  FixedSupply(GoalImages goals, std::string source)
      : goals_(std::make_shared<const GoalImages>(std::move(goals))), source_(std::move(source)) {}
  std::shared_ptr<const GoalImages> Current() override { return goals_; }
  const std::string& source() const override { return source_; }

 private:
  std::shared_ptr<const GoalImages> goals_;
  std::string source_;
};

}  // namespace

std::shared_ptr<GoalSupply> FixedGoalSupply(GoalImages goals, std::string source) {
  return std::make_shared<FixedSupply>(std::move(goals), std::move(source));
}

GoalEnv::GoalEnv(std::unique_ptr<Env> inner, std::shared_ptr<GoalSupply> goals)
    : inner_(std::move(inner)), spec_(inner_->spec()), supply_(std::move(goals)) {
  PERPETUA_CHECK(supply_ != nullptr);
  const ObservationSpec* image = nullptr;
  for (const ObservationSpec& observation : spec_.observations) {
    if (observation.key == kGoalImageKey) {
      Fail(ExitCode::kUsage, spec_.name + " already observes '" + kGoalImageKey + "': --goals adds it twice");
    }
    if (observation.key == "image") image = &observation;
  }
  if (image == nullptr || image->dtype != DType::kUint8) {
    Fail(ExitCode::kBadData,
         supply_->source() + ": goal images need a cell with a uint8 'image' observation; " + spec_.name + " has none");
  }
  image_shape_ = image->shape;
  goals_ = supply_->Current();
  Check(*goals_);
  spec_.observations.push_back({kGoalImageKey, DType::kUint8, image->shape});
}

void GoalEnv::Check(const GoalImages& goals) const {
  const Array& images = goals.images;
  if (images.dtype != DType::kUint8 || images.shape.size() != 4 || images.shape[0] < 1 ||
      std::vector<int64_t>(images.shape.begin() + 1, images.shape.end()) != image_shape_) {
    Fail(ExitCode::kBadData,
         supply_->source() + ": the goals are " +
             (images.shape.size() == 4 ? ShapeString({images.shape.begin() + 1, images.shape.end()})
                                       : ShapeString(images.shape)) +
             " images, the cell's 'image' is " + ShapeString(image_shape_) + " (--cell.image-size?)");
  }
  if (!goals.info.is_null() &&
      (!goals.info.is_array() || static_cast<int64_t>(goals.info.size()) != images.shape[0])) {
    Fail(ExitCode::kBadData, supply_->source() + ": meta 'goals' must list one object per goal");
  }
}

Array GoalEnv::Goal(int64_t index) const {
  PERPETUA_CHECK(index >= 0 && index < goal_count());
  const Array& images = goals_->images;
  Array goal = Array::Zeros(DType::kUint8, {images.shape.begin() + 1, images.shape.end()});
  std::memcpy(goal.u8.data(), images.u8.data() + index * goal.u8.size(), goal.u8.size());
  return goal;
}

ResetResult GoalEnv::DoReset(uint64_t seed, const nlohmann::json& options) {
  std::shared_ptr<const GoalImages> goals = supply_->Current();
  if (goals != goals_) {
    Check(*goals);
    goals_ = std::move(goals);
  }
  nlohmann::json inner_options = options;
  current_ = static_cast<int64_t>(DeriveSeed(seed, kGoalStream, 0) % static_cast<uint64_t>(goal_count()));
  if (options.is_object() && options.contains("goal_index")) {
    const nlohmann::json& index = options["goal_index"];
    if (!index.is_number_integer() || index.get<int64_t>() < 0 || index.get<int64_t>() >= goal_count()) {
      Fail(ExitCode::kUsage, "reset option 'goal_index' must be an integer in 0.." + std::to_string(goal_count() - 1) +
                                 " (" + supply_->source() + " holds " + std::to_string(goal_count()) + " goals)");
    }
    current_ = index.get<int64_t>();
    inner_options.erase("goal_index");
  }
  std::string region;
  if (goals_->info.is_array()) {  // a held-out goal: the cell judges reaching it
    const nlohmann::json& goal = goals_->info[static_cast<size_t>(current_)];
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
  if (!goals_->vae_id.empty()) result.info["goal_vae"] = goals_->vae_id;
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
  RenderingGoalEnv(std::unique_ptr<Env> inner, StateRenderer* renderer, std::shared_ptr<GoalSupply> goals)
      : GoalEnv(std::move(inner), std::move(goals)), renderer_(renderer) {}
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

std::unique_ptr<Env> MakeGoalEnv(std::unique_ptr<Env> inner, std::shared_ptr<GoalSupply> goals) {
  if (StateRenderer* renderer = AsStateRenderer(*inner)) {
    return std::make_unique<RenderingGoalEnv>(std::move(inner), renderer, std::move(goals));
  }
  return std::make_unique<GoalEnv>(std::move(inner), std::move(goals));
}

}  // namespace perpetua
