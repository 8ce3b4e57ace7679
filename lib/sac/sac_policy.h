// A SAC checkpoint (or a live SacAgent) as a Policy: samples from the
// tanh-squashed Gaussian for collection, acts with its mean for evaluation.
//
// LoadSacPolicy checks, in order, and throws Error(kBadData) with a one-line
// message that starts with `source`:
//   - the algorithm is "sac" and the SAC format one this code reads,
//   - the checkpoint's inputs (image and vector keys, sizes, action box)
//     equal those `expected` (the cell the policy will drive) offers,
//   - the stored example input gives the stored example mean action.
// Include only from LibTorch translation units.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>

#include "env/env.h"
#include "nn/checkpoint.h"
#include "policy/policy.h"
#include "nn/input_spec.h"
#include "sac/sac_networks.h"

namespace perpetua {

class SacPolicy : public Policy {
 public:
  // Acts with `acting` (shared, not copied) on inputs described by `spec`.
  // The noise of kSample comes from a CPU generator seeded from `seed`, and
  // reseeded from (seed, episode seed) by BeginEpisode.
  SacPolicy(SacActing acting, InputSpec spec, SacActionMode mode, uint64_t seed, std::string id);
  void BeginEpisode(uint64_t episode_seed) override;
  // Reads only the spec's keys; ignores info. Throws Error(kBadData)
  // "observation lacks the key ..." on a missing key or a wrong shape (ObservationToTensors).
  std::vector<float> Act(const Observation& observation, const nlohmann::json& info) override;
  std::string id() const override { return id_; }

 private:
  SacActing acting_;
  InputSpec spec_;
  SacActionMode mode_;
  uint64_t seed_;
  std::string id_;
  at::Generator generator_;
};

// The policy of a verified SAC checkpoint (nn/checkpoint.h) for a cell with
// spec `expected`; id() "checkpoint:<metadata id>". It acts with the averaged
// weights when the checkpoint has them (SacConfig::policy_average), else with
// the live ones. See the file comment for the checks.
std::unique_ptr<Policy> LoadSacPolicy(const CheckpointContents& contents, const std::string& source,
                                      const EnvSpec& expected, SacActionMode mode, const torch::Device& device,
                                      uint64_t seed);

}  // namespace perpetua
