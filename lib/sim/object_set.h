// Procedural grasp objects with disjoint training and held-out sets.
//
// Object `id` is generated deterministically from the id alone (the same id
// is the same object on every machine and in every release that keeps the
// generator's golden test). Ids [0, kNumTrainObjects) are the training set;
// ids [kNumTrainObjects, kNumTrainObjects + kNumHeldoutObjects) are held out.
// The held-out set differs in kind, not only in draw: every held-out object
// takes its colour hue, mass and friction from ranges that no training object
// uses, and most belong to shape families that never appear in training:
//
//   property     training                          held out
//   family       box cylinder capsule sphere       60%: ellipsoid tee hammer stack
//                lshape dumbbell                   40%: the training families
//   grip width   2.5 .. 5.5 cm                     2.2 .. 2.5 or 5.5 .. 6.2 cm (training families)
//   mass         0.05 .. 0.25 kg                   0.03 .. 0.05 or 0.25 .. 0.35 kg
//   friction     0.6 .. 1.2                        0.45 .. 0.6 or 1.2 .. 1.5
//   colour hue   0.00 .. 0.80                      0.80 .. 1.00 (pinks and magentas)
//
// "Grip width" is the object's narrowest horizontal extent lying flat; the
// gripper opens to 9 cm, so every object is graspable.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/rng.h"

namespace perpetua::sim {

enum class ObjectFamily : int {
  kBox, kCylinder, kCapsule, kSphere, kLShape, kDumbbell,  // training families
  kEllipsoid, kTee, kHammer, kStack,                       // held-out-only families
};
constexpr int kNumObjectFamilies = 10;

// "box", "lshape", ...
const char* ObjectFamilyName(ObjectFamily family);
// True for families that never appear in the training set.
bool IsHeldoutOnlyFamily(ObjectFamily family);

constexpr int kMaxObjectParts = 3;
constexpr int64_t kNumTrainObjects = 1000;
constexpr int64_t kNumHeldoutObjects = 200;

// One primitive geom of an object, in the object's frame.
struct ObjectPart {
  int type = 0;                         // mjtGeom: mjGEOM_BOX, mjGEOM_CYLINDER, ...
  double size[3] = {0, 0, 0};           // MuJoCo geom size (half extents, radius, half length; m)
  double pos[3] = {0, 0, 0};            // position in the object frame (m)
  double quat[4] = {1, 0, 0, 0};        // orientation in the object frame (w, x, y, z)
};

struct ObjectParams {
  int64_t id = 0;
  ObjectFamily family = ObjectFamily::kBox;
  std::vector<ObjectPart> parts;        // 1..kMaxObjectParts; parts[0] is the one to grasp
  double mass = 0.1;                    // kg
  double friction = 1.0;                // sliding friction coefficient (its contacts use it)
  float rgba[4] = {1, 1, 1, 1};         // colour of every part
  double grip_width = 0.04;             // narrowest horizontal extent lying flat (m)
};

// The object with this id. Error(kUsage) if the id is outside both sets.
ObjectParams GenerateObject(int64_t id);

bool IsHeldoutObject(int64_t id);

// rgba (alpha 1) of hue h in [0, 1), saturation s and value v in [0, 1].
void HsvToRgba(double h, double s, double v, float rgba[4]);

// The colour domain randomisation gives an object (--cell.randomize.object-colors):
// any hue, with the saturation and value ranges of the generated objects, so
// that colour says nothing about which object it is.
void RandomObjectColor(Rng& rng, float rgba[4]);

// Parses an object-set spec: "train", "heldout" or comma-separated ids
// ("3,17,1005"). Error(kUsage) naming `source` on an empty list, a non-number
// or an id outside both sets.
std::vector<int64_t> ParseObjectSet(const std::string& spec, const std::string& source);

}  // namespace perpetua::sim
