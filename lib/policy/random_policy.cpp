#include "policy/random_policy.h"

#include "common/rng.h"

namespace perpetua {
namespace {

class RandomPolicy : public Policy {
 public:
  RandomPolicy(const EnvSpec& spec, uint64_t seed)
      : low_(spec.action.low), high_(spec.action.high), seed_(seed), rng_(seed) {}

  void BeginEpisode(uint64_t episode_seed) override {
    rng_ = Rng(DeriveSeed(seed_, /*stream=*/0x7a9d, episode_seed));
  }
  std::vector<float> Act(const Observation&, const nlohmann::json&) override {
    std::vector<float> action(low_.size());
    for (size_t i = 0; i < action.size(); ++i) {
      action[i] = static_cast<float>(rng_.Uniform(low_[i], high_[i]));
    }
    return action;
  }
  std::string id() const override { return "random"; }

 private:
  std::vector<float> low_, high_;
  uint64_t seed_;
  Rng rng_;
};

}  // namespace

std::unique_ptr<Policy> MakeRandomPolicy(const EnvSpec& spec, uint64_t seed) {
  return std::make_unique<RandomPolicy>(spec, seed);
}

}  // namespace perpetua
