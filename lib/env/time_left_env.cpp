#include "env/time_left_env.h"

#include <algorithm>
#include <utility>

#include "common/error.h"

namespace perpetua {

TimeLeftEnv::TimeLeftEnv(std::unique_ptr<Env> inner) : inner_(std::move(inner)), spec_(inner_->spec()) {
  for (const ObservationSpec& observation : spec_.observations) {
    if (observation.key == kTimeLeftKey) {
      Fail(ExitCode::kUsage, spec_.name + " already observes '" + kTimeLeftKey + "': --cell.observe-time adds it twice");
    }
  }
  spec_.observations.push_back({kTimeLeftKey, DType::kFloat32, {1}});
}

Array TimeLeftEnv::TimeLeft() const {
  const int limit = std::max(1, spec_.max_episode_steps);
  const int left = std::max(0, limit - inner_->episode_steps());
  return Array::FromFloats({static_cast<float>(left) / static_cast<float>(limit)});
}

ResetResult TimeLeftEnv::DoReset(uint64_t seed, const nlohmann::json& options) {
  ResetResult result = inner_->Reset(seed, options);
  result.observation[kTimeLeftKey] = TimeLeft();
  return result;
}

StepResult TimeLeftEnv::DoStep(const std::vector<float>& action) {
  StepResult result = inner_->Step(action);
  result.observation[kTimeLeftKey] = TimeLeft();
  return result;
}

namespace {

class RenderingTimeLeftEnv : public TimeLeftEnv, public StateRenderer {
 public:
  RenderingTimeLeftEnv(std::unique_ptr<Env> inner, StateRenderer* renderer)
      : TimeLeftEnv(std::move(inner)), renderer_(renderer) {}
  Observation RenderState(const nlohmann::json& state) override {
    Observation observation = renderer_->RenderState(state);
    observation[kTimeLeftKey] = TimeLeft();
    return observation;
  }
  Array RenderPicture(int size) override { return renderer_->RenderPicture(size); }

 private:
  StateRenderer* renderer_;  // the inner env, owned by inner_
};

}  // namespace

std::unique_ptr<Env> MakeTimeLeftEnv(std::unique_ptr<Env> inner) {
  if (StateRenderer* renderer = AsStateRenderer(*inner)) {
    return std::make_unique<RenderingTimeLeftEnv>(std::move(inner), renderer);
  }
  return std::make_unique<TimeLeftEnv>(std::move(inner));
}

}  // namespace perpetua
