#include "policy/random_policy.h"

#include <algorithm>

#include "common/error.h"
#include "common/rng.h"

namespace perpetua {
namespace {

class RandomPolicy : public Policy {
 public:
  RandomPolicy(const EnvSpec& spec, uint64_t seed, double terminate_probability)
      : low_(spec.action.low), high_(spec.action.high), seed_(seed), rng_(seed),
        terminate_probability_(terminate_probability) {
    PERPETUA_CHECK(terminate_probability <= 1.0);
    const auto& names = spec.action.names;
    const auto found = std::find(names.begin(), names.end(), "terminate");
    if (terminate_probability >= 0.0 && found != names.end()) terminate_ = int(found - names.begin());
  }

  void BeginEpisode(uint64_t episode_seed) override {
    rng_ = Rng(DeriveSeed(seed_, /*stream=*/0x7a9d, episode_seed));
  }
  std::vector<float> Act(const Observation&, const nlohmann::json&) override {
    std::vector<float> action(low_.size());
    for (size_t i = 0; i < action.size(); ++i) {
      if (static_cast<int>(i) != terminate_) {
        action[i] = static_cast<float>(rng_.Uniform(low_[i], high_[i]));
      } else if (rng_.Uniform() < terminate_probability_) {
        action[i] = static_cast<float>(high_[i] - rng_.Uniform(0.0, std::max(0.0f, high_[i])));  // (0, high]
      } else {
        action[i] = static_cast<float>(rng_.Uniform(low_[i], std::min(0.0f, high_[i])));  // [low, 0)
      }
    }
    return action;
  }
  std::string id() const override { return "random"; }

 private:
  std::vector<float> low_, high_;
  uint64_t seed_;
  Rng rng_;
  double terminate_probability_;
  int terminate_ = -1;  // index of the "terminate" component drawn apart, or -1
};

}  // namespace

std::unique_ptr<Policy> MakeRandomPolicy(const EnvSpec& spec, uint64_t seed, double terminate_probability) {
  return std::make_unique<RandomPolicy>(spec, seed, terminate_probability);
}

}  // namespace perpetua
