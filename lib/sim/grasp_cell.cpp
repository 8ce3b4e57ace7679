#include "sim/grasp_cell.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <sstream>

#include "common/error.h"

namespace perpetua::sim {
namespace {

// Physics blow-ups (docs/sim.md#physics-blow-ups): objects flicked by the
// fingers spin at up to ~130 rad/s; Euler integrates their gyroscopic torques
// explicitly and, at 5 ms, a free asymmetric body spinning at 75..300 rad/s
// gains energy every step until MuJoCo reports a huge QACC. The implicit
// integrator (velocity derivatives of the Coriolis terms included) keeps them
// bounded at the same timestep.
constexpr double kTimestep = 0.005;          // s per substep
constexpr int kSubsteps = 20;                // substeps per action (0.1 s)
constexpr double kMoveXY = kGraspMoveXY;
constexpr double kMoveZ = kGraspMoveZ;
constexpr double kMoveYaw = kGraspMoveYaw;
constexpr double kWorkspaceXY = 0.14;        // |x|, |y| limit of the gripper centre (m)
constexpr double kMaxZ = 0.30;               // highest gripper origin (m)
constexpr double kMinZ = -0.003;             // lowest: fingertips 2 mm above the table
constexpr double kStartZ = 0.16;             // gripper origin at the start of an episode
constexpr double kFingertipOffset = 0.005;   // fingertips above the gripper origin (m)
constexpr double kFingerTravel = 0.045;      // finger joint range (m): 0 closed, travel open
constexpr double kFingerGap = 0.006;         // gap between the fingers when fully closed (m)
constexpr double kLiftHeight = 0.10;         // success: an object centre above this (m)
constexpr double kStepPenalty = -0.02;
constexpr double kDropHalfRange = 0.07;      // objects dropped with |x|, |y| below this (m)
constexpr int kSettleSubsteps = 120;         // 0.6 s for dropped objects to come to rest

std::string GraspMjcf(int slots) {
  std::ostringstream xml;
  xml << R"(<mujoco model="grasp">
  <compiler angle="radian" autolimits="true"/>
  <option timestep=")" << kTimestep << R"(" integrator="implicit" iterations="10" tolerance="1e-6" solver="Newton" cone="pyramidal"/>
  <size njmax="1000" nconmax="300"/>
  <visual>
    <headlight ambient="0.35 0.35 0.35" diffuse="0.45 0.45 0.45" specular="0 0 0"/>
    <quality shadowsize="0" offsamples="0"/>
    <global offwidth="256" offheight="256"/>
  </visual>
  <default>
    <geom solref="0.01 1" solimp="0.95 0.99 0.001"/>
  </default>
  <asset>
    <texture name="table" type="2d" builtin="checker" width="64" height="64"
             rgb1="1 1 1" rgb2="0.9 0.9 0.9"/>
    <material name="table" texture="table" texrepeat="6 6"/>
    <texture name="bin" type="2d" builtin="checker" width="64" height="64"
             rgb1="1 1 1" rgb2="0.9 0.9 0.9"/>
    <material name="bin" texture="bin" texrepeat="3 3"/>
  </asset>
  <worldbody>
    <light name="sun" directional="true" pos="0 0 1" dir="0.2 0.3 -1" diffuse="0.6 0.6 0.6"
           specular="0.1 0.1 0.1" castshadow="false"/>
    <geom name="table" type="plane" size="1.5 1.5 0.02" rgba="0.55 0.45 0.35 1" material="table"
          friction="0.6"/>
    <geom name="bin_floor" type="box" pos="0 0 0.0002" size="0.17 0.17 0.0005" rgba="0.5 0.52 0.5 1" material="bin"
          contype="0" conaffinity="0"/>
    <geom name="wall_n" type="box" pos="0 0.175 0.02" size="0.185 0.01 0.02" rgba="0.3 0.35 0.45 1"/>
    <geom name="wall_s" type="box" pos="0 -0.175 0.02" size="0.185 0.01 0.02" rgba="0.3 0.35 0.45 1"/>
    <geom name="wall_e" type="box" pos="0.175 0 0.02" size="0.01 0.165 0.02" rgba="0.3 0.35 0.45 1"/>
    <geom name="wall_w" type="box" pos="-0.175 0 0.02" size="0.01 0.165 0.02" rgba="0.3 0.35 0.45 1"/>
    <camera name="shoulder" pos="0 -0.36 0.40" xyaxes="1 0 0 0 0.716 0.698" fovy="45"/>
    <body name="gripper" pos="0 0 0">
      <joint name="gx" type="slide" axis="1 0 0" range="-0.14 0.14" damping="45" armature="0.2"/>
      <joint name="gy" type="slide" axis="0 1 0" range="-0.14 0.14" damping="45" armature="0.2"/>
      <joint name="gz" type="slide" axis="0 0 1" range="-0.003 0.30" damping="45" armature="0.2"/>
      <joint name="gyaw" type="hinge" axis="0 0 1" range="-1.75 1.75" damping="0.15" armature="0.003"/>
      <geom name="palm" type="box" pos="0 0 0.077" size="0.02 0.062 0.012" rgba="0.25 0.25 0.3 1" mass="0.3"/>
      <geom name="wrist" type="cylinder" pos="0 0 0.12" size="0.016 0.032" rgba="0.6 0.6 0.65 1" mass="0.1"
            contype="0" conaffinity="0"/>
      <!-- behind the palm at its height, tilted 20 degrees toward the fingers: image up is the gripper's +x, image
           right its -y (the fingers close left-right in the image) -->
      <camera name="wrist" pos="-0.05 0 0.075" xyaxes="0 -1 0 0.938 0 0.347" fovy="75"/>
      <body name="finger_l">
        <joint name="fl" type="slide" axis="0 1 0" range="0 0.045" damping="25" armature="0.02"/>
        <geom name="finger_l" type="box" pos="0 0.008 0.035" size="0.012 0.005 0.03" rgba="0.85 0.55 0.1 1"
              mass="0.05" friction="1.0"/>
      </body>
      <body name="finger_r">
        <joint name="fr" type="slide" axis="0 -1 0" range="0 0.045" damping="25" armature="0.02"/>
        <geom name="finger_r" type="box" pos="0 -0.008 0.035" size="0.012 0.005 0.03" rgba="0.85 0.55 0.1 1"
              mass="0.05" friction="1.0"/>
      </body>
    </body>
)";
  for (int s = 0; s < slots; ++s) {
    xml << "    <body name=\"obj" << s << "\" pos=\"" << 1 + s << " 2 0.5\">\n"
        // A little damping stands in for rolling resistance: without it a
        // capsule lying on its side rolls on forever.
        << "      <joint type=\"free\" name=\"obj" << s << "\" damping=\"0.0003\"/>\n"
        << "      <inertial pos=\"0 0 0\" mass=\"0.1\" diaginertia=\"1e-4 1e-4 1e-4\"/>\n";
    for (int p = 0; p < kMaxObjectParts; ++p) {
      xml << "      <geom name=\"obj" << s << "_" << p
          << "\" type=\"box\" size=\"0.02 0.02 0.02\" priority=\"1\" condim=\"4\" mass=\"0\"/>\n";
    }
    xml << "    </body>\n";
  }
  xml << R"(  </worldbody>
  <actuator>
    <position name="ax" joint="gx" kp="1000" forcerange="-60 60"/>
    <position name="ay" joint="gy" kp="1000" forcerange="-60 60"/>
    <position name="az" joint="gz" kp="1000" forcerange="-60 60"/>
    <position name="ayaw" joint="gyaw" kp="4" forcerange="-2 2"/>
    <position name="afl" joint="fl" kp="400" forcerange="-20 20"/>
    <position name="afr" joint="fr" kp="400" forcerange="-20 20"/>
  </actuator>
</mujoco>
)";
  return xml.str();
}

// Half extents of a geom's bounding box in its own frame.
void GeomHalfExtents(int type, const mjtNum* size, double out[3]) {
  switch (type) {
    case mjGEOM_SPHERE: out[0] = out[1] = out[2] = size[0]; return;
    case mjGEOM_CAPSULE: out[0] = out[1] = size[0]; out[2] = size[1] + size[0]; return;
    case mjGEOM_CYLINDER: out[0] = out[1] = size[0]; out[2] = size[1]; return;
    default: out[0] = size[0]; out[1] = size[1]; out[2] = size[2]; return;
  }
}

// Points on (or just outside) the surface of a geom, in its frame: enough to
// measure its footprint and height after any rotation.
void SurfacePoints(int type, const mjtNum* size, std::vector<std::array<double, 3>>& points) {
  points.clear();
  constexpr int kRing = 12;
  auto Ring = [&](double radius, double z) {
    for (int k = 0; k < kRing; ++k) {
      const double angle = 2 * M_PI * k / kRing;
      points.push_back({radius * std::cos(angle), radius * std::sin(angle), z});
    }
  };
  switch (type) {
    case mjGEOM_SPHERE:
    case mjGEOM_ELLIPSOID: {
      const double a = size[0], b = type == mjGEOM_SPHERE ? size[0] : size[1];
      const double c = type == mjGEOM_SPHERE ? size[0] : size[2];
      for (int i = -2; i <= 2; ++i) {  // latitude rings of an ellipsoid
        const double lat = M_PI / 2 * i / 2.0;
        for (int k = 0; k < kRing; ++k) {
          const double lon = 2 * M_PI * k / kRing;
          points.push_back({a * std::cos(lat) * std::cos(lon), b * std::cos(lat) * std::sin(lon),
                            c * std::sin(lat)});
        }
      }
      return;
    }
    case mjGEOM_CYLINDER:
      Ring(size[0], size[1]);
      Ring(size[0], -size[1]);
      return;
    case mjGEOM_CAPSULE:
      Ring(size[0], size[1]);
      Ring(size[0], -size[1]);
      Ring(size[0] * 0.7071, size[1] + size[0] * 0.7071);
      Ring(size[0] * 0.7071, -size[1] - size[0] * 0.7071);
      points.push_back({0, 0, size[1] + size[0]});
      points.push_back({0, 0, -size[1] - size[0]});
      return;
    default:
      for (int c = 0; c < 8; ++c) {
        points.push_back({(c & 1 ? 1 : -1) * size[0], (c & 2 ? 1 : -1) * size[1],
                          (c & 4 ? 1 : -1) * size[2]});
      }
      return;
  }
}

// SurfacePoints of geom g, in the world frame at the current state.
void WorldSurfacePoints(const mjModel* m, const mjData* d, int g, std::vector<std::array<double, 3>>& points) {
  SurfacePoints(m->geom_type[g], m->geom_size + 3 * g, points);
  const mjtNum* center = d->geom_xpos + 3 * g;
  const mjtNum* rot = d->geom_xmat + 9 * g;
  for (auto& point : points) {
    const double local[3] = {point[0], point[1], point[2]};
    for (int i = 0; i < 3; ++i) {
      point[i] = center[i] + rot[3 * i] * local[0] + rot[3 * i + 1] * local[1] + rot[3 * i + 2] * local[2];
    }
  }
}

// Volume and diagonal inertia per unit mass (about the centre, geom frame).
double PartVolume(const ObjectPart& p) {
  const double* s = p.size;
  switch (p.type) {
    case mjGEOM_SPHERE: return 4.0 / 3.0 * M_PI * s[0] * s[0] * s[0];
    case mjGEOM_ELLIPSOID: return 4.0 / 3.0 * M_PI * s[0] * s[1] * s[2];
    case mjGEOM_CYLINDER: return M_PI * s[0] * s[0] * 2 * s[1];
    case mjGEOM_CAPSULE: return M_PI * s[0] * s[0] * 2 * s[1] + 4.0 / 3.0 * M_PI * s[0] * s[0] * s[0];
    default: return 8 * s[0] * s[1] * s[2];
  }
}
void PartUnitInertia(const ObjectPart& p, double out[3]) {
  const double* s = p.size;
  switch (p.type) {
    case mjGEOM_SPHERE: out[0] = out[1] = out[2] = 0.4 * s[0] * s[0]; return;
    case mjGEOM_ELLIPSOID:
      out[0] = (s[1] * s[1] + s[2] * s[2]) / 5;
      out[1] = (s[0] * s[0] + s[2] * s[2]) / 5;
      out[2] = (s[0] * s[0] + s[1] * s[1]) / 5;
      return;
    case mjGEOM_CYLINDER:
    case mjGEOM_CAPSULE: {
      // A capsule as a cylinder of its whole length (caps included).
      const double length = 2 * s[1] + (p.type == mjGEOM_CAPSULE ? 2 * s[0] : 0);
      out[0] = out[1] = (3 * s[0] * s[0] + length * length) / 12;
      out[2] = s[0] * s[0] / 2;
      return;
    }
    default:
      out[0] = (s[1] * s[1] + s[2] * s[2]) / 3;
      out[1] = (s[0] * s[0] + s[2] * s[2]) / 3;
      out[2] = (s[0] * s[0] + s[1] * s[1]) / 3;
      return;
  }
}

nlohmann::json Vec3(const mjtNum* v) { return nlohmann::json::array({v[0], v[1], v[2]}); }

}  // namespace

GraspCell::GraspCell(const EnvConfig& config) : SimCell(config) {
  if (config.max_objects < 1 || config.max_objects > 8) {
    Fail(ExitCode::kUsage, "max_objects " + std::to_string(config.max_objects) +
                               " is outside 1..8");
  }
  object_set_ = ParseObjectSet(config.objects, "objects");
  const int slots = config.max_objects;
  ModelPtr model = CompileMjcf(GraspMjcf(slots));
  const mjModel* m = model.get();
  std::vector<int> scenery = {NameId(m, mjOBJ_GEOM, "table"), NameId(m, mjOBJ_GEOM, "bin_floor"),
                              NameId(m, mjOBJ_GEOM, "wall_n"), NameId(m, mjOBJ_GEOM, "wall_s"),
                              NameId(m, mjOBJ_GEOM, "wall_e"), NameId(m, mjOBJ_GEOM, "wall_w"),
                              NameId(m, mjOBJ_GEOM, "palm"),   NameId(m, mjOBJ_GEOM, "finger_l"),
                              NameId(m, mjOBJ_GEOM, "finger_r")};
  gripper_body_ = NameId(m, mjOBJ_BODY, "gripper");
  joint_x_ = NameId(m, mjOBJ_JOINT, "gx");
  joint_y_ = NameId(m, mjOBJ_JOINT, "gy");
  joint_z_ = NameId(m, mjOBJ_JOINT, "gz");
  joint_yaw_ = NameId(m, mjOBJ_JOINT, "gyaw");
  finger_l_ = NameId(m, mjOBJ_JOINT, "fl");
  finger_r_ = NameId(m, mjOBJ_JOINT, "fr");
  for (int s = 0; s < slots; ++s) {
    const std::string name = "obj" + std::to_string(s);
    slot_bodies_.push_back(NameId(m, mjOBJ_BODY, name.c_str()));
    slot_joints_.push_back(NameId(m, mjOBJ_JOINT, name.c_str()));
    for (int p = 0; p < kMaxObjectParts; ++p) {
      slot_geoms_.push_back(NameId(m, mjOBJ_GEOM, (name + "_" + std::to_string(p)).c_str()));
    }
  }
  InitModel(std::move(model), "shoulder", scenery);
  substeps_per_step_ = kSubsteps;
  gravity_compensation_ = model_->body_subtreemass[gripper_body_] * -model_->opt.gravity[2];

  spec_.name = "grasp";
  spec_.observations = {{"image", DType::kUint8, {config.image_size, config.image_size, 3}},
                        {"proprio", DType::kFloat32, {5}}};
  if (config.wrist_camera) {
    wrist_camera_ = NameId(model_.get(), mjOBJ_CAMERA, "wrist");
    spec_.observations.push_back({kWristImageKey, DType::kUint8, {config.image_size, config.image_size, 3}});
  }
  spec_.action.low.assign(6, -1.0f);
  spec_.action.high.assign(6, 1.0f);
  spec_.action.names = {"dx", "dy", "dz", "dyaw", "gripper", "terminate"};
  spec_.max_episode_steps = config.max_episode_steps > 0 ? config.max_episode_steps : 20;
  spec_.control_hz = 0.0;
  EnvConfig recorded = config;
  recorded.max_episode_steps = spec_.max_episode_steps;
  spec_.env_args = EnvConfigToArgs(recorded);
}

void GraspCell::SetSlot(int slot, const ObjectParams* object, double mass_scale,
                        double friction_scale) {
  mjModel* m = model_.get();
  const int body = slot_bodies_[slot];
  double total_volume = 0, com[3] = {0, 0, 0};
  const int parts = object ? static_cast<int>(object->parts.size()) : 0;
  for (int p = 0; p < kMaxObjectParts; ++p) {
    const int g = slot_geoms_[slot * kMaxObjectParts + p];
    if (p < parts) {
      const ObjectPart& part = object->parts[p];
      m->geom_type[g] = part.type;
      for (int k = 0; k < 3; ++k) m->geom_size[3 * g + k] = part.size[k];
      for (int k = 0; k < 3; ++k) m->geom_pos[3 * g + k] = part.pos[k];
      for (int k = 0; k < 4; ++k) m->geom_quat[4 * g + k] = part.quat[k];
      for (int k = 0; k < 4; ++k) m->geom_rgba[4 * g + k] = object->rgba[k];
      m->geom_friction[3 * g] = object->friction * friction_scale;
      double half[3];
      GeomHalfExtents(part.type, m->geom_size + 3 * g, half);
      m->geom_rbound[g] = std::sqrt(half[0] * half[0] + half[1] * half[1] + half[2] * half[2]);
      m->geom_contype[g] = 1;
      m->geom_conaffinity[g] = 1;
      m->geom_group[g] = 0;
      const double volume = PartVolume(part);
      total_volume += volume;
      for (int k = 0; k < 3; ++k) com[k] += volume * part.pos[k];
    } else {
      m->geom_contype[g] = 0;
      m->geom_conaffinity[g] = 0;
      m->geom_group[g] = 3;  // hidden
      m->geom_rbound[g] = 0.001;
    }
  }
  if (object == nullptr) return;
  for (int k = 0; k < 3; ++k) com[k] /= total_volume;
  const double mass = object->mass * mass_scale;
  // Inertia tensor about the centre of mass (object frame): rotate each part's
  // diagonal inertia into the object frame and shift it (parallel axes).
  mjtNum inertia[9] = {0};
  for (const ObjectPart& part : object->parts) {
    const double part_mass = mass * PartVolume(part) / total_volume;
    double diagonal[3];
    PartUnitInertia(part, diagonal);
    mjtNum rot[9];
    mju_quat2Mat(rot, part.quat);
    const double d[3] = {part.pos[0] - com[0], part.pos[1] - com[1], part.pos[2] - com[2]};
    const double d2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) {
        double value = 0;
        for (int k = 0; k < 3; ++k) value += rot[3 * i + k] * diagonal[k] * rot[3 * j + k];
        value += (i == j ? d2 : 0.0) - d[i] * d[j];
        inertia[3 * i + j] += part_mass * value;
      }
    }
  }
  mjtNum eigval[3], eigvec[9], quat[4];
  mju_eig3(eigval, eigvec, quat, inertia);
  m->body_mass[body] = mass;
  for (int k = 0; k < 3; ++k) m->body_ipos[3 * body + k] = com[k];
  for (int k = 0; k < 3; ++k) m->body_inertia[3 * body + k] = std::max(eigval[k], 1e-7);
  mju_copy4(m->body_iquat + 4 * body, quat);
}

void GraspCell::HoldTargets(double x, double y, double z, double yaw, bool closed) {
  mjData* d = data_.get();
  d->ctrl[0] = x;
  d->ctrl[1] = y;
  d->ctrl[2] = z;
  d->ctrl[3] = yaw;
  // Closed: a target beyond the joint limit, so the fingers squeeze with the
  // actuator's full force (20 N each) whatever the object's width.
  d->ctrl[4] = closed ? -kFingerTravel : kFingerTravel;
  d->ctrl[5] = closed ? -kFingerTravel : kFingerTravel;
  d->qfrc_applied[model_->jnt_dofadr[joint_z_]] = gravity_compensation_;
  closed_ = closed;
}

void GraspCell::PlaceObjects(const std::vector<int64_t>& ids, Rng& rng) {
  mjModel* m = model_.get();
  mjData* d = data_.get();
  active_ids_ = ids;
  active_families_.clear();
  const RandomizeConfig& r = config_.randomize;
  const int slots = static_cast<int>(slot_bodies_.size());
  // Object colours come from a stream of their own (derived from, not drawn
  // from, the episode's), so that switching them on moves nothing.
  uint64_t state[4];
  rng.GetState(state);
  Rng colors(DeriveSeed(state[0] ^ state[2], /*stream=*/0xC010, state[1] ^ state[3]));
  for (int s = 0; s < slots; ++s) {
    if (s >= static_cast<int>(ids.size())) {
      SetSlot(s, nullptr, 1, 1);
      continue;
    }
    ObjectParams object = GenerateObject(ids[s]);
    if (r.object_colors) RandomObjectColor(colors, object.rgba);
    if (r.colors) {
      for (int k = 0; k < 3; ++k) {
        object.rgba[k] = static_cast<float>(
            std::clamp(object.rgba[k] + rng.Uniform(-0.06, 0.06), 0.0, 1.0));
      }
    }
    const double mass_scale =
        r.physics ? std::exp(rng.Uniform(std::log(0.5), std::log(2.0))) : 1.0;
    const double friction_scale = r.physics ? rng.Uniform(0.7, 1.3) : 1.0;
    SetSlot(s, &object, mass_scale, friction_scale);
    active_families_.push_back(static_cast<int>(object.family));
  }
  mj_setConst(m, d);  // derived masses; it also resets qpos to qpos0, so place after it
  for (int s = 0; s < slots; ++s) {
    mjtNum* q = d->qpos + m->jnt_qposadr[slot_joints_[s]];
    if (s < static_cast<int>(ids.size())) {
      q[0] = rng.Uniform(-kDropHalfRange, kDropHalfRange);
      q[1] = rng.Uniform(-kDropHalfRange, kDropHalfRange);
      q[2] = 0.05 + 0.07 * s;
      // A uniformly random orientation (normalised Gaussian quaternion).
      mjtNum quat[4] = {rng.Normal(), rng.Normal(), rng.Normal(), rng.Normal()};
      mju_normalize4(quat);
      mju_copy4(q + 3, quat);
    } else {
      q[0] = 1.0 + s;  // parked out of sight and out of collision
      q[1] = 2.0;
      q[2] = 0.5;
      q[3] = 1;
      q[4] = q[5] = q[6] = 0;
    }
  }
}

ResetResult GraspCell::ResetCell(uint64_t seed, const nlohmann::json& options) {
  CheckKeys(options, {"object_ids"}, "grasp reset options");
  Rng rng(seed);
  std::vector<int64_t> ids;
  if (options.contains("object_ids")) {
    const nlohmann::json& list = options.at("object_ids");
    if (!list.is_array() || list.empty() ||
        static_cast<int>(list.size()) > static_cast<int>(slot_bodies_.size())) {
      Fail(ExitCode::kUsage, "grasp reset option object_ids must list 1.." +
                                 std::to_string(slot_bodies_.size()) + " ids");
    }
    for (const auto& id : list) {
      if (!id.is_number_integer()) Fail(ExitCode::kUsage, "object_ids must be integers");
      GenerateObject(id.get<int64_t>());  // validates the id
      ids.push_back(id.get<int64_t>());
    }
  } else {
    const int count = 1 + static_cast<int>(rng.UniformInt(slot_bodies_.size()));
    std::vector<int64_t> pool = object_set_;
    for (int i = 0; i < count; ++i) {
      if (pool.empty()) pool = object_set_;  // a short explicit list: allow repeats
      const size_t pick = rng.UniformInt(pool.size());
      ids.push_back(pool[pick]);
      pool.erase(pool.begin() + static_cast<std::ptrdiff_t>(pick));
    }
  }
  mj_resetData(model_.get(), data_.get());
  RandomizeScene(rng);
  PlaceObjects(ids, rng);
  mjData* d = data_.get();
  const double x0 = rng.Uniform(-0.03, 0.03), y0 = rng.Uniform(-0.03, 0.03);
  d->qpos[model_->jnt_qposadr[joint_x_]] = x0;
  d->qpos[model_->jnt_qposadr[joint_y_]] = y0;
  d->qpos[model_->jnt_qposadr[joint_z_]] = kStartZ;
  d->qpos[model_->jnt_qposadr[finger_l_]] = kFingerTravel;
  d->qpos[model_->jnt_qposadr[finger_r_]] = kFingerTravel;
  HoldTargets(x0, y0, kStartZ, 0.0, false);
  mj_forward(model_.get(), d);
  Simulate(kSettleSubsteps);
  return {MakeObservation(), MakeInfo(false)};
}

StepResult GraspCell::StepCell(const std::vector<float>& action) {
  const mjModel* m = model_.get();
  const mjData* d = data_.get();
  const double x = d->qpos[m->jnt_qposadr[joint_x_]];
  const double y = d->qpos[m->jnt_qposadr[joint_y_]];
  const double z = d->qpos[m->jnt_qposadr[joint_z_]];
  const double yaw = d->qpos[m->jnt_qposadr[joint_yaw_]];
  const double tx = std::clamp(x + kMoveXY * action[0], -kWorkspaceXY, kWorkspaceXY);
  const double ty = std::clamp(y + kMoveXY * action[1], -kWorkspaceXY, kWorkspaceXY);
  const double tz = std::clamp(z + kMoveZ * action[2], kMinZ, kMaxZ);
  const double tyaw = std::clamp(yaw + kMoveYaw * action[3], -M_PI / 2, M_PI / 2);
  const bool close = action[4] > 0.0f;
  const bool terminate = action[5] > 0.0f;
  StepResult result;
  if (!terminate) {
    HoldTargets(tx, ty, tz, tyaw, close);
    Simulate(kSubsteps);
    result.reward = kStepPenalty;
    result.truncated = episode_steps() + 1 >= spec_.max_episode_steps;
    result.observation = MakeObservation();
    result.info = MakeInfo(false);
    return result;
  }
  // The grasp attempt: close where the gripper is, then lift in a ramp.
  HoldTargets(x, y, z, yaw, true);
  Simulate(3 * kSubsteps);
  const std::string empty_close = EmptyCloseFailure();
  const int ramp = 4 * kSubsteps;
  Simulate(ramp, [&](int i) { data_->ctrl[2] = z + (kMaxZ - z) * (i + 1) / ramp; });
  Simulate(2 * kSubsteps);
  const bool success = !unstable() && ObjectLifted();
  result.reward = success ? 1.0 : kStepPenalty;
  result.terminated = true;
  result.observation = MakeObservation();
  result.info = MakeInfo(success);
  if (!success) result.info["failure"] = empty_close.empty() ? "slipped" : empty_close;
  return result;
}

std::string GraspCell::EmptyCloseFailure() const {
  const mjModel* m = model_.get();
  const mjData* d = data_.get();
  const int finger_l = m->jnt_bodyid[finger_l_], finger_r = m->jnt_bodyid[finger_r_];
  auto is_object = [&](int body) {
    for (size_t s = 0; s < active_ids_.size(); ++s) {
      if (slot_bodies_[s] == body) return true;
    }
    return false;
  };
  for (int i = 0; i < d->ncon; ++i) {
    const int a = m->geom_bodyid[d->contact[i].geom1], b = m->geom_bodyid[d->contact[i].geom2];
    const bool finger_a = a == finger_l || a == finger_r, finger_b = b == finger_l || b == finger_r;
    if ((finger_a && is_object(b)) || (finger_b && is_object(a))) return "";
  }
  // Nothing between the fingers: above or beside the object nearest in x, y?
  const double gx = d->qpos[m->jnt_qposadr[joint_x_]], gy = d->qpos[m->jnt_qposadr[joint_y_]];
  double nearest = 1e9, top = -1e9;
  std::vector<std::array<double, 3>> points;
  for (size_t s = 0; s < active_ids_.size(); ++s) {
    const mjtNum* pos = d->xipos + 3 * slot_bodies_[s];
    const double distance = std::hypot(pos[0] - gx, pos[1] - gy);
    if (distance >= nearest) continue;
    nearest = distance;
    top = -1e9;
    for (int p = 0; p < kMaxObjectParts; ++p) {
      const int g = slot_geoms_[s * kMaxObjectParts + p];
      if (m->geom_contype[g] == 0) continue;  // an unused part
      WorldSurfacePoints(m, d, g, points);
      for (const auto& point : points) top = std::max(top, point[2]);
    }
  }
  return FingertipHeight() > top ? "closed-above" : "closed-beside";
}

double GraspCell::FingertipHeight() const {
  return data_->qpos[model_->jnt_qposadr[joint_z_]] + kFingertipOffset;
}

double GraspCell::Closure() const {
  const double opening = data_->qpos[model_->jnt_qposadr[finger_l_]] +
                         data_->qpos[model_->jnt_qposadr[finger_r_]];
  return std::clamp(1.0 - opening / (2 * kFingerTravel), 0.0, 1.0);
}

bool GraspCell::ObjectLifted() const {
  for (size_t s = 0; s < active_ids_.size(); ++s) {
    if (data_->xipos[3 * slot_bodies_[s] + 2] > kLiftHeight) return true;
  }
  return false;
}

Observation GraspCell::MakeObservation() {
  Observation observation;
  observation["image"] = RenderImage();
  if (wrist_camera_ >= 0) observation[kWristImageKey] = RenderImage(wrist_camera_);
  // What a real arm knows of its own gripper: height and closure first (the
  // original two), then its x, y and yaw in the table frame (0 without
  // --cell.proprio-pose).
  const mjtNum* q = data_->qpos;
  const auto pose = [&](int joint) {
    return config_.proprio_pose ? static_cast<float>(q[model_->jnt_qposadr[joint]]) : 0.0f;
  };
  observation["proprio"] = Array::FromFloats({static_cast<float>(FingertipHeight()), static_cast<float>(Closure()),
                                              pose(joint_x_), pose(joint_y_), pose(joint_yaw_)});
  return observation;
}

nlohmann::json GraspCell::MakeInfo(bool success) const {
  const mjModel* m = model_.get();
  const mjData* d = data_.get();
  nlohmann::json objects = nlohmann::json::array();
  for (size_t s = 0; s < active_ids_.size(); ++s) {
    // Privileged grasp: the first part's bounding-box corners projected on the
    // table; the yaw whose closing direction (gripper y axis) sees the
    // narrowest width.
    const int g = slot_geoms_[s * kMaxObjectParts];
    std::vector<std::array<double, 3>> corners;
    WorldSurfacePoints(m, d, g, corners);
    const mjtNum* center = d->geom_xpos + 3 * g;
    double top = -1e9;
    for (const auto& corner : corners) top = std::max(top, corner[2]);
    double best_yaw = 0, best_width = 1e9;
    for (int k = 0; k < 36; ++k) {
      const double yaw = -M_PI / 2 + M_PI * k / 36;
      const double dir[2] = {-std::sin(yaw), std::cos(yaw)};
      double lo = 1e9, hi = -1e9;
      for (auto& corner : corners) {
        const double p = corner[0] * dir[0] + corner[1] * dir[1];
        lo = std::min(lo, p);
        hi = std::max(hi, p);
      }
      if (hi - lo < best_width - 1e-9) {
        best_width = hi - lo;
        best_yaw = yaw;
      }
    }
    // Width across the fingers at the gripper's current yaw.
    const double current_yaw = d->qpos[m->jnt_qposadr[joint_yaw_]];
    const double current_dir[2] = {-std::sin(current_yaw), std::cos(current_yaw)};
    double lo = 1e9, hi = -1e9;
    for (auto& corner : corners) {
      const double p = corner[0] * current_dir[0] + corner[1] * current_dir[1];
      lo = std::min(lo, p);
      hi = std::max(hi, p);
    }
    objects.push_back({{"id", active_ids_[s]},
                       {"width_across", hi - lo},
                       {"family", ObjectFamilyName(static_cast<ObjectFamily>(active_families_[s]))},
                       {"pos", Vec3(d->xipos + 3 * slot_bodies_[s])},
                       {"grasp", {center[0], center[1], center[2], best_yaw, best_width}},
                       {"top", top}});
  }
  const double gx = d->qpos[m->jnt_qposadr[joint_x_]], gy = d->qpos[m->jnt_qposadr[joint_y_]];
  const double opening = d->qpos[m->jnt_qposadr[finger_l_]] +
                         d->qpos[m->jnt_qposadr[finger_r_]] + kFingerGap;
  return {{"success", success},
          {"object_ids", active_ids_},
          {"objects", objects},
          {"gripper",
           {{"pos", {gx, gy, FingertipHeight()}},
            {"yaw", d->qpos[m->jnt_qposadr[joint_yaw_]]},
            {"opening", opening},
            {"closed_command", closed_}}}};
}

Observation GraspCell::RenderState(const nlohmann::json& state) {
  CheckKeys(state, {"object_ids", "seed", "gripper"}, "grasp state");
  // Save the episode, render the requested state, restore.
  std::vector<mjtNum> qpos(data_->qpos, data_->qpos + model_->nq);
  std::vector<mjtNum> qvel(data_->qvel, data_->qvel + model_->nv);
  const std::vector<int64_t> saved_ids = active_ids_;
  const std::vector<int> saved_families = active_families_;
  ModelPtr saved_model(mj_copyModel(nullptr, model_.get()));
  bool settled = true;
  Rng rng(static_cast<uint64_t>(JsonNumber(state, "seed", 0)));
  if (state.contains("object_ids")) {
    std::vector<int64_t> ids = state.at("object_ids").get<std::vector<int64_t>>();
    if (ids.empty() || ids.size() > slot_bodies_.size()) {
      Fail(ExitCode::kUsage, "grasp state object_ids must list 1.." +
                                 std::to_string(slot_bodies_.size()) + " ids");
    }
    PlaceObjects(ids, rng);
    for (int joint : {joint_x_, joint_y_, joint_z_, joint_yaw_, finger_l_, finger_r_}) {
      const int adr = model_->jnt_qposadr[joint];
      data_->qpos[adr] = qpos[adr];
    }
    mj_forward(model_.get(), data_.get());
    settled = SimulateApart(kSettleSubsteps);  // the objects come to rest as after a reset
  }
  if (state.contains("gripper")) {
    const std::vector<double> g = state.at("gripper").get<std::vector<double>>();
    if (g.size() != 4) Fail(ExitCode::kUsage, "grasp state gripper must be [x, y, z, yaw]");
    data_->qpos[model_->jnt_qposadr[joint_x_]] = std::clamp(g[0], -kWorkspaceXY, kWorkspaceXY);
    data_->qpos[model_->jnt_qposadr[joint_y_]] = std::clamp(g[1], -kWorkspaceXY, kWorkspaceXY);
    data_->qpos[model_->jnt_qposadr[joint_z_]] = std::clamp(g[2], kMinZ, kMaxZ);
    data_->qpos[model_->jnt_qposadr[joint_yaw_]] = std::clamp(g[3], -M_PI / 2, M_PI / 2);
  }
  mj_forward(model_.get(), data_.get());
  Observation observation = MakeObservation();
  mj_copyModel(model_.get(), saved_model.get());
  active_ids_ = saved_ids;
  active_families_ = saved_families;
  std::copy(qpos.begin(), qpos.end(), data_->qpos);
  std::copy(qvel.begin(), qvel.end(), data_->qvel);
  mj_forward(model_.get(), data_.get());
  if (!settled) Fail(ExitCode::kEnvFailure, "grasp: the simulation became unstable while the state's objects settled");
  return observation;
}

}  // namespace perpetua::sim
