// What a QT-Opt checkpoint holds beyond the generic container (nn/checkpoint.h):
//   metadata: "algorithm": "qtopt", "qtopt_format": 1, "network" (QNetworkConfig),
//             "input_spec" (QInputSpec), "env_spec" (env/env_spec_json.h),
//             "normalization", "cem" (the trainer's CEM settings), "step", "seed",
//             "id", "config_yaml" (the effective config of the run), "created_unix"
//   blobs:    "net.online", "net.target1", "net.target2" (module archives),
//             "example.image|proprio|action|logits" (a fixed example input and
//             the online network's output on it, checked on load),
//             and the run's resume state ("trainer.*", see train/learner.h).
// Include only from LibTorch translation units.
#pragma once

#include <torch/torch.h>

#include <string>

#include <nlohmann/json.hpp>

#include "nn/checkpoint.h"
#include "qtopt/cem.h"
#include "qtopt/q_network.h"

namespace perpetua {

inline constexpr const char* kQtOptAlgorithm = "qtopt";
inline constexpr int kQtOptFormat = 1;

// Stores `network`'s weights as blob `name` and, for name "net.online", the
// example input/output.
void PutNetwork(QNetworkImpl& network, const std::string& name, CheckpointContents* contents);

// A network restored from a checkpoint, verified against its example output.
struct LoadedQNetwork {
  QNetwork network{nullptr};     // on the requested device, eval() mode
  QNetworkConfig config;
  QInputSpec spec;
  CemConfig cem;                 // the CEM settings the run trained with
  nlohmann::json metadata;
};

// Reads blob `name` ("net.online" by default) of a verified container. Checks
// the algorithm, sizes and (for "net.online") the example output. Throws
// Error(kBadData) "<source>: ..." on any problem.
LoadedQNetwork LoadQNetwork(const CheckpointContents& contents, const std::string& source,
                            const torch::Device& device, const std::string& name = "net.online");

// Loads blob `name` into an existing network of the same sizes. Throws Error(kBadData).
void LoadNetworkWeights(const CheckpointContents& contents, const std::string& name, QNetworkImpl& network,
                        const std::string& source);

}  // namespace perpetua
