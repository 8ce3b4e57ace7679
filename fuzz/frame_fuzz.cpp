// libFuzzer target for the robot protocol's decoder (lib/robot/frame.h,
// protocol.h): any bytes must either decode or throw ProtocolError; a crash,
// sanitizer report, leak or other exception is a bug. Run (see docs/protocol.md):
//   CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DPERPETUA_FUZZ=ON
//   ninja -C build-fuzz frame_fuzz && build-fuzz/bin/frame_fuzz -max_total_time=300 fuzz/corpus
#include <cstddef>
#include <cstdint>

#include "robot/frame.h"
#include "robot/protocol.h"

namespace {

perpetua::EnvSpec MakeSpec() {
  perpetua::EnvSpec spec;
  spec.name = "fuzz";
  spec.observations = {{"image", perpetua::DType::kUint8, {4, 4, 3}},
                       {"proprio", perpetua::DType::kFloat32, {2}}};
  spec.action.low = {-1.0f, -1.0f};
  spec.action.high = {1.0f, 1.0f};
  spec.max_episode_steps = 10;
  return spec;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace perpetua::robot;
  static const perpetua::EnvSpec spec = MakeSpec();
  FrameLimits limits;
  limits.max_frame_bytes = 1 << 20;  // keep allocations small under the fuzzer
  try {
    const Frame frame = DecodeFrame(data, size, limits);
    switch (frame.type) {
      case MessageType::kHello: ParseHello(frame); break;
      case MessageType::kWelcome: ParseWelcome(frame); break;
      case MessageType::kReset: ParseReset(frame); break;
      case MessageType::kResetResult: ParseResetResult(frame, spec); break;
      case MessageType::kStep: ParseStep(frame, spec.action); break;
      case MessageType::kStepResult: ParseStepResult(frame, spec); break;
      case MessageType::kPong: ParsePong(frame); break;
      case MessageType::kError: ParseError(frame); break;
      default: break;
    }
    // Whatever decoded must encode again.
    EncodeFrame(frame, limits);
  } catch (const ProtocolError&) {
    // The expected outcome for malformed input.
  }
  return 0;
}
