// The common base of the MuJoCo cells: model, data, renderer, the policy's
// camera and the scene-level domain randomisation (lighting, scenery colours,
// camera pose). Each cell subclass builds its MJCF, keeps its own state and
// implements DoReset/DoStep.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <mujoco/mujoco.h>

#include "common/rng.h"
#include "env/env.h"
#include "env/env_config.h"
#include "env/state_render.h"
#include "sim/mujoco_util.h"
#include "sim/renderer.h"

namespace perpetua::sim {

// The largest picture RenderPicture makes.
constexpr int kMaxPictureSize = 1024;

class SimCell : public Env, public StateRenderer {
 public:
  const EnvSpec& spec() const override { return spec_; }
  Array RenderPicture(int size) override;

  const mjModel* model() const { return model_.get(); }
  const mjData* data() const { return data_.get(); }
  // The GL backend this cell renders with, and the driver's renderer name.
  GlBackend render_backend() const { return renderer_->backend(); }
  std::string gl_renderer() { return renderer_->gl_renderer(); }
  // Releases this cell's GL context from the calling thread, so that another
  // thread may drive the cell next (see gl_context.h).
  void ReleaseRenderThread() { renderer_->ReleaseThread(); }

  // For benchmarks only (bench/env_bench.cpp): the physics of one env step
  // (substeps_per_step() mj_steps with the current controls) and the render
  // of one observation image, each without the rest of Step(). They change
  // the simulation state; Reset afterwards.
  int substeps_per_step() const { return substeps_per_step_; }
  void BenchPhysicsStep() { Simulate(substeps_per_step_); }
  Array BenchRender() { return RenderImage(); }

 protected:
  explicit SimCell(const EnvConfig& config) : config_(config) {}

  // Takes ownership of the compiled model, makes the data and the renderer
  // (Error(kEnvFailure) if no GL works) and records the policy camera and the
  // scenery geoms whose colours `randomize.colors` changes.
  void InitModel(ModelPtr model, const char* camera_name, std::vector<int> scenery_geoms);

  // Restores the nominal scene, then applies the enabled scene randomisations
  // (lighting, scenery colours, textures, camera pose) drawn from `rng`.
  void RandomizeScene(Rng& rng);

  // The policy's view: [S, S, 3] uint8 with S = config_.image_size.
  Array RenderImage();

  // mj_step `substeps` times.
  void Simulate(int substeps);

  EnvConfig config_;
  EnvSpec spec_;
  ModelPtr model_;
  DataPtr data_;
  std::unique_ptr<Renderer> renderer_;
  int camera_ = -1;
  int substeps_per_step_ = 1;  // set by the cell

 private:
  // Nominal textures, or (randomize) random two-colour patterns; re-uploaded.
  void RandomizeTextures(bool randomize, Rng& rng);

  std::vector<int> scenery_geoms_;
  std::vector<float> scenery_rgba_;      // nominal rgba of scenery_geoms_ (4 each)
  std::vector<mjtNum> camera_pos_, camera_quat_;
  std::vector<float> light_diffuse_;     // nominal (nlight x 3)
  std::vector<mjtNum> light_dir_;        // nominal (nlight x 3)
  std::vector<mjtByte> texture_rgb_;     // nominal tex_rgb (ntexdata)
  std::vector<int> textured_geoms_, textured_materials_;  // geoms shown textured only when randomised
  bool textures_changed_ = false;
  float headlight_ambient_[3] = {0, 0, 0};
  float headlight_diffuse_[3] = {0, 0, 0};
};

// Reads an optional number from reset options / state documents.
double JsonNumber(const nlohmann::json& doc, const char* key, double fallback);

// Error(kUsage) if `options` is not an object or has a key outside `allowed`
// (with a suggestion). `what` names the document ("grasp reset options").
void CheckKeys(const nlohmann::json& options, const std::vector<std::string>& allowed,
               const std::string& what);

}  // namespace perpetua::sim
