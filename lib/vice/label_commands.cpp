#include "vice/label_commands.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "common/fs.h"
#include "common/log.h"
#include "data/dataset_reader.h"
#include "nn/input_spec.h"
#include "nn/tensor_io.h"
#include "nn/torch_runtime.h"
#include "replay/dataset_replay.h"
#include "vice/example_images.h"
#include "vice/success_classifier.h"

namespace perpetua {
namespace {

constexpr uint64_t kSplitStream = 7;  // as a training run's VICE split (vice_learner.cpp)

void RequireFlag(bool ok, const std::string& message) {
  if (!ok) Fail(ExitCode::kUsage, message);
}

std::string Fixed(double x) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.4f", x);
  return text;
}

std::string Probability(double logit) { return Fixed(1.0 / (1.0 + std::exp(-logit))); }

// The one image observation of data `spec`. Error(kBadData) otherwise.
InputSpec OneImageSpec(const EnvSpec& spec, const std::string& source) {
  InputSpec input = InputSpec::FromEnvSpec(spec, source);
  if (input.image_keys.size() != 1) {
    Fail(ExitCode::kBadData, source + ": a success classifier needs data with exactly one image observation, this has " +
                                 std::to_string(input.image_keys.size()));
  }
  return input;
}

int Threads(int threads) {
  return threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace

ExitCode RunLabelExport(const LabelExportConfig& config) {
  RequireFlag(!config.data.empty(), "--data is required (datasets to take successful episodes from)");
  RequireFlag(!config.out.empty(), "--out is required (the folder to write the examples into)");
  RequireFlag(config.count >= 0, "--count must be >= 0");
  const ExampleImages examples = SuccessFrames(config.data, config.image_key, config.count);
  if (examples.size() == 0) Fail(ExitCode::kBadData, config.data.front() + ": no successful episode to export");
  WriteExampleImages(examples, config.out);
  LogInfo("exported " + std::to_string(examples.size()) + " examples into " + config.out);
  std::cout << config.out << std::endl;
  return ExitCode::kOk;
}

ExitCode RunLabelTrain(const LabelTrainConfig& config, const std::string& effective_config_yaml) {
  RequireFlag(!config.examples.empty(), "--examples is required (a folder of example images of success)");
  RequireFlag(!config.data.empty(), "--data is required (datasets whose states are the negatives)");
  RequireFlag(!config.out.empty(), "--out is required (the classifier checkpoint to write)");
  RequireFlag(config.steps > 0, "--steps must be positive");
  RequireFlag(config.log_every > 0, "--log-every must be positive");
  RequireFlag(config.threads >= 0, "--threads must be >= 0");
  config.classifier.Validate("classifier");
  const TorchRuntime runtime = ConfigureTorchRuntime(config.device, Threads(config.threads));
  const torch::Device device(runtime.device);

  DatasetSamplerConfig sampler;
  std::unique_ptr<ReplayData> data = OpenDatasetReplay(config.data, sampler);
  if (data->offline().num_transitions() == 0) Fail(ExitCode::kBadData, config.data.front() + ": no transitions");
  const std::string source = config.data.front();
  const InputSpec spec = OneImageSpec(data->spec(), source);
  const std::string& key = spec.image_keys.front();
  const ExampleImages examples = LoadExamples(config.examples, key, spec.height, spec.width);
  const ExampleSplit split =
      SplitExamples(examples, config.classifier.holdout, DeriveSeed(config.seed, kSplitStream, 0), config.examples);
  LogInfo("training a success classifier on " + std::to_string(split.train.size(0)) + " examples (" +
          std::to_string(split.holdout.size(0)) + " held back) against " +
          std::to_string(data->offline().num_transitions()) + " states of " + source);

  SuccessClassifier classifier(config.classifier, spec.height, spec.width, device, config.seed);
  Rng rng(DeriveSeed(config.seed, 1, 0));
  at::Generator generator = at::detail::createCPUGenerator(DeriveSeed(config.seed, 2, 0));
  for (int64_t step = 1; step <= config.steps; ++step) {
    const torch::Tensor positives = DrawRows(split.train, config.classifier.positives, rng);
    const TransitionBatch batch = data->offline().Sample(config.classifier.negatives, rng);
    const ClassifierStepStats stats =
        classifier.Step(positives, ArrayToTensor(batch.next_observations.at(key)), generator);
    if (step % config.log_every == 0 || step == config.steps) {
      std::string line = "step " + std::to_string(step) + " loss " + Fixed(stats.loss) + " batch accuracy " +
                         Fixed(stats.accuracy);
      if (split.holdout.size(0) > 0) {
        const double held = (classifier.Logits(split.holdout) > 0).to(torch::kFloat32).mean().item<double>();
        line += " held-back examples rated success " + Fixed(held);
      }
      LogInfo(line);
    }
  }
  WriteClassifierCheckpoint(config.out, classifier, config.seed, effective_config_yaml, examples.size());
  std::cout << config.out << std::endl;
  return ExitCode::kOk;
}

ExitCode RunLabelScore(const LabelScoreConfig& config) {
  RequireFlag(!config.classifier.empty(), "--classifier is required (a classifier checkpoint)");
  RequireFlag(config.images.empty() != config.data.empty(),
              "give image files or folders, or --data DATASET (not both)");
  const TorchRuntime runtime = ConfigureTorchRuntime(config.device, Threads(0));
  const std::unique_ptr<SuccessClassifier> classifier =
      LoadClassifierCheckpoint(config.classifier, torch::Device(runtime.device));
  const auto check_size = [&](const std::string& what, int64_t h, int64_t w) {
    if (h != classifier->height() || w != classifier->width()) {
      Fail(ExitCode::kBadData, what + ": the image is " + std::to_string(h) + "x" + std::to_string(w) +
                                   ", the classifier reads " + std::to_string(classifier->height()) + "x" +
                                   std::to_string(classifier->width()));
    }
  };
  if (!config.images.empty()) {
    std::vector<std::string> files;
    for (const auto& path : config.images) {
      if (!IsDirectory(path)) {
        files.push_back(path);
        continue;
      }
      std::vector<std::string> inside;
      for (const auto& entry : std::filesystem::directory_iterator(path)) {
        if (IsImageFileName(entry.path().filename().string())) inside.push_back(entry.path().string());
      }
      if (inside.empty()) Fail(ExitCode::kBadData, path + ": no PNG or JPEG image in the folder");
      std::sort(inside.begin(), inside.end());
      files.insert(files.end(), inside.begin(), inside.end());
    }
    for (const auto& file : files) {
      const Array image = ReadImageFile(file);
      check_size(file, image.shape[0], image.shape[1]);
      const double logit = classifier->Logits(ArrayToTensor(image).unsqueeze(0))[0].item<double>();
      std::cout << file << "\t" << Probability(logit) << "\n";
    }
    std::cout.flush();
    return ExitCode::kOk;
  }
  DatasetReader reader(config.data);
  std::string key;
  for (const auto& [name, spec] : reader.schema().observations) {
    if (spec.dtype == DType::kUint8 && spec.shape.size() == 3 && spec.shape[2] == 3) {
      if (!key.empty()) Fail(ExitCode::kBadData, config.data.front() + ": the data has several image observations");
      key = name;
      check_size(config.data.front(), spec.shape[0], spec.shape[1]);
    }
  }
  if (key.empty()) Fail(ExitCode::kBadData, config.data.front() + ": the data has no image observation");
  for (size_t i = 0; i < reader.num_episodes(); ++i) {
    const Episode episode = reader.ReadEpisode(i);
    const torch::Tensor logits = classifier->Logits(ArrayToTensor(episode.observations.at(key)));
    const EpisodeRef ref = reader.episode(i);
    std::cout << ref.file << "#" << ref.name << "\t" << Probability(logits[-1].item<double>()) << "\t"
              << Probability(logits.max().item<double>()) << "\t" << (episode.metadata.success ? 1 : 0) << "\n";
  }
  std::cout.flush();
  return ExitCode::kOk;
}

}  // namespace perpetua
