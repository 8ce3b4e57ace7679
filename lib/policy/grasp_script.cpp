// The scripted grasp: pick the highest object, hover above its first part,
// turn the fingers across its narrowest side, descend, close, terminate. If
// the descent stalls (a finger on another object or a wall), try another.
#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "common/rng.h"
#include "policy/scripts.h"
#include "sim/grasp_cell.h"

namespace perpetua::scripts {
namespace {

constexpr const char* kName = "scripted:grasp";
constexpr double kHoverClearance = 0.05;  // m above the object top while aligning
constexpr double kAlignedXY = 0.007;      // m
constexpr double kAlignedYaw = 0.08;      // rad
constexpr double kAtDepth = 0.008;        // m

double Clip(double value) { return std::clamp(value, -1.0, 1.0); }

// The equivalent of `yaw` (mod pi) closest to `current`, within [-pi/2, pi/2].
double NearestYaw(double yaw, double current) {
  double best = yaw;
  for (double candidate : {yaw - M_PI, yaw, yaw + M_PI}) {
    if (candidate < -M_PI / 2 - 1e-9 || candidate > M_PI / 2 + 1e-9) continue;
    if (std::abs(candidate - current) < std::abs(best - current) ||
        best < -M_PI / 2 - 1e-9 || best > M_PI / 2 + 1e-9) {
      best = candidate;
    }
  }
  return best;
}

class GraspScript : public Policy {
 public:
  GraspScript(const EnvSpec& spec, double noise, uint64_t seed)
      : noise_(noise), seed_(seed), max_steps_(spec.max_episode_steps), rng_(seed) {}

  void BeginEpisode(uint64_t episode_seed) override {
    rng_ = Rng(DeriveSeed(seed_, /*stream=*/0x96a5, episode_seed));
    step_ = 0;
    closing_steps_ = 0;
    target_ = -1;
    blocked_steps_ = 0;
    last_z_ = -1;
    excluded_.clear();
    offset_[0] = noise_ * 0.01 * rng_.Normal();  // a per-episode aim error (m)
    offset_[1] = noise_ * 0.01 * rng_.Normal();
  }

  std::vector<float> Act(const Observation&, const nlohmann::json& info) override {
    ++step_;
    std::vector<float> action = Plan(info);
    if (noise_ > 0) {
      for (int i = 0; i < 4; ++i) action[i] = static_cast<float>(Clip(action[i] + noise_ * rng_.Normal()));
    }
    return action;
  }

  std::string id() const override { return kName; }

 private:
  std::vector<float> Plan(const nlohmann::json& info) {
    const nlohmann::json& objects = InfoField(info, "objects", kName);
    const nlohmann::json& gripper = InfoField(info, "gripper", kName);
    if (!objects.is_array() || objects.empty()) {
      Fail(ExitCode::kBadData, std::string(kName) + ": info.objects is empty");
    }
    const std::vector<double> pos = gripper.at("pos").get<std::vector<double>>();
    const double yaw = gripper.at("yaw").get<double>();
    std::vector<float> action(6, 0.0f);
    action[4] = -1.0f;
    // Close for one step, then terminate (the cell lifts); also terminate
    // before the time limit runs out.
    if (closing_steps_ > 0 || step_ >= max_steps_) {
      action[4] = 1.0f;
      action[5] = 1.0f;
      return action;
    }
    // A descent that stalls means a finger sits on something else (another
    // object, the bin wall): give up this object for another one.
    if (last_z_ >= 0 && last_dz_ < -0.2 && last_z_ - pos[2] < 0.004) {
      if (++blocked_steps_ >= 2) {
        excluded_.push_back(target_);
        target_ = -1;
        blocked_steps_ = 0;
        if (excluded_.size() >= objects.size()) excluded_.clear();
      }
    } else {
      blocked_steps_ = 0;
    }
    if (target_ < 0 || target_ >= static_cast<int>(objects.size())) {
      // The object whose top is highest (least covered), nearest on ties.
      double best = -1e9;
      target_ = -1;
      for (size_t i = 0; i < objects.size(); ++i) {
        if (std::find(excluded_.begin(), excluded_.end(), static_cast<int>(i)) != excluded_.end()) {
          continue;
        }
        const double top = objects[i].at("top").get<double>();
        if (target_ < 0 || top > best + 0.005) {
          best = top;
          target_ = static_cast<int>(i);
        }
      }
    }
    const std::vector<double> grasp = objects[target_].at("grasp").get<std::vector<double>>();
    const double top = objects[target_].at("top").get<double>();
    const double ex = grasp[0] + offset_[0] - pos[0];
    const double ey = grasp[1] + offset_[1] - pos[1];
    const double eyaw = NearestYaw(grasp[3], yaw) - yaw;
    // The yaw is good enough when the fingers already see nearly the
    // narrowest width (round footprints have no single best yaw).
    const double across = objects[target_].at("width_across").get<double>();
    const bool yaw_ok = std::abs(eyaw) < kAlignedYaw || across < grasp[4] + 0.006;
    const bool aligned = std::hypot(ex, ey) < kAlignedXY && yaw_ok;
    const double hover = std::max(0.10, top + kHoverClearance);
    const double depth = std::max(0.003, grasp[2] - 0.012);
    action[0] = static_cast<float>(Clip(ex / sim::kGraspMoveXY));
    action[1] = static_cast<float>(Clip(ey / sim::kGraspMoveXY));
    action[3] = yaw_ok ? 0.0f : static_cast<float>(Clip(eyaw / sim::kGraspMoveYaw));
    const bool near = std::hypot(ex, ey) < 0.02;
    const double target_z = near ? depth : hover;  // fine-align while descending
    action[2] = static_cast<float>(Clip((target_z - pos[2]) / sim::kGraspMoveZ));
    if (aligned && pos[2] - depth < kAtDepth) {
      action[4] = 1.0f;
      ++closing_steps_;
    }
    last_z_ = pos[2];
    last_dz_ = action[2];
    return action;
  }

  double noise_;
  uint64_t seed_;
  int max_steps_;
  Rng rng_;
  int step_ = 0;
  int closing_steps_ = 0;
  int target_ = -1;                 // index into info.objects
  std::vector<int> excluded_;       // objects given up on this episode
  int blocked_steps_ = 0;           // consecutive stalled descents
  double last_z_ = -1, last_dz_ = 0;
  double offset_[2] = {0, 0};
};

}  // namespace

std::unique_ptr<Policy> MakeGraspScript(const EnvSpec& spec, double noise, uint64_t seed) {
  return std::make_unique<GraspScript>(spec, noise, seed);
}

}  // namespace perpetua::scripts
