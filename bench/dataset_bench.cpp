// Dataset throughput, each figure beside a baseline measured in the same run:
//   1. frames/s written by DatasetWriter (64x64x3 uint8 image episodes,
//      deflate, fsync per episode) on one core, against the raw sequential
//      write speed of the same disk (1 MiB blocks + fsync), in frames/s.
//   2. transitions/s sampled in minibatches of 256 by DatasetSampler from a
//      dataset that fits the memory budget and from one twice the budget,
//      against a gather of the same rows from one in-memory array.
// Usage: bench_dataset [DIR]   (DIR: scratch directory on the disk to
// measure, default $TMPDIR or /tmp; removed afterwards). Not a test: the
// machine is shared and noisy; targets are printed beside the figures.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "../tests/data/episode_factory.h"
#include "common/fs.h"
#include "data/dataset_reader.h"
#include "data/dataset_sampler.h"
#include "data/dataset_writer.h"

namespace {

using namespace perpetua;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

constexpr int64_t kFrameBytes = 64 * 64 * 3;
constexpr int64_t kSteps = 20;

// MiB/s of writing `mib` MiB sequentially in 1 MiB blocks, then fsync.
double RawWriteMibPerSecond(const std::string& dir, int mib) {
  const std::string path = dir + "/raw.bin";
  std::vector<char> block(1 << 20);
  for (size_t i = 0; i < block.size(); ++i) block[i] = static_cast<char>(i * 131 + 7);
  const auto start = Clock::now();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) Fail(ExitCode::kIoError, path + ": cannot create");
  for (int i = 0; i < mib; ++i) {
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) {
      Fail(ExitCode::kIoError, path + ": write failed");
    }
  }
  ::fsync(fd);
  ::close(fd);
  const double s = Seconds(start);
  ::unlink(path.c_str());
  return mib / s;
}

// Writes `episodes` episodes of kSteps 64x64 frames; returns frames (steps) per second.
double WriteFramesPerSecond(const std::string& dir, int episodes, const std::string& sync,
                            const std::vector<Episode>& pool) {
  WriterOptions options;
  options.config.episodes_per_shard = 50;
  options.config.sync = sync;
  const auto start = Clock::now();
  {
    DatasetWriter writer(dir, options);
    for (int i = 0; i < episodes; ++i) writer.Add(pool[static_cast<size_t>(i) % pool.size()]);
    writer.Close();
  }
  return static_cast<double>(episodes * kSteps) / Seconds(start);
}

// Replaces the images of `episode` by frames like a rendered scene: a smooth
// background and a flat-shaded box moving across it (no sensor noise).
void MakeRenderedLike(Episode& episode, uint64_t seed) {
  std::vector<uint8_t>& image = episode.observations.at("image").u8;
  size_t i = 0;
  for (int64_t t = 0; t <= kSteps; ++t) {
    for (int64_t y = 0; y < 64; ++y) {
      for (int64_t x = 0; x < 64; ++x) {
        const bool box = x > 10 + t + static_cast<int64_t>(seed % 8) && x < 30 + t && y > 30 && y < 50;
        for (int64_t c = 0; c < 3; ++c) {
          image[i++] = box ? static_cast<uint8_t>(c == 0 ? 200 : 30 + seed)
                           : static_cast<uint8_t>(y * 2 + c * 20 + x / 8);
        }
      }
    }
  }
}

// Samples batches of 256 for about `seconds` after a warm-up; returns transitions/s.
double SampleRate(DatasetSampler& sampler, double seconds, SamplerStats* stats) {
  Rng rng(1);
  for (int i = 0; i < 20; ++i) sampler.Sample(256, rng);  // warm-up: loads what fits
  const auto start = Clock::now();
  int64_t n = 0;
  while (Seconds(start) < seconds) {
    sampler.Sample(256, rng);
    n += 256;
  }
  *stats = sampler.stats();
  return static_cast<double>(n) / Seconds(start);
}

// Baseline: gather 256 random (s, s') frame pairs from one in-memory array.
double GatherRate(int64_t frames, double seconds) {
  std::vector<uint8_t> data(static_cast<size_t>(frames * kFrameBytes), 1);
  std::vector<uint8_t> batch(static_cast<size_t>(2 * 256 * kFrameBytes));
  Rng rng(2);
  const auto start = Clock::now();
  int64_t n = 0;
  while (Seconds(start) < seconds) {
    for (int i = 0; i < 256; ++i) {
      const int64_t f = static_cast<int64_t>(rng.UniformInt(static_cast<uint64_t>(frames - 1)));
      std::memcpy(&batch[static_cast<size_t>(2 * i * kFrameBytes)], &data[static_cast<size_t>(f * kFrameBytes)], 2 * kFrameBytes);
    }
    n += 256;
  }
  return static_cast<double>(n) / Seconds(start) + 0.0 * batch[0];
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const char* tmp = std::getenv("TMPDIR");
    const std::string root = (argc > 1 ? std::string(argv[1]) : std::string(tmp ? tmp : "/tmp")) +
                             "/perpetua-dataset-bench-" + UniqueToken();
    EnsureWritableDirectory(root);
    std::printf("dataset bench in %s (one core; 64x64x3 uint8 images, %lld steps/episode)\n",
                root.c_str(), static_cast<long long>(kSteps));

    // 1. Writing.
    std::vector<Episode> pool;
    testing::EpisodeShape shape;
    shape.steps = kSteps;
    shape.height = 64;
    shape.width = 64;
    shape.proprio = 7;
    shape.action_dim = 4;
    for (uint64_t seed = 0; seed < 16; ++seed) pool.push_back(testing::MakeEpisode(seed, shape));
    std::vector<Episode> rendered = pool;
    for (size_t k = 0; k < rendered.size(); ++k) MakeRenderedLike(rendered[k], k);
    const double raw_mib = RawWriteMibPerSecond(root, 256);
    const double raw_frames = raw_mib * 1048576.0 / static_cast<double>(kFrameBytes);
    std::printf("raw sequential write: %.1f MiB/s = %.0f raw frames/s (baseline)\n", raw_mib,
                raw_frames);
    std::printf("DatasetWriter frames/s (target >= 5000), deflate level 1, 50 episodes/shard:\n");
    std::printf("  %-28s %12s %12s %12s\n", "frames", "sync=episode", "sync=shard", "sync=none");
    int run = 0;
    for (const auto* frames : {&rendered, &pool}) {
      std::printf("  %-28s", frames == &rendered ? "rendered-like (flat shading)" : "noisy (2 bits noise/byte)");
      for (const char* sync : {"episode", "shard", "none"}) {
        const double rate = WriteFramesPerSecond(root + "/w" + std::to_string(run++), 300, sync, *frames);
        std::printf(" %6.0f %4.2fx", rate, rate / raw_frames);
      }
      int64_t bytes = 0;
      for (const auto& shard : ListShards(root + "/w" + std::to_string(run - 1))) {
        bytes += static_cast<int64_t>(std::filesystem::file_size(shard));
      }
      std::printf("   stored %.0f bytes/frame\n", static_cast<double>(bytes) / (300.0 * (kSteps + 1)));
    }

    // 2. Sampling, from 300 noisy episodes just written (6,300 frames, ~74 MiB decoded).
    const std::string data = root + "/w3";
    const double decoded_mib = 300.0 * (kSteps + 1) * kFrameBytes / 1048576.0;
    const double gather = GatherRate(300 * (kSteps + 1), 2.0);
    std::printf("baseline in-memory gather: %9.0f transitions/s\n", gather);
    for (const double budget : {2.0 * decoded_mib, decoded_mib / 2.0}) {
      DatasetSamplerConfig config;
      config.memory_budget_mb = budget;
      DatasetSampler sampler({data}, config);
      SamplerStats stats;
      const double rate = SampleRate(sampler, 3.0, &stats);
      const double from_disk = static_cast<double>(stats.samples_from_disk) /
                               static_cast<double>(stats.samples_from_disk + stats.samples_from_memory);
      std::printf("sampler, data %.0f MiB, budget %.0f MiB: %9.0f transitions/s (%.2fx gather; "
                  "%.0f%% read from disk; resident %.1f MiB; target >= %s)\n",
                  decoded_mib, budget, rate, rate / gather, 100.0 * from_disk,
                  static_cast<double>(stats.resident_bytes) / 1048576.0,
                  budget > decoded_mib ? "20000" : "5000");
    }
    std::filesystem::remove_all(root);
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_dataset: error: %s\n", e.what());
    return static_cast<int>(e.code());
  }
}
