// TensorBoard logging cost as a share of a training step:
//   1. microseconds per record written by EventWriter: a scalar, a 64x64x3
//      observation image (PNG), the effective config as text (~2 KB), each
//      with the default flush cadence and with a write(2) per record (the
//      worst case), against appending the same number of bytes to a string
//      (the baseline: what the framing and protobuf add over copying bytes);
//   2. the cost per training step at a cadence (default: 20 scalars every 50
//      steps, rl-train q's --log-every; 4 images every 1000 steps) as a share
//      of a QT-Opt step of --step-ms milliseconds (default 14.8: bench_train's
//      fastest measured step, batch 64 with two target workers, README, so
//      the share is an upper bound for slower steps).
// Usage: bench_tensorboard [--step-ms 14.8] [--scalars 20] [--scalar-every 50]
//                          [--images 4] [--image-every 1000] [--dir DIR]
// Not a test: the machine is shared and noisy; the target (1%) is printed beside.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "common/array.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/rng.h"
#include "tensorboard/event_writer.h"

namespace {

using namespace perpetua;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// A 64x64 observation-like image: smooth shading plus seeded noise (PNG
// compresses a rendered frame better than this; pure noise would be worse).
Array ObservationImage(uint64_t seed) {
  Rng rng(seed);
  Array image = Array::Zeros(DType::kUint8, {64, 64, 3});
  for (int y = 0; y < 64; ++y) {
    for (int x = 0; x < 64; ++x) {
      for (int c = 0; c < 3; ++c) {
        image.u8[(y * 64 + x) * 3 + c] =
            static_cast<uint8_t>(x * 2 + y + c * 40 + static_cast<int>(rng.UniformInt(24)));
      }
    }
  }
  return image;
}

struct PerRecord {
  double buffered_us = 0;  // default cadence (flush every 10 s), final Flush included
  double written_us = 0;   // a write(2) per record
  double baseline_us = 0;  // appending the file's bytes to a string
};

// Microseconds per record of `add(writer, i)` over `n` records.
template <typename Add>
PerRecord Measure(const std::string& dir, int n, Add add) {
  PerRecord out;
  for (int mode = 0; mode < 2; ++mode) {
    tensorboard::EventWriterOptions options;
    if (mode == 1) options.flush_seconds = 0;
    const std::string run = dir + "/run-" + UniqueToken();
    tensorboard::EventWriter writer(run, options);
    const auto start = Clock::now();
    for (int i = 0; i < n; ++i) add(writer, i);
    writer.Flush();
    (mode == 0 ? out.buffered_us : out.written_us) = Seconds(start) * 1e6 / n;
    if (mode == 0) {
      const std::string bytes = ReadFileOrFail(writer.path(), ExitCode::kIoError);
      std::string sink;
      const auto copy = Clock::now();
      for (int i = 0; i < n; ++i) sink.append(bytes.data() + (bytes.size() / n) * i, bytes.size() / n);
      out.baseline_us = Seconds(copy) * 1e6 / n;
      if (sink.size() > bytes.size()) std::abort();  // keeps the copy
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  double step_ms = 14.8;
  int scalars = 20, scalar_every = 50, images = 4, image_every = 1000;
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = tmp ? tmp : "/tmp";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--step-ms") step_ms = std::atof(value);
    else if (flag == "--scalars") scalars = std::atoi(value);
    else if (flag == "--scalar-every") scalar_every = std::atoi(value);
    else if (flag == "--images") images = std::atoi(value);
    else if (flag == "--image-every") image_every = std::atoi(value);
    else if (flag == "--dir") dir = value;
    else {
      std::fprintf(stderr, "bench_tensorboard: unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  try {
    const std::string root = dir + "/perpetua-tensorboard-bench-" + UniqueToken();
    EnsureWritableDirectory(root);
    const PerRecord scalar = Measure(root, 20000, [](tensorboard::EventWriter& w, int i) {
      w.AddScalar("train/loss", i, 0.001 * i);
    });
    Array frames[8];
    for (int k = 0; k < 8; ++k) frames[k] = ObservationImage(k);
    const PerRecord image = Measure(root, 400, [&](tensorboard::EventWriter& w, int i) {
      w.AddImage("obs/image", i, frames[i % 8]);
    });
    std::string config = "```\n";
    while (config.size() < 2000) config += "cem.samples: 64  # CEM samples per round\n";
    config += "```";
    const PerRecord text = Measure(root, 2000, [&](tensorboard::EventWriter& w, int i) {
      w.AddText("config", i, config);
    });
    std::filesystem::remove_all(root);

    std::printf("record                    default cadence   write per record   baseline (copy bytes)\n");
    const auto row = [](const char* name, const PerRecord& r) {
      std::printf("%-24s %10.2f us %15.2f us %15.3f us\n", name, r.buffered_us, r.written_us,
                  r.baseline_us);
    };
    row("scalar", scalar);
    row("image 64x64x3 (PNG)", image);
    row("text ~2 KB (config)", text);
    const double per_step_us =
        scalars * scalar.buffered_us / scalar_every + images * image.buffered_us / image_every;
    const double worst_us =
        scalars * scalar.written_us / scalar_every + images * image.written_us / image_every;
    std::printf("cadence: %d scalars every %d steps, %d images every %d steps\n", scalars,
                scalar_every, images, image_every);
    std::printf("cost per training step: %.3f us (write per record: %.3f us)\n", per_step_us,
                worst_us);
    std::printf("share of a %.1f ms QT-Opt step: %.4f%% (write per record: %.4f%%)  target <= 1%%\n",
                step_ms, 100 * per_step_us / (step_ms * 1000), 100 * worst_us / (step_ms * 1000));
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_tensorboard: error: %s\n", e.what());
    return static_cast<int>(e.code());
  }
  return 0;
}
