#include "qtopt/q_checkpoint.h"

#include "common/error.h"
#include "nn/tensor_io.h"

namespace perpetua {
namespace {

// The fixed example input: 2 states, deterministic from a constant seed.
void ExampleInput(const QInputSpec& spec, torch::Tensor* image, torch::Tensor* proprio, torch::Tensor* action) {
  at::Generator gen = at::detail::createCPUGenerator(20261125);
  *image = at::randint(0, 256, {2, spec.height, spec.width, 3}, gen, torch::TensorOptions().dtype(torch::kLong))
               .to(torch::kUInt8);
  *proprio = at::randn({2, spec.proprio_dim}, gen, torch::TensorOptions().dtype(torch::kFloat32));
  const torch::Tensor low = torch::tensor(spec.action_low), high = torch::tensor(spec.action_high);
  *action = low + (high - low) * at::rand({2, spec.action_dim()}, gen, torch::TensorOptions().dtype(torch::kFloat32));
}

const std::string& Blob(const CheckpointContents& contents, const std::string& name, const std::string& source) {
  auto it = contents.blobs.find(name);
  if (it == contents.blobs.end()) Fail(ExitCode::kBadData, source + ": checkpoint lacks '" + name + "'");
  return it->second;
}

}  // namespace

void PutNetwork(QNetworkImpl& network, const std::string& name, CheckpointContents* contents) {
  contents->blobs[name] = ModuleToBytes(network);
  if (name != "net.online") return;
  torch::NoGradGuard no_grad;
  torch::Tensor image, proprio, action;
  ExampleInput(network.spec(), &image, &proprio, &action);
  const torch::Device device = network.parameters().front().device();
  const torch::Tensor logits =
      network.forward(image.to(device), proprio.to(device), action.to(device)).to(torch::kCPU);
  contents->blobs["example.image"] = TensorToBytes(image);
  contents->blobs["example.proprio"] = TensorToBytes(proprio);
  contents->blobs["example.action"] = TensorToBytes(action);
  contents->blobs["example.logits"] = TensorToBytes(logits);
}

void LoadNetworkWeights(const CheckpointContents& contents, const std::string& name, QNetworkImpl& network,
                        const std::string& source) {
  ModuleFromBytes(network, Blob(contents, name, source), source);
}

LoadedQNetwork LoadQNetwork(const CheckpointContents& contents, const std::string& source,
                            const torch::Device& device, const std::string& name) {
  const nlohmann::json& meta = contents.metadata;
  const std::string algorithm = MetadataValue<std::string>(meta, "algorithm", "(none)", source);
  if (algorithm != kQtOptAlgorithm) {
    Fail(ExitCode::kBadData, source + ": checkpoint algorithm '" + algorithm + "' is not supported (expected 'qtopt')");
  }
  const int64_t format = MetadataValue<int64_t>(meta, "qtopt_format", 0, source);
  if (format != kQtOptFormat) {
    Fail(ExitCode::kBadData, source + ": QT-Opt checkpoint format " + std::to_string(format) +
                                 " is not supported (this build reads " + std::to_string(kQtOptFormat) + ")");
  }
  LoadedQNetwork loaded;
  loaded.metadata = meta;
  if (!meta.contains("network") || !meta.contains("input_spec")) {
    Fail(ExitCode::kBadData, source + ": checkpoint lacks the network description");
  }
  loaded.config = QNetworkConfig::FromJson(meta["network"], source);
  loaded.spec = QInputSpec::FromJson(meta["input_spec"], source);
  if (meta.contains("cem")) {
    const nlohmann::json& c = meta["cem"];
    if (!c.is_object()) Fail(ExitCode::kBadData, source + ": checkpoint field 'cem' has the wrong type");
    loaded.cem.iterations = MetadataValue(c, "iterations", loaded.cem.iterations, source);
    loaded.cem.samples = MetadataValue(c, "samples", loaded.cem.samples, source);
    loaded.cem.elites = MetadataValue(c, "elites", loaded.cem.elites, source);
    loaded.cem.min_std = MetadataValue(c, "min_std", loaded.cem.min_std, source);
    try {
      loaded.cem.Validate("cem");
    } catch (const Error& e) {
      Fail(ExitCode::kBadData, source + ": checkpoint CEM settings: " + e.what());
    }
  }
  // The network is built before its weights are read: its size must be what
  // the stored weights can hold (4 bytes a parameter), never more.
  const uint64_t parameters = QNetworkImpl::ParameterCount(loaded.config, loaded.spec);
  if (parameters > Blob(contents, name, source).size() / 4) {
    Fail(ExitCode::kBadData, source + ": checkpoint describes a network of " + std::to_string(parameters) +
                                 " parameters but its '" + name + "' weights hold fewer");
  }
  loaded.network = QNetwork(loaded.config, loaded.spec);
  LoadNetworkWeights(contents, name, *loaded.network, source);
  loaded.network->to(device);
  loaded.network->eval();
  if (name == "net.online") {
    torch::NoGradGuard no_grad;
    const torch::Tensor image = TensorFromBytes(Blob(contents, "example.image", source), source);
    const torch::Tensor proprio = TensorFromBytes(Blob(contents, "example.proprio", source), source);
    const torch::Tensor action = TensorFromBytes(Blob(contents, "example.action", source), source);
    const torch::Tensor expected = TensorFromBytes(Blob(contents, "example.logits", source), source);
    torch::Tensor got;
    try {
      got = loaded.network->forward(image.to(device), proprio.to(device), action.to(device)).to(torch::kCPU);
    } catch (const c10::Error&) {
      Fail(ExitCode::kBadData, source + ": the stored example input does not fit the network");
    }
    const double tolerance = 1e-3 * (1.0 + expected.abs().max().item<double>());
    if (got.sizes() != expected.sizes() || !((got - expected).abs().max().item<double>() <= tolerance)) {
      Fail(ExitCode::kBadData, source + ": the network does not reproduce the checkpoint's example output "
                                        "(corrupt file or incompatible code)");
    }
  }
  return loaded;
}

}  // namespace perpetua
