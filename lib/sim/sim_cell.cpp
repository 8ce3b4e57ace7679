#include "sim/sim_cell.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>

#include "common/config.h"
#include "common/error.h"
#include "common/whole_number.h"

namespace perpetua::sim {
namespace {

constexpr const char* kFaultVariable = "PERPETUA_SIM_BLOWUP";

}  // namespace

SimCell::SimCell(const EnvConfig& config) : config_(config) {
  const char* fault = std::getenv(kFaultVariable);
  if (fault == nullptr || *fault == '\0') return;
  const std::string text = fault;
  const size_t colon = text.find(':');
  const std::string when = text.substr(0, colon);
  const std::optional<uint64_t> step = when == "reset" ? std::optional<uint64_t>(0) : ParseWholeNumber(when);
  const std::optional<uint64_t> period =
      colon == std::string::npos ? std::optional<uint64_t>(1) : ParseWholeNumber(text.substr(colon + 1));
  if (!step || !period || *period == 0) {
    Fail(ExitCode::kUsage, std::string(kFaultVariable) + "='" + text +
                               "': expected STEP[:PERIOD] or reset[:PERIOD] (test-only: force a physics "
                               "blow-up at env step STEP, or while the reset settles, of episodes whose "
                               "seed is a multiple of PERIOD >= 1)");
  }
  fault_.in_reset = when == "reset";
  fault_.step = fault_.in_reset ? -1 : static_cast<int>(std::min<uint64_t>(*step, 1u << 30));
  fault_.period = *period;
}

ResetResult SimCell::DoReset(uint64_t seed, const nlohmann::json& options) {
  instability_.reset();
  episode_seed_ = seed;
  in_reset_ = true;
  mj_copyModel(model_.get(), nominal_model_.get());
  ResetResult result = ResetCell(seed, options);
  in_reset_ = false;
  return result;
}

StepResult SimCell::DoStep(const std::vector<float>& action) {
  in_reset_ = false;  // also after a reset that threw
  StepResult result = StepCell(action);
  if (!instability_) return result;
  result.terminated = false;
  result.truncated = true;
  result.info["success"] = false;
  result.info["unstable"] = {{"seed", episode_seed_},
                             {"step", instability_->step},
                             {"time", instability_->time},
                             {"dof", instability_->dof}};
  return result;
}

bool SimCell::FaultNow() const {
  const bool now = fault_.in_reset ? in_reset_ : fault_.step >= 0 && !in_reset_ && episode_steps() == fault_.step;
  return now && episode_seed_ % fault_.period == 0;
}

void SimCell::InitModel(ModelPtr model, const char* camera_name, std::vector<int> scenery_geoms) {
  model_ = std::move(model);
  data_.reset(mj_makeData(model_.get()));
  if (!data_) Fail(ExitCode::kEnvFailure, "MuJoCo: cannot allocate the simulation data");
  camera_ = NameId(model_.get(), mjOBJ_CAMERA, camera_name);
  renderer_ = std::make_unique<Renderer>(model_.get(), config_.renderer,
                                         std::max(config_.image_size, 256));
  scenery_geoms_ = std::move(scenery_geoms);
  // Textured surfaces render plain (their rgba) unless textures are
  // randomised: texture sampling costs llvmpipe ~50% more per frame.
  for (int g = 0; g < model_->ngeom; ++g) {
    if (model_->geom_matid[g] < 0) continue;
    textured_geoms_.push_back(g);
    textured_materials_.push_back(model_->geom_matid[g]);
    model_->geom_matid[g] = -1;
  }
  nominal_model_.reset(mj_copyModel(nullptr, model_.get()));
  if (!nominal_model_) Fail(ExitCode::kEnvFailure, "MuJoCo: cannot copy the model");
}

void SimCell::RandomizeScene(Rng& rng) {
  mjModel* m = model_.get();  // nominal: Reset copied it back
  const RandomizeConfig& r = config_.randomize;
  if (r.textures || textures_changed_) RandomizeTextures(r.textures, rng);
  if (r.lighting) {
    for (int l = 0; l < m->nlight; ++l) {
      const float gain = static_cast<float>(rng.Uniform(0.5, 1.3));
      for (int k = 0; k < 3; ++k) m->light_diffuse[3 * l + k] *= gain;
      mjtNum dir[3] = {m->light_dir[3 * l] + rng.Uniform(-0.4, 0.4),
                       m->light_dir[3 * l + 1] + rng.Uniform(-0.4, 0.4), m->light_dir[3 * l + 2]};
      mju_normalize3(dir);
      mju_copy3(m->light_dir + 3 * l, dir);
    }
    const float ambient = static_cast<float>(rng.Uniform(0.1, 0.5));
    for (int k = 0; k < 3; ++k) m->vis.headlight.ambient[k] = ambient;
  }
  if (r.colors) {
    for (int geom : scenery_geoms_) {
      for (int k = 0; k < 3; ++k) {
        m->geom_rgba[4 * geom + k] = static_cast<float>(rng.Uniform(0.15, 0.9));
      }
    }
  }
  if (r.camera) {
    for (int k = 0; k < 3; ++k) m->cam_pos[3 * camera_ + k] += rng.Uniform(-0.02, 0.02);
    // A small rotation (<= 2 degrees about each axis) composed with the nominal one.
    const double limit = 2.0 * M_PI / 180.0;
    mjtNum jitter[4] = {1, 0, 0, 0};
    const mjtNum axis_angle[3] = {rng.Uniform(-limit, limit), rng.Uniform(-limit, limit),
                                  rng.Uniform(-limit, limit)};
    const mjtNum angle = mju_norm3(axis_angle);
    if (angle > 0) {
      mjtNum axis[3];
      mju_scl3(axis, axis_angle, 1.0 / angle);
      mju_axisAngle2Quat(jitter, axis, angle);
    }
    mjtNum result[4];
    mju_mulQuat(result, m->cam_quat + 4 * camera_, jitter);
    mju_normalize4(result);
    mju_copy4(m->cam_quat + 4 * camera_, result);
  }
}

void SimCell::RandomizeTextures(bool randomize, Rng& rng) {
  mjModel* m = model_.get();  // nominal textures, shown plain: Reset copied it back
  for (size_t i = 0; i < textured_geoms_.size() && randomize; ++i) {
    m->geom_matid[textured_geoms_[i]] = textured_materials_[i];
  }
  textures_changed_ = randomize;
  for (int t = 0; t < m->ntex && randomize; ++t) {
    if (m->tex_type[t] != mjTEXTURE_2D) continue;
    const int width = m->tex_width[t], height = m->tex_height[t];
    mjtByte* rgb = m->tex_rgb + m->tex_adr[t];
    mjtByte colors[2][3];
    for (auto& color : colors) {
      for (mjtByte& channel : color) channel = static_cast<mjtByte>(rng.UniformInt(256));
    }
    const int pattern = static_cast<int>(rng.UniformInt(3));  // checks, stripes, noise
    const int cell = 2 + static_cast<int>(rng.UniformInt(15));
    Rng noise(rng.NextU64());
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x) {
        int which = 0;
        if (pattern == 0) which = ((x / cell) + (y / cell)) % 2;
        if (pattern == 1) which = (x / cell) % 2;
        if (pattern == 2) which = static_cast<int>(noise.UniformInt(2));
        std::copy_n(colors[which], 3, rgb + 3 * (y * width + x));
      }
    }
  }
  for (int t = 0; t < m->ntex; ++t) renderer_->UploadTexture(m, t);
}

Array SimCell::RenderImage(int camera) {
  Array image = Array::Zeros(DType::kUint8, {config_.image_size, config_.image_size, 3});
  if (!render_images_) return image;
  renderer_->Render(model_.get(), data_.get(), camera, config_.image_size, config_.image_size,
                    image.u8.data());
  return image;
}

Array SimCell::RenderPicture(int size) {
  if (size < 16 || size > kMaxPictureSize) {
    Fail(ExitCode::kUsage, "picture size " + std::to_string(size) + " is outside 16.." +
                               std::to_string(kMaxPictureSize));
  }
  if (size > renderer_->max_size()) {
    // Pictures larger than the default buffer are rare (docs, videos): grow it.
    renderer_.reset();
    renderer_ = std::make_unique<Renderer>(model_.get(), config_.renderer, size);
  }
  Array image = Array::Zeros(DType::kUint8, {size, size, 3});
  renderer_->Render(model_.get(), data_.get(), camera_, size, size, image.u8.data());
  return image;
}

void SimCell::Simulate(int substeps, const std::function<void(int)>& before_substep) {
  if (instability_) return;  // the episode's physics ended at its blow-up
  const mjModel* m = model_.get();
  mjData* d = data_.get();
  saved_qpos_.assign(d->qpos, d->qpos + m->nq);
  saved_qvel_.assign(d->qvel, d->qvel + m->nv);
  saved_act_.assign(d->act, d->act + m->na);
  saved_ctrl_.assign(d->ctrl, d->ctrl + m->nu);
  saved_applied_.assign(d->qfrc_applied, d->qfrc_applied + m->nv);
  const double start_time = d->time;
  const int unstable_before = d->warning[mjWARN_BADQACC].number;
  const bool fault = FaultNow();
  for (int i = 0; i < substeps; ++i) {
    if (before_substep) before_substep(i);
    const double time = d->time + m->opt.timestep;
    if (fault && i == 0) model_->opt.gravity[2] *= 1e12;
    mj_step(m, d);
    if (fault && i == 0) model_->opt.gravity[2] /= 1e12;
    if (d->warning[mjWARN_BADQACC].number == unstable_before) continue;
    // MuJoCo has reset everything (time, controls included): put back the
    // state of this call's start so the last observation is a sane one.
    instability_ = Instability{in_reset_ ? -1 : episode_steps(), time,
                               d->warning[mjWARN_BADQACC].lastinfo};
    std::copy(saved_qpos_.begin(), saved_qpos_.end(), d->qpos);
    std::copy(saved_qvel_.begin(), saved_qvel_.end(), d->qvel);
    std::copy(saved_act_.begin(), saved_act_.end(), d->act);
    std::copy(saved_ctrl_.begin(), saved_ctrl_.end(), d->ctrl);
    std::copy(saved_applied_.begin(), saved_applied_.end(), d->qfrc_applied);
    d->time = start_time;
    mj_forward(m, d);
    return;
  }
}

bool SimCell::SimulateApart(int substeps) {
  std::optional<Instability> episode = instability_;
  const Fault fault = fault_;
  instability_.reset();
  fault_ = Fault{};
  Simulate(substeps);
  const bool stable = !instability_;
  instability_ = episode;
  fault_ = fault;
  return stable;
}

double JsonNumber(const nlohmann::json& doc, const char* key, double fallback) {
  if (!doc.contains(key)) return fallback;
  const nlohmann::json& value = doc.at(key);
  if (!value.is_number()) Fail(ExitCode::kUsage, std::string("'") + key + "' must be a number");
  return value.get<double>();
}

void CheckKeys(const nlohmann::json& options, const std::vector<std::string>& allowed,
               const std::string& what) {
  if (!options.is_object()) Fail(ExitCode::kUsage, what + " must be a JSON object");
  for (auto it = options.begin(); it != options.end(); ++it) {
    if (std::find(allowed.begin(), allowed.end(), it.key()) != allowed.end()) continue;
    std::string message = what + ": unknown key '" + it.key() + "'";
    const std::string suggestion = SuggestClosest(it.key(), allowed);
    if (!suggestion.empty()) message += " (did you mean '" + suggestion + "'?)";
    Fail(ExitCode::kUsage, message);
  }
}

}  // namespace perpetua::sim
