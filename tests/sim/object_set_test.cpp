#include "sim/object_set.h"

#include <doctest/doctest.h>

#include <mujoco/mujoco.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "sim_test_util.h"

namespace perpetua::sim {
namespace {

// Hue in [0, 1) of an RGB colour.
double Hue(const float rgba[4]) {
  const double r = rgba[0], g = rgba[1], b = rgba[2];
  const double hi = std::max({r, g, b}), lo = std::min({r, g, b}), d = hi - lo;
  if (d <= 0) return 0;
  double h;
  if (hi == r) h = std::fmod((g - b) / d, 6.0);
  else if (hi == g) h = (b - r) / d + 2;
  else h = (r - g) / d + 4;
  h /= 6;
  return h < 0 ? h + 1 : h;
}

}  // namespace

TEST_CASE("object sets have 1000 training and 200 held-out ids and they are disjoint") {
  const std::vector<int64_t> train = ParseObjectSet("train", "objects");
  const std::vector<int64_t> heldout = ParseObjectSet("heldout", "objects");
  CHECK(train.size() == 1000);
  CHECK(heldout.size() == 200);
  std::set<int64_t> train_set(train.begin(), train.end());
  for (int64_t id : heldout) {
    CHECK(train_set.count(id) == 0);
    CHECK(IsHeldoutObject(id));
  }
  for (int64_t id : train) CHECK_FALSE(IsHeldoutObject(id));
}

TEST_CASE("held-out objects use families and parameter ranges no training object uses") {
  int novel_family = 0;
  std::set<int> train_families;
  for (int64_t id = 0; id < kNumTrainObjects; ++id) {
    const ObjectParams o = GenerateObject(id);
    CHECK_FALSE(IsHeldoutOnlyFamily(o.family));
    train_families.insert(static_cast<int>(o.family));
    CHECK(o.mass >= 0.05);
    CHECK(o.mass < 0.25);
    CHECK(o.friction >= 0.6);
    CHECK(o.friction < 1.2);
    CHECK(Hue(o.rgba) < 0.8 + 1e-6);
    CHECK(o.grip_width >= 0.025);
    CHECK(o.grip_width < 0.055);
    CHECK(!o.parts.empty());
    CHECK(o.parts.size() <= static_cast<size_t>(kMaxObjectParts));
  }
  CHECK(train_families.size() == 6);  // every training family is used
  for (int64_t id = kNumTrainObjects; id < kNumTrainObjects + kNumHeldoutObjects; ++id) {
    const ObjectParams o = GenerateObject(id);
    novel_family += IsHeldoutOnlyFamily(o.family) ? 1 : 0;
    CHECK((o.mass < 0.05 || o.mass >= 0.25));
    CHECK((o.friction < 0.6 || o.friction >= 1.2));
    CHECK(Hue(o.rgba) >= 0.8 - 1e-6);
    if (!IsHeldoutOnlyFamily(o.family)) CHECK((o.grip_width < 0.025 || o.grip_width >= 0.055));
  }
  CHECK(novel_family >= 90);   // about 60% of 200
  CHECK(novel_family <= 150);
}

TEST_CASE("every object fits the gripper and has positive size") {
  for (int64_t id = 0; id < kNumTrainObjects + kNumHeldoutObjects; ++id) {
    const ObjectParams o = GenerateObject(id);
    CHECK(o.grip_width < 0.09);  // the fingers open to 9.6 cm
    for (const ObjectPart& part : o.parts) {
      CHECK(part.size[0] > 0);
      if (part.type == mjGEOM_BOX || part.type == mjGEOM_ELLIPSOID) {
        CHECK(part.size[1] > 0);
        CHECK(part.size[2] > 0);
      }
    }
  }
}

TEST_CASE("the generator is deterministic and pinned by golden values") {
  const ObjectParams a = GenerateObject(17), b = GenerateObject(17);
  CHECK(a.mass == b.mass);
  CHECK(a.parts.size() == b.parts.size());
  // Changing these changes every dataset's object ids' meaning.
  CHECK(std::string(ObjectFamilyName(GenerateObject(0).family)) == "dumbbell");
  CHECK(std::string(ObjectFamilyName(GenerateObject(1000).family)) == "dumbbell");
  CHECK(GenerateObject(0).mass == doctest::Approx(0.17642253911822942).epsilon(1e-12));
  CHECK(GenerateObject(1199).friction == doctest::Approx(0.45678905667608033).epsilon(1e-12));
}

TEST_CASE("randomised object colours cover every hue with the generated saturation and value") {
  Rng rng(3);
  int heldout_hues = 0;
  double lowest = 1, highest = 0;
  for (int i = 0; i < 2000; ++i) {
    float rgba[4];
    RandomObjectColor(rng, rgba);
    const double hue = Hue(rgba);
    heldout_hues += hue >= 0.8;
    lowest = std::min(lowest, hue);
    highest = std::max(highest, hue);
    const double value = std::max({rgba[0], rgba[1], rgba[2]});
    CHECK(value >= 0.6 - 1e-6);
    CHECK(value <= 0.95 + 1e-6);
    CHECK(rgba[3] == 1.0f);
  }
  CHECK(heldout_hues == doctest::Approx(400).epsilon(0.2));  // the held-out hues 0.8..1 too
  CHECK(lowest < 0.01);
  CHECK(highest > 0.99);
}

TEST_CASE("object lists parse and bad lists are usage errors naming the source") {
  CHECK(ParseObjectSet("3,17,1005", "objects") == std::vector<int64_t>{3, 17, 1005});
  testing::ExpectError([] { ParseObjectSet("3,x", "flag --env.objects"); }, ExitCode::kUsage,
                       "flag --env.objects: '3,x' is not train, heldout or a comma-separated");
  testing::ExpectError([] { ParseObjectSet("", "objects"); }, ExitCode::kUsage, "objects: ''");
  for (const char* bad : {"-1", "+3", " 3", "3,", "99999999999999999999"}) {
    CAPTURE(bad);
    testing::ExpectError([bad] { ParseObjectSet(bad, "objects"); }, ExitCode::kUsage,
                         "is not train, heldout or a comma-separated list of object ids");
  }
  testing::ExpectError([] { ParseObjectSet("5000", "objects"); }, ExitCode::kUsage,
                       "object id 5000 is outside the training (0..999) and held-out (1000..1199)");
  testing::ExpectError([] { GenerateObject(-1); }, ExitCode::kUsage, "object id -1");
}

}  // namespace perpetua::sim
