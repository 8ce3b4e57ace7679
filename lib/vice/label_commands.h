// The verbs of rl-label (tools/rl-label): each one's settings and its work.
//
//   rl-label export --data DIR --out EXAMPLES [--count N]
//       the last frame of each successful episode as PNG files: the
//       simulated stand-in for a user's photos of the goal.
//   rl-label train --examples EXAMPLES --data DIR --out FILE.ckpt [--steps N]
//       a success classifier: the examples (positives) against the data's
//       states (negatives), mixup and shifts as configured; prints the
//       checkpoint's path.
//   rl-label score --classifier FILE.ckpt IMAGE|FOLDER... | --data DIR
//       the classifier's success probability: one line per image
//       ("<file>\t<p>"), or per episode of --data ("<shard>#<episode>\t<p of
//       the last frame>\t<max p over its frames>\t<true success>"); with
//       --frames one line per frame instead ("<shard>#<episode>\t<t>\t<p>\t<true success>").
//   rl-label pending --queue DIR
//       the run's unanswered questions, oldest first: "<id>\t<image>\t<p>\t<age s>"
//   rl-label answer --queue DIR --id N --label success|failure|skip
//       answers one question (the files way, for any other tool)
//   rl-label ask --queue DIR
//       answers the questions at a terminal: each image drawn in the terminal
//       (24-bit colour half blocks), then y / n / s(kip) / q(uit)
// --classifier takes a classifier checkpoint or a training run's checkpoint
// trained with --reward vice. The question folder is a run's
// <out>/queries (vice/query_queue.h).
// Torch-free header.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/error.h"
#include "vice/vice_config.h"

namespace perpetua {

struct LabelExportConfig {
  std::vector<std::string> data;
  std::string out;
  int64_t count = 80;
  std::string image_key;
  void Visit(ConfigVisitor& v) {
    v.Field("data", data, "dataset folders or files to take successful episodes from", FieldKind::kRequired);
    v.Field("out", out, "folder to write the example images into (example-0000.png, ...)", FieldKind::kRequired);
    v.Field("count", count, "examples to export (the first successful episodes; 0: all)");
    v.Field("image_key", image_key, "image observation to export (default: the data's only image)");
  }
};

struct LabelTrainConfig {
  std::string examples;
  std::vector<std::string> data;
  std::string out;
  int64_t steps = 2000;
  uint64_t seed = 0;
  std::string device = "cpu";
  int threads = 0;
  int log_every = 100;
  ViceClassifierConfig classifier;
  void Visit(ConfigVisitor& v) {
    v.Field("examples", examples, "example images of success: a folder of PNG/JPEG files (or of shards)", FieldKind::kRequired);
    v.Field("data", data, "dataset folders whose states are the negatives", FieldKind::kRequired);
    v.Field("out", out, "classifier checkpoint to write (atomically)", FieldKind::kRequired);
    v.Field("steps", steps, "classifier steps");
    v.Field("seed", seed, "seed of the weights, the example split and the batches");
    v.Field("device", device, "cpu, cuda or cuda:N");
    v.Field("threads", threads, "CPU threads for the network (0: all cores)");
    v.Field("log_every", log_every, "print the loss and accuracies every N steps (stderr)");
    v.Group("classifier", classifier, "the success classifier");
  }
};

struct LabelScoreConfig {
  std::string classifier;
  std::vector<std::string> images;
  std::vector<std::string> data;
  bool frames = false;
  std::string device = "cpu";
  void Visit(ConfigVisitor& v) {
    v.Field("classifier", classifier, "classifier checkpoint (rl-label train, or a run with --reward vice)", FieldKind::kRequired);
    v.Field("images", images, "image files or folders of them to score", FieldKind::kPositional);
    v.Field("data", data, "dataset folders or files: score every episode's frames instead");
    v.Field("frames", frames, "with --data: one line per frame (\"<episode>\\t<t>\\t<p>\\t<true success>\") instead of per episode");
    v.Field("device", device, "cpu, cuda or cuda:N");
  }
};

struct LabelPendingConfig {
  std::string queue;
  void Visit(ConfigVisitor& v) { v.Field("queue", queue, "the run's question folder (<rl-train --out>/queries)", FieldKind::kRequired); }
};

struct LabelAnswerConfig {
  std::string queue;
  int64_t id = 0;
  std::string label;
  std::string by = "file";
  void Visit(ConfigVisitor& v) {
    v.Field("queue", queue, "the run's question folder (<rl-train --out>/queries)", FieldKind::kRequired);
    v.Field("id", id, "the question's id (rl-label pending lists them)", FieldKind::kRequired);
    v.Field("label", label, "success, failure or skip");
    v.Field("by", by, "who answers (recorded with the answer)");
  }
};

struct LabelAskConfig {
  std::string queue;
  std::string by = "terminal";
  void Visit(ConfigVisitor& v) {
    v.Field("queue", queue, "the run's question folder (<rl-train --out>/queries)", FieldKind::kRequired);
    v.Field("by", by, "who answers (recorded with each answer)");
  }
};

ExitCode RunLabelPending(const LabelPendingConfig& config);
ExitCode RunLabelAnswer(const LabelAnswerConfig& config);
// Reads the answers from standard input, which must be a terminal.
ExitCode RunLabelAsk(const LabelAskConfig& config);

ExitCode RunLabelExport(const LabelExportConfig& config);
ExitCode RunLabelTrain(const LabelTrainConfig& config, const std::string& effective_config_yaml);
ExitCode RunLabelScore(const LabelScoreConfig& config);

}  // namespace perpetua
