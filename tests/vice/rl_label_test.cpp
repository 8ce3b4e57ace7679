// rl-label end to end on real push data: export examples from successful
// scripted episodes, train a classifier against random episodes, score
// images and episodes, and every bad input with its exit code.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <sstream>

#include "nn/checkpoint.h"
#include "sim/png.h"
#include "vice/push_data.h"
#include "vice/example_images.h"

namespace perpetua {
namespace {

using testing::RunProcess;
using testing::ToolPath;

std::vector<std::string> Label(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {ToolPath("rl-label")};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// "<name>\t<p>..." lines -> the second column.
std::vector<double> Probabilities(const std::string& out) {
  std::vector<double> p;
  for (const auto& line : testing::Lines(out)) {
    const size_t tab = line.find('\t');
    REQUIRE(tab != std::string::npos);
    p.push_back(std::stod(line.substr(tab + 1)));
  }
  return p;
}

double Mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x / static_cast<double>(v.size());
  return s;
}

TEST_CASE("rl-label export, train and score: examples score high, random states low") {
  testing::TempDir tmp;
  testing::MakeExamples(tmp / "scripted", tmp / "examples", 24);
  testing::CollectPush(tmp / "random", "random", 40, 2, {"--env", "push", "--cell.image-size", "32"});
  const auto trained = RunProcess(Label({"train", "--examples", tmp / "examples", "--data", tmp / "random", "--out",
                                         tmp / "clf.ckpt", "--steps", "300", "--log-every", "100", "--threads", "1",
                                         "--classifier.positives", "32", "--classifier.negatives", "32",
                                         "--classifier.holdout", "0.25", "--seed", "3"}));
  INFO(trained.err);
  REQUIRE(trained.exit_code == 0);
  CHECK(trained.out == tmp / "clf.ckpt\n");
  CHECK(trained.err.find("on 18 examples (6 held back)") != std::string::npos);
  CHECK(trained.err.find("step 300 loss") != std::string::npos);
  const nlohmann::json meta = ReadCheckpointMetadata(tmp / "clf.ckpt");
  CHECK(meta["algorithm"] == "vice");
  CHECK(meta["step"] == 300);
  CHECK(meta["seed"] == 3);
  CHECK(meta["examples"] == 24);
  CHECK(meta["config_yaml"].get<std::string>().find("positives: 32") != std::string::npos);

  const auto examples = RunProcess(Label({"score", "--classifier", tmp / "clf.ckpt", tmp / "examples"}));
  INFO(examples.err);
  REQUIRE(examples.exit_code == 0);
  const std::vector<double> p_examples = Probabilities(examples.out);
  CHECK(p_examples.size() == 24);
  CHECK(testing::Lines(examples.out)[0].rfind(tmp / "examples/example-0000.png\t", 0) == 0);
  const auto episodes = RunProcess(Label({"score", "--classifier", tmp / "clf.ckpt", "--data", tmp / "random"}));
  INFO(episodes.err);
  REQUIRE(episodes.exit_code == 0);
  const std::vector<std::string> rows = testing::Lines(episodes.out);
  CHECK(rows.size() == 40);
  CHECK(rows[0].find("#data/demo_0\t") != std::string::npos);
  const std::vector<double> p_random = Probabilities(episodes.out);
  INFO("examples " << Mean(p_examples) << ", random episodes' last frames " << Mean(p_random));
  CHECK(Mean(p_examples) > 0.8);
  CHECK(Mean(p_random) < 0.2);
  // Per frame: 51 observations of each 50-step episode.
  const auto frames = RunProcess(Label({"score", "--classifier", tmp / "clf.ckpt", "--data", tmp / "random",
                                        "--frames"}));
  REQUIRE(frames.exit_code == 0);
  const std::vector<std::string> frame_rows = testing::Lines(frames.out);
  CHECK(frame_rows.size() == 40 * 51);
  CHECK(frame_rows[1].find("#data/demo_0\t1\t") != std::string::npos);
  CHECK(frame_rows[1].substr(frame_rows[1].size() - 2) == "\t0");
  // The scripted episodes' own successful last frames (6 of them never trained on) score high too.
  const auto scripted = RunProcess(Label({"score", "--classifier", tmp / "clf.ckpt", "--data", tmp / "scripted"}));
  REQUIRE(scripted.exit_code == 0);
  CHECK(Mean(Probabilities(scripted.out)) > 0.8);
  // Same seed, same classifier.
  const auto again = RunProcess(Label({"train", "--examples", tmp / "examples", "--data", tmp / "random", "--out",
                                       tmp / "clf2.ckpt", "--steps", "300", "--log-every", "100", "--threads", "1",
                                       "--classifier.positives", "32", "--classifier.negatives", "32",
                                       "--classifier.holdout", "0.25", "--seed", "3"}));
  REQUIRE(again.exit_code == 0);
  CHECK(ReadCheckpoint(tmp / "clf.ckpt").blobs.at("vice.net") == ReadCheckpoint(tmp / "clf2.ckpt").blobs.at("vice.net"));
}

TEST_CASE("rl-label: bad flags and bad input get one line and their exit code") {
  testing::TempDir tmp;
  testing::CollectPush(tmp / "random", "random", 3, 2);
  ::mkdir((tmp / "empty").c_str(), 0755);
  ::mkdir((tmp / "big").c_str(), 0755);
  Array big = Array::Zeros(DType::kUint8, {48, 48, 3});
  sim::WritePng(tmp / "big/a.png", big);
  ::mkdir((tmp / "ok").c_str(), 0755);
  sim::WritePng(tmp / "ok/a.png", Array::Zeros(DType::kUint8, {32, 32, 3}));
  testing::WriteFile(tmp / "broken.png", "not a png");
  testing::WriteFile(tmp / "garbage.ckpt", "garbage");
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"train", "--data", tmp / "random", "--out", tmp / "c.ckpt"}, 2, "--examples is required"},
      {{"train", "--examples", tmp / "ok", "--out", tmp / "c.ckpt"}, 2, "--data is required"},
      {{"train", "--examples", tmp / "ok", "--data", tmp / "random"}, 2, "--out is required"},
      {{"train", "--examples", tmp / "ok", "--data", tmp / "random", "--out", tmp / "c.ckpt", "--steps", "0"}, 2,
       "--steps must be positive"},
      {{"train", "--examples", tmp / "ok", "--data", tmp / "random", "--out", tmp / "c.ckpt", "--classifier.lr", "0"},
       2, "--classifier.lr must be positive"},
      {{"train", "--examples", tmp / "empty", "--data", tmp / "random", "--out", tmp / "c.ckpt"}, 3,
       tmp / "empty: no example images"},
      {{"train", "--examples", tmp / "big", "--data", tmp / "random", "--out", tmp / "c.ckpt"}, 3,
       tmp / "big/a.png: the image is 48x48, the data's images are 32x32"},
      {{"train", "--examples", tmp / "ok", "--data", tmp / "nowhere", "--out", tmp / "c.ckpt"}, 2, "nowhere"},
      {{"score", "--classifier", tmp / "garbage.ckpt", tmp / "ok"}, 3, tmp / "garbage.ckpt"},
      {{"score", "--classifier", tmp / "missing.ckpt", tmp / "ok"}, 3, tmp / "missing.ckpt"},
      {{"score", "--classifier", tmp / "garbage.ckpt"}, 2, "give image files or folders, or --data"},
      {{"score", "--classifier", tmp / "garbage.ckpt", tmp / "ok", "--frames"}, 2, "--frames scores the frames of --data"},
      {{"export", "--data", tmp / "random", "--out", tmp / "ex"}, 3, "no successful episode to export"},
      {{"export", "--out", tmp / "ex"}, 2, "--data is required"},
      {{"train", "--bogus", "1"}, 2, "--bogus"},
  };
  for (const Case& c : cases) {
    const auto r = RunProcess(Label(c.args));
    INFO(c.args[0] << " " << c.message << ": " << r.err);
    CHECK(r.exit_code == c.code);
    CHECK(r.err.find(c.message) != std::string::npos);
    CHECK(testing::Lines(r.err).size() >= 1);
    CHECK(r.err.find("terminate") == std::string::npos);
  }
  // A working classifier refuses images of another size and corrupt files.
  const auto trained = RunProcess(Label({"train", "--examples", tmp / "ok", "--data", tmp / "random", "--out",
                                         tmp / "c.ckpt", "--steps", "2", "--threads", "1",
                                         "--classifier.positives", "4", "--classifier.negatives", "4",
                                         "--classifier.holdout", "0"}));
  INFO(trained.err);
  REQUIRE(trained.exit_code == 0);
  const auto wrong_size = RunProcess(Label({"score", "--classifier", tmp / "c.ckpt", tmp / "big/a.png"}));
  CHECK(wrong_size.exit_code == 3);
  CHECK(wrong_size.err.find(tmp / "big/a.png: the image is 48x48, the classifier reads 32x32") != std::string::npos);
  const auto corrupt = RunProcess(Label({"score", "--classifier", tmp / "c.ckpt", tmp / "broken.png"}));
  CHECK(corrupt.exit_code == 3);
  CHECK(corrupt.err.find("not a readable PNG or JPEG image") != std::string::npos);
  const auto no_images = RunProcess(Label({"score", "--classifier", tmp / "c.ckpt", tmp / "empty"}));
  CHECK(no_images.exit_code == 3);
  CHECK(no_images.err.find(tmp / "empty: no PNG or JPEG image in the folder") != std::string::npos);
}

}  // namespace
}  // namespace perpetua
