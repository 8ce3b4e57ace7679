#include "sim/object_set.h"

#include <mujoco/mujoco.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "common/error.h"
#include "common/rng.h"
#include "common/whole_number.h"

namespace perpetua::sim {
namespace {

// Saturation and value of every object's colour; the hue tells the sets apart.
constexpr double kMinSaturation = 0.55, kMaxSaturation = 0.95;
constexpr double kMinValue = 0.6, kMaxValue = 0.95;

// Salt of the generator's random stream: changing it changes every object.
constexpr uint64_t kObjectStream = 0x0b1ec7;

// Rotation taking the geom's local z axis to world x (for bars lying along x).
constexpr double kZToX[4] = {0.70710678118654752, 0, 0.70710678118654752, 0};
// Rotation taking local z to world y.
constexpr double kZToY[4] = {0.70710678118654752, -0.70710678118654752, 0, 0};

ObjectPart Part(int type, double s0, double s1, double s2, double x = 0, double y = 0,
                double z = 0, const double* quat = nullptr) {
  ObjectPart part;
  part.type = type;
  part.size[0] = s0;
  part.size[1] = s1;
  part.size[2] = s2;
  part.pos[0] = x;
  part.pos[1] = y;
  part.pos[2] = z;
  if (quat != nullptr) std::copy(quat, quat + 4, part.quat);
  return part;
}

// Uniform in [lo0, hi0) or [lo1, hi1), each band with probability 1/2.
double TwoBands(Rng& rng, double lo0, double hi0, double lo1, double hi1) {
  return rng.Uniform() < 0.5 ? rng.Uniform(lo0, hi0) : rng.Uniform(lo1, hi1);
}

}  // namespace

void HsvToRgba(double h, double s, double v, float rgba[4]) {
  const double i = std::floor(h * 6.0);
  const double f = h * 6.0 - i;
  const double p = v * (1 - s), q = v * (1 - f * s), t = v * (1 - (1 - f) * s);
  double r = v, g = t, b = p;
  switch (static_cast<int>(i) % 6) {
    case 0: r = v; g = t; b = p; break;
    case 1: r = q; g = v; b = p; break;
    case 2: r = p; g = v; b = t; break;
    case 3: r = p; g = q; b = v; break;
    case 4: r = t; g = p; b = v; break;
    default: r = v; g = p; b = q; break;
  }
  rgba[0] = static_cast<float>(r);
  rgba[1] = static_cast<float>(g);
  rgba[2] = static_cast<float>(b);
  rgba[3] = 1.0f;
}

void RandomObjectColor(Rng& rng, float rgba[4]) {
  const double hue = rng.Uniform(0.0, 1.0);
  const double saturation = rng.Uniform(kMinSaturation, kMaxSaturation);
  HsvToRgba(hue, saturation, rng.Uniform(kMinValue, kMaxValue), rgba);
}

namespace {

// Builds the parts of `family` with grip width `w` (m).
std::vector<ObjectPart> MakeParts(ObjectFamily family, double w, Rng& rng) {
  const double half = w / 2;
  switch (family) {
    case ObjectFamily::kBox:
      return {Part(mjGEOM_BOX, half, rng.Uniform(half, std::max(half, 0.045)),
                   rng.Uniform(0.012, 0.03))};
    case ObjectFamily::kCylinder:
      return {Part(mjGEOM_CYLINDER, half, rng.Uniform(0.015, 0.04), 0)};
    case ObjectFamily::kCapsule:
      return {Part(mjGEOM_CAPSULE, half, rng.Uniform(0.01, 0.035), 0)};
    case ObjectFamily::kSphere:
      return {Part(mjGEOM_SPHERE, half, 0, 0)};
    case ObjectFamily::kLShape: {
      const double la = rng.Uniform(0.03, 0.045), lb = rng.Uniform(0.02, 0.035);
      const double c = rng.Uniform(0.012, 0.025);
      return {Part(mjGEOM_BOX, la, half, c),
              Part(mjGEOM_BOX, half, lb, c, la - half, half + lb, 0)};
    }
    case ObjectFamily::kDumbbell: {
      const double hl = rng.Uniform(0.03, 0.045), bar = 0.45 * half;
      return {Part(mjGEOM_CYLINDER, bar, hl, 0, 0, 0, 0, kZToX),
              Part(mjGEOM_SPHERE, half, 0, 0, -hl, 0, 0), Part(mjGEOM_SPHERE, half, 0, 0, hl, 0, 0)};
    }
    case ObjectFamily::kEllipsoid:
      return {Part(mjGEOM_ELLIPSOID, half, rng.Uniform(half, std::max(half, 0.045)),
                   rng.Uniform(0.012, 0.03))};
    case ObjectFamily::kTee: {
      const double la = rng.Uniform(0.03, 0.045), ls = rng.Uniform(0.015, 0.03);
      const double c = rng.Uniform(0.012, 0.025);
      return {Part(mjGEOM_BOX, la, half, c), Part(mjGEOM_BOX, half, ls, c, 0, -(half + ls), 0)};
    }
    case ObjectFamily::kHammer: {
      const double hl = rng.Uniform(0.035, 0.05), handle = 0.5 * half;
      const double head = rng.Uniform(0.012, 0.018);
      return {Part(mjGEOM_CYLINDER, handle, hl, 0, 0, 0, 0, kZToX),
              Part(mjGEOM_BOX, head, rng.Uniform(0.025, 0.035), head, hl + head, 0, 0)};
    }
    case ObjectFamily::kStack: {
      const double c = rng.Uniform(0.01, 0.018), hl = rng.Uniform(0.012, 0.02);
      const double r = rng.Uniform(0.02, 0.03);
      return {Part(mjGEOM_BOX, half, rng.Uniform(half, std::max(half, 0.04)), c, 0, 0, hl + c),
              Part(mjGEOM_CYLINDER, r, hl, 0, 0, 0, 0, kZToY)};
    }
  }
  PERPETUA_CHECK_MSG(false, "unhandled object family");
}

}  // namespace

const char* ObjectFamilyName(ObjectFamily family) {
  static const char* kNames[kNumObjectFamilies] = {"box",      "cylinder",  "capsule", "sphere",
                                                   "lshape",   "dumbbell",  "ellipsoid", "tee",
                                                   "hammer",   "stack"};
  return kNames[static_cast<int>(family)];
}

bool IsHeldoutOnlyFamily(ObjectFamily family) {
  return static_cast<int>(family) >= static_cast<int>(ObjectFamily::kEllipsoid);
}

bool IsHeldoutObject(int64_t id) {
  return id >= kNumTrainObjects && id < kNumTrainObjects + kNumHeldoutObjects;
}

ObjectParams GenerateObject(int64_t id) {
  if (id < 0 || id >= kNumTrainObjects + kNumHeldoutObjects) {
    Fail(ExitCode::kUsage, "object id " + std::to_string(id) + " is outside the training (0.." +
                               std::to_string(kNumTrainObjects - 1) + ") and held-out (" +
                               std::to_string(kNumTrainObjects) + ".." +
                               std::to_string(kNumTrainObjects + kNumHeldoutObjects - 1) +
                               ") sets");
  }
  Rng rng(DeriveSeed(kObjectStream, 0, static_cast<uint64_t>(id)));
  ObjectParams object;
  object.id = id;
  const bool heldout = IsHeldoutObject(id);
  double hue;
  if (!heldout) {
    object.family = static_cast<ObjectFamily>(rng.UniformInt(6));
    object.grip_width = rng.Uniform(0.025, 0.055);
    object.mass = rng.Uniform(0.05, 0.25);
    object.friction = rng.Uniform(0.6, 1.2);
    hue = rng.Uniform(0.0, 0.8);
  } else {
    const bool novel_family = rng.Uniform() < 0.6;
    if (novel_family) {
      object.family = static_cast<ObjectFamily>(6 + rng.UniformInt(4));
      object.grip_width = rng.Uniform(0.025, 0.055);
    } else {
      object.family = static_cast<ObjectFamily>(rng.UniformInt(6));
      object.grip_width = TwoBands(rng, 0.022, 0.025, 0.055, 0.062);
    }
    object.mass = TwoBands(rng, 0.03, 0.05, 0.25, 0.35);
    object.friction = TwoBands(rng, 0.45, 0.6, 1.2, 1.5);
    hue = rng.Uniform(0.8, 1.0);
  }
  HsvToRgba(hue, rng.Uniform(kMinSaturation, kMaxSaturation), rng.Uniform(kMinValue, kMaxValue), object.rgba);
  object.parts = MakeParts(object.family, object.grip_width, rng);
  return object;
}

std::vector<int64_t> ParseObjectSet(const std::string& spec, const std::string& source) {
  std::vector<int64_t> ids;
  if (spec == "train" || spec == "heldout") {
    const int64_t first = spec == "train" ? 0 : kNumTrainObjects;
    const int64_t count = spec == "train" ? kNumTrainObjects : kNumHeldoutObjects;
    for (int64_t i = 0; i < count; ++i) ids.push_back(first + i);
    return ids;
  }
  size_t start = 0;
  while (start <= spec.size()) {
    size_t end = spec.find(',', start);
    if (end == std::string::npos) end = spec.size();
    const std::string item = spec.substr(start, end - start);
    const std::optional<uint64_t> number = ParseWholeNumber(item, std::numeric_limits<int64_t>::max());
    if (!number) {
      Fail(ExitCode::kUsage, source + ": '" + spec +
                                 "' is not train, heldout or a comma-separated list of object ids");
    }
    const int64_t id = static_cast<int64_t>(*number);
    if (id >= kNumTrainObjects + kNumHeldoutObjects) {
      try {
        GenerateObject(id);  // throws the range message
      } catch (const Error& error) {
        Fail(ExitCode::kUsage, source + ": " + error.what());
      }
    }
    ids.push_back(id);
    start = end + 1;
  }
  return ids;
}

}  // namespace perpetua::sim
