#include "vice/label_commands.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "common/clock.h"
#include "common/fs.h"
#include "common/log.h"
#include "data/dataset_reader.h"
#include "nn/input_spec.h"
#include "nn/tensor_io.h"
#include "nn/torch_runtime.h"
#include "replay/dataset_replay.h"
#include "vice/example_images.h"
#include "vice/query_queue.h"
#include "vice/success_classifier.h"

namespace perpetua {
namespace {


void RequireFlag(bool ok, const std::string& message) {
  if (!ok) Fail(ExitCode::kUsage, message);
}

std::string Probability(double logit) { return FixedText(1.0 / (1.0 + std::exp(-logit)), 4); }

// The one image observation of data `spec`. Error(kBadData) otherwise.
InputSpec OneImageSpec(const EnvSpec& spec, const std::string& source) {
  InputSpec input = InputSpec::FromEnvSpec(spec, source);
  if (input.image_keys.size() != 1) {
    Fail(ExitCode::kBadData, source + ": a success classifier needs data with exactly one image observation, this has " +
                                 std::to_string(input.image_keys.size()));
  }
  return input;
}

}  // namespace

ExitCode RunLabelPending(const LabelPendingConfig& config) {
  RequireFlag(!config.queue.empty(), "--queue is required (the run's question folder)");
  const QueryQueue queue(config.queue, /*create=*/false);
  const double now = UnixSeconds();
  for (const Query& q : queue.Unanswered()) {
    std::cout << q.id << "\t" << queue.dir() << "/" << q.image << "\t" << FixedText(q.probability, 4) << "\t"
              << static_cast<int64_t>(now - q.time_unix) << "\n";
  }
  std::cout.flush();
  return ExitCode::kOk;
}

ExitCode RunLabelAnswer(const LabelAnswerConfig& config) {
  RequireFlag(!config.queue.empty(), "--queue is required (the run's question folder)");
  RequireFlag(config.id > 0, "--id is required (the question's id, from rl-label pending)");
  RequireFlag(IsQueryLabel(config.label), "--label must be success, failure or skip");
  QueryQueue queue(config.queue, /*create=*/false);
  queue.Answer(config.id, config.label, config.by.empty() ? "file" : config.by);
  return ExitCode::kOk;
}

namespace {

// The image as text: each character is two pixels (upper half block, 24-bit
// foreground and background colours), at most `columns` wide.
std::string TerminalImage(const Array& image, int64_t columns) {
  const int64_t h = image.shape[0], w = image.shape[1];
  const int64_t step = std::max<int64_t>(1, (w + columns - 1) / columns);
  std::string out;
  const auto pixel = [&](int64_t y, int64_t x, int c) { return static_cast<int>(image.u8[(y * w + x) * 3 + c]); };
  for (int64_t y = 0; y + step < h + 1; y += 2 * step) {
    for (int64_t x = 0; x < w; x += step) {
      const int64_t y2 = std::min(h - 1, y + step);
      out += "\x1b[38;2;" + std::to_string(pixel(y, x, 0)) + ";" + std::to_string(pixel(y, x, 1)) + ";" +
             std::to_string(pixel(y, x, 2)) + "m\x1b[48;2;" + std::to_string(pixel(y2, x, 0)) + ";" +
             std::to_string(pixel(y2, x, 1)) + ";" + std::to_string(pixel(y2, x, 2)) + "m\u2580";
    }
    out += "\x1b[0m\n";
  }
  return out;
}

}  // namespace

ExitCode RunLabelAsk(const LabelAskConfig& config) {
  RequireFlag(!config.queue.empty(), "--queue is required (the run's question folder)");
  if (!::isatty(STDIN_FILENO)) {
    Fail(ExitCode::kUsage, "standard input is not a terminal: answer with rl-label answer (or the page of rl-label serve)");
  }
  QueryQueue queue(config.queue, /*create=*/false);
  int64_t answered = 0;
  for (const Query& q : queue.Unanswered()) {
    std::cout << "\n" << TerminalImage(queue.Image(q), 64) << "question " << q.id << ": " << queue.dir() << "/"
              << q.image << " (the classifier says " << FixedText(q.probability, 4) << ")\n"
              << "Is this a success? [y]es, [n]o, [s]kip, [q]uit: " << std::flush;
    std::string line;
    std::string label;
    while (label.empty()) {
      if (!std::getline(std::cin, line)) return ExitCode::kOk;
      const char c = line.empty() ? ' ' : static_cast<char>(std::tolower(static_cast<unsigned char>(line[0])));
      if (c == 'q') {
        std::cout << answered << " answered\n";
        return ExitCode::kOk;
      }
      label = c == 'y' ? "success" : c == 'n' ? "failure" : c == 's' ? "skip" : "";
      if (label.empty()) std::cout << "y, n, s or q: " << std::flush;
    }
    try {
      queue.Answer(q.id, label, config.by.empty() ? "terminal" : config.by);
      ++answered;
    } catch (const Error& e) {
      std::cout << e.what() << "\n";  // answered meanwhile elsewhere: go on
    }
  }
  std::cout << answered << " answered; no question left\n";
  return ExitCode::kOk;
}

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
  const TorchRuntime runtime = ConfigureTorchRuntime(config.device, config.threads);
  const torch::Device device(runtime.device);

  DatasetSamplerConfig sampler;
  std::unique_ptr<ReplayData> data = OpenDatasetReplay(config.data, sampler);
  if (data->offline().num_transitions() == 0) Fail(ExitCode::kBadData, config.data.front() + ": no transitions");
  const std::string source = config.data.front();
  const InputSpec spec = OneImageSpec(data->spec(), source);
  const std::string& key = spec.image_keys.front();
  const ExampleImages examples = LoadExamples(config.examples, key, spec.height, spec.width);
  const ExampleSplit split =
      SplitExamples(examples, config.classifier.holdout, config.seed, config.examples);
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
      std::string line = "step " + std::to_string(step) + " loss " + FixedText(stats.loss, 4) + " batch accuracy " +
                         FixedText(stats.accuracy, 4);
      if (split.holdout.size(0) > 0) {
        const double held = (classifier.Logits(split.holdout) > 0).to(torch::kFloat32).mean().item<double>();
        line += " held-back examples rated success " + FixedText(held, 4);
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
  RequireFlag(!config.frames || !config.data.empty(), "--frames scores the frames of --data episodes");
  const TorchRuntime runtime = ConfigureTorchRuntime(config.device, 0);
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
    const int success = episode.metadata.success ? 1 : 0;
    if (config.frames) {
      for (int64_t t = 0; t < logits.size(0); ++t) {
        std::cout << ref.file << "#" << ref.name << "\t" << t << "\t" << Probability(logits[t].item<double>())
                  << "\t" << success << "\n";
      }
      continue;
    }
    std::cout << ref.file << "#" << ref.name << "\t" << Probability(logits[-1].item<double>()) << "\t"
              << Probability(logits.max().item<double>()) << "\t" << success << "\n";
  }
  std::cout.flush();
  return ExitCode::kOk;
}

}  // namespace perpetua
