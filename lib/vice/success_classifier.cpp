#include "vice/success_classifier.h"

#include <cmath>
#include <ctime>
#include <numeric>

#include "common/error.h"
#include "common/fs.h"
#include "common/rng.h"
#include "nn/image_augment.h"
#include "nn/tensor_io.h"

namespace perpetua {
namespace {

// The seed stream of the example split (a training run's own streams are 1 and 2).
constexpr uint64_t kExampleSplitStream = 7;

}  // namespace

SuccessNetImpl::SuccessNetImpl(const ViceNetworkConfig& config, int64_t height, int64_t width) {
  int64_t channels = 3, h = height, w = width;
  for (size_t i = 0; i < config.conv_channels.size(); ++i) {
    convs_.push_back(register_module("conv" + std::to_string(i),
                                     torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, config.conv_channels[i], 5)
                                                           .padding(2))));
    channels = config.conv_channels[i];
    h /= 2;
    w /= 2;
  }
  if (h < 1 || w < 1) {
    Fail(ExitCode::kUsage, "--vice.classifier.network.conv-channels: " + std::to_string(config.conv_channels.size()) +
                               " max-pools leave nothing of a " + std::to_string(height) + "x" +
                               std::to_string(width) + " image");
  }
  fc_ = register_module("fc", torch::nn::Linear(channels * h * w, config.hidden));
  out_ = register_module("out", torch::nn::Linear(config.hidden, 1));
}

torch::Tensor SuccessNetImpl::Normalize(const torch::Tensor& images) {
  return images.permute({0, 3, 1, 2}).to(torch::kFloat32).div(255.0).sub(0.5);
}

torch::Tensor SuccessNetImpl::forward(const torch::Tensor& normalized) {
  torch::Tensor x = normalized;
  for (auto& conv : convs_) x = torch::max_pool2d(torch::relu(conv->forward(x)), 2);
  x = torch::relu(fc_->forward(x.flatten(1)));
  return out_->forward(x).squeeze(1);
}

Mixed Mixup(const torch::Tensor& inputs, const torch::Tensor& labels, const torch::Tensor& lambda,
            const torch::Tensor& perm) {
  std::vector<int64_t> shape(inputs.dim(), 1);
  shape[0] = inputs.size(0);
  const torch::Tensor l = lambda.view(shape);
  return {l * inputs + (1 - l) * inputs.index_select(0, perm), lambda * labels + (1 - lambda) * labels.index_select(0, perm)};
}

torch::Tensor ClassifierLoss(const torch::Tensor& logits, const torch::Tensor& labels) {
  return torch::binary_cross_entropy_with_logits(logits, labels);
}

torch::Tensor SampleBeta(int64_t n, double alpha, at::Generator& generator) {
  const torch::Tensor a = torch::full({2, n}, alpha, torch::kFloat64);
  const torch::Tensor g = at::_standard_gamma(a, generator);
  return (g[0] / (g[0] + g[1])).to(torch::kFloat32);
}

ExampleSplit SplitExamples(const ExampleImages& examples, double holdout, uint64_t seed, const std::string& folder) {
  std::vector<int64_t> order(examples.size());
  std::iota(order.begin(), order.end(), 0);
  Rng rng(DeriveSeed(seed, kExampleSplitStream, 0));
  for (int64_t i = examples.size() - 1; i > 0; --i) std::swap(order[i], order[rng.UniformInt(i + 1)]);
  const int64_t held = static_cast<int64_t>(holdout * static_cast<double>(examples.size()));
  if (examples.size() - held < 1) Fail(ExitCode::kBadData, folder + ": no example left to train on");
  const torch::Tensor all = ArrayToTensor(examples.images);
  const auto rows = [&](int64_t begin, int64_t end) {
    return all.index_select(0, torch::tensor(std::vector<int64_t>(order.begin() + begin, order.begin() + end),
                                             torch::kLong));
  };
  return {rows(held, examples.size()), rows(0, held)};
}

torch::Tensor DrawRows(const torch::Tensor& images, int64_t n, Rng& rng) {
  PERPETUA_CHECK(images.size(0) > 0);
  std::vector<int64_t> rows(static_cast<size_t>(n));
  for (auto& r : rows) r = static_cast<int64_t>(rng.UniformInt(static_cast<uint64_t>(images.size(0))));
  return images.index_select(0, torch::tensor(rows, torch::kLong));
}

SuccessClassifier::SuccessClassifier(const ViceClassifierConfig& config, int64_t height, int64_t width,
                                     const torch::Device& device, uint64_t seed)
    : config_(config), height_(height), width_(width), device_(device) {
  config_.Validate("vice.classifier");
  torch::manual_seed(seed);
  net_ = SuccessNet(config_.network, height, width);
  net_->to(device_);
  adam_ = std::make_unique<torch::optim::Adam>(net_->parameters(), torch::optim::AdamOptions(config_.lr));
}

ClassifierStepStats SuccessClassifier::Step(const torch::Tensor& positives, const torch::Tensor& negatives,
                                            at::Generator& generator) {
  PERPETUA_CHECK(positives.dim() == 4 && negatives.dim() == 4 && positives.size(1) == height_ &&
                 negatives.size(1) == height_ && positives.size(2) == width_ && negatives.size(2) == width_);
  const int64_t p = positives.size(0), n = negatives.size(0);
  torch::Tensor images = torch::cat({RandomShift(positives.to(device_), config_.augment_shift, generator),
                                     RandomShift(negatives.to(device_), config_.augment_shift, generator)});
  const torch::Tensor inputs = SuccessNet::Impl::Normalize(images);
  const torch::Tensor labels =
      torch::cat({torch::ones({p}), torch::zeros({n})}).to(device_);
  Mixed mixed{inputs, labels};
  if (config_.mixup_alpha > 0) {
    const torch::Tensor lambda = SampleBeta(p + n, config_.mixup_alpha, generator).to(device_);
    const torch::Tensor perm = torch::randperm(p + n, generator, torch::kLong).to(device_);
    mixed = Mixup(inputs, labels, lambda, perm);
  }
  net_->train();
  const torch::Tensor loss = ClassifierLoss(net_->forward(mixed.inputs), mixed.labels);
  const double loss_value = loss.item<double>();
  if (!std::isfinite(loss_value)) {
    Fail(ExitCode::kDiverged, "non-finite classifier loss at step " + std::to_string(steps_));
  }
  adam_->zero_grad();
  loss.backward();
  AverageGradients(collective_, net_->parameters());
  adam_->step();
  ++steps_;
  ClassifierStepStats stats;
  stats.loss = loss_value;
  {
    // Measured on at most 32 positives and 32 negatives of the step (unmixed,
    // unshifted): a full second forward pass would cost a third of the step.
    torch::NoGradGuard no_grad;
    const int64_t mp = std::min<int64_t>(p, 32), mn = std::min<int64_t>(n, 32);
    const torch::Tensor logits = net_->forward(SuccessNet::Impl::Normalize(
        torch::cat({positives.slice(0, 0, mp), negatives.slice(0, 0, mn)}).to(device_)));
    const torch::Tensor truth = torch::cat({torch::ones({mp}), torch::zeros({mn})}).to(device_);
    stats.accuracy = ((logits > 0).to(torch::kFloat32) == truth).to(torch::kFloat32).mean().item<double>();
    stats.positive_logit = logits.slice(0, 0, mp).mean().item<double>();
    stats.negative_logit = logits.slice(0, mp).mean().item<double>();
  }
  return stats;
}

torch::Tensor SuccessClassifier::Logits(const torch::Tensor& images) {
  PERPETUA_CHECK(images.dim() == 4 && images.size(1) == height_ && images.size(2) == width_ && images.size(3) == 3);
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  for (int64_t begin = 0; begin < images.size(0); begin += 256) {
    const torch::Tensor chunk = images.slice(0, begin, std::min(images.size(0), begin + 256)).to(device_);
    parts.push_back(net_->forward(SuccessNet::Impl::Normalize(chunk)).to(torch::kCPU));
  }
  return parts.empty() ? torch::zeros({0}) : torch::cat(parts);
}

void SuccessClassifier::Save(CheckpointContents* contents, const std::string& key, const std::string& prefix) {
  contents->metadata[key] = {{"vice_format", kViceFormat},
                             {"network", config_.network.ToJson()},
                             {"height", height_},
                             {"width", width_},
                             {"steps", steps_}};
  contents->blobs[prefix + "net"] = ModuleToBytes(*net_);
  contents->blobs[prefix + "adam"] = OptimizerToBytes(*adam_);
}

void SuccessClassifier::Load(const CheckpointContents& contents, const std::string& key, const std::string& prefix,
                             const std::string& source) {
  const nlohmann::json meta = MetadataField<nlohmann::json>(contents.metadata, key, source);
  const int format = MetadataField<int>(meta, "vice_format", source);
  if (format != kViceFormat) {
    Fail(ExitCode::kBadData, source + ": classifier format " + std::to_string(format) + ", this build reads " +
                                 std::to_string(kViceFormat));
  }
  const ViceNetworkConfig network =
      ViceNetworkConfig::FromJson(MetadataField<nlohmann::json>(meta, "network", source), source);
  const int64_t h = MetadataField<int64_t>(meta, "height", source), w = MetadataField<int64_t>(meta, "width", source);
  if (network.ToJson() != config_.network.ToJson() || h != height_ || w != width_) {
    Fail(ExitCode::kBadData, source + ": the classifier is " + network.ToJson().dump() + " on " + std::to_string(h) +
                                 "x" + std::to_string(w) + " images, this run's is " +
                                 config_.network.ToJson().dump() + " on " + std::to_string(height_) + "x" +
                                 std::to_string(width_));
  }
  const auto net = contents.blobs.find(prefix + "net");
  if (net == contents.blobs.end()) Fail(ExitCode::kBadData, source + ": checkpoint lacks the classifier weights");
  ModuleFromBytes(*net_, net->second, source);
  net_->to(device_);
  const auto adam = contents.blobs.find(prefix + "adam");
  if (adam != contents.blobs.end()) OptimizerFromBytes(*adam_, adam->second, source);
  steps_ = MetadataField<int64_t>(meta, "steps", source);
}

std::unique_ptr<SuccessClassifier> SuccessClassifier::FromCheckpoint(const CheckpointContents& contents,
                                                                     const std::string& key, const std::string& prefix,
                                                                     const torch::Device& device,
                                                                     const std::string& source) {
  if (!contents.metadata.contains(key)) Fail(ExitCode::kBadData, source + ": the checkpoint holds no success classifier");
  const nlohmann::json meta = MetadataField<nlohmann::json>(contents.metadata, key, source);
  ViceClassifierConfig config;
  config.network = ViceNetworkConfig::FromJson(MetadataField<nlohmann::json>(meta, "network", source), source);
  const int64_t h = MetadataField<int64_t>(meta, "height", source), w = MetadataField<int64_t>(meta, "width", source);
  if (h < 1 || w < 1 || h > 4096 || w > 4096) Fail(ExitCode::kBadData, source + ": bad classifier image size");
  auto classifier = std::make_unique<SuccessClassifier>(config, h, w, device, 0);
  classifier->Load(contents, key, prefix, source);
  return classifier;
}

void WriteClassifierCheckpoint(const std::string& path, SuccessClassifier& classifier, uint64_t seed,
                               const std::string& config_yaml, int64_t examples) {
  CheckpointContents c;
  c.metadata["algorithm"] = kViceAlgorithm;
  c.metadata["id"] = UniqueToken() + "-" + std::to_string(classifier.steps());
  c.metadata["step"] = classifier.steps();
  c.metadata["seed"] = seed;
  c.metadata["config_yaml"] = config_yaml;
  c.metadata["examples"] = examples;
  c.metadata["created_unix"] = static_cast<int64_t>(std::time(nullptr));
  classifier.Save(&c, "vice", "vice.");
  WriteCheckpoint(path, c);
}

std::unique_ptr<SuccessClassifier> LoadClassifierCheckpoint(const std::string& path, const torch::Device& device) {
  return SuccessClassifier::FromCheckpoint(ReadCheckpoint(path), "vice", "vice.", device, path);
}

}  // namespace perpetua
