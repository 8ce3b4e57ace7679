// A small in-memory cell for unit tests of the episode loop: a point on a
// line moves by the first action component; success when it reaches +1.
// Observations: "image" [4, 4, 3] uint8 (brightness encodes the position),
// "proprio" [1] float32. Object ids come from the reset option "object_ids"
// or, if absent, from the seed (id = seed % 5). Its true state (info
// "true_state") is the position.
#pragma once

#include <atomic>
#include <cmath>

#include "common/error.h"
#include "env/env.h"
#include "policy/policy.h"

namespace perpetua::testing {

class ToyEnv : public Env {
 public:
  explicit ToyEnv(int max_steps = 8) {
    spec_.name = "toy";
    spec_.observations = {{"image", DType::kUint8, {4, 4, 3}}, {"proprio", DType::kFloat32, {1}}};
    spec_.action.low = {-0.5f, -1.0f};
    spec_.action.high = {0.5f, 1.0f};
    spec_.action.names = {"dx", "unused"};
    spec_.max_episode_steps = max_steps;
    spec_.env_args = {{"name", "toy"}};
  }
  const EnvSpec& spec() const override { return spec_; }
  std::atomic<int>* fail_after_steps = nullptr;  // when set, throws once it reaches 0

 protected:
  ResetResult DoReset(uint64_t seed, const nlohmann::json& options) override {
    position_ = -0.5 + 0.1 * double(seed % 3);
    ResetResult result;
    result.observation = Observe();
    nlohmann::json ids = options.contains("object_ids") ? options["object_ids"]
                                                        : nlohmann::json::array({seed % 5});
    result.info = {{"object_ids", ids}, {"true_state", {{"position", position_}}}};
    return result;
  }
  StepResult DoStep(const std::vector<float>& action) override {
    if (fail_after_steps && fail_after_steps->fetch_sub(1) <= 0) {
      Fail(ExitCode::kEnvFailure, "toy cell stopped answering");
    }
    position_ += action[0];
    StepResult result;
    result.observation = Observe();
    const bool success = position_ >= 1.0;
    result.reward = success ? 1.0 : -0.01;
    result.terminated = success;
    result.truncated = !success && episode_steps() + 1 >= spec_.max_episode_steps;
    result.info = {{"success", success}, {"true_state", {{"position", position_}}}};
    return result;
  }

 private:
  Observation Observe() const {
    Observation observation;
    Array image = Array::Zeros(DType::kUint8, {4, 4, 3});
    for (auto& v : image.u8) v = static_cast<uint8_t>(std::lround(std::fmin(255.0, std::fmax(0.0, 100 + 100 * position_))));
    observation["image"] = image;
    observation["proprio"] = Array::FromFloats({static_cast<float>(position_)});
    return observation;
  }
  EnvSpec spec_;
  double position_ = 0.0;
};

// Moves by a fixed step (reaches +1 from -0.5 in 4 steps with 0.4).
class ConstantPolicy : public Policy {
 public:
  explicit ConstantPolicy(float dx, std::string id = "constant") : dx_(dx), id_(std::move(id)) {}
  std::vector<float> Act(const Observation&, const nlohmann::json&) override { return {dx_, 0.0f}; }
  std::string id() const override { return id_; }

 private:
  float dx_;
  std::string id_;
};

}  // namespace perpetua::testing
