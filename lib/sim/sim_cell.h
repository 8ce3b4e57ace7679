// The common base of the MuJoCo cells: model, data, renderer, the policy's
// camera and the scene-level domain randomisation (lighting, scenery colours,
// camera pose). Each cell subclass builds its MJCF, keeps its own state and
// implements ResetCell/StepCell.
//
// An episode depends on its seed and reset options alone, never on the
// episodes the cell ran before (rl-eval and rl-collect hand episodes to
// whichever worker is free): every Reset starts from the model as InitModel
// left it, whatever the cell or the randomisation changed in it since.
//
// Physics blow-ups. MuJoCo resets the whole state when an acceleration turns
// NaN, Inf or huge (> 1e10); going on would teleport everything. A blow-up is
// a property of one episode, not of the process: Simulate() stops the
// episode's physics there (later calls are no-ops until the next Reset),
// restores the state from the start of that Simulate() call, and the step
// that saw it (the first step, for a blow-up while a reset settles) ends
// *truncated*, never terminated, with info["success"] = false and
// info["unstable"] = {"seed", "step" (-1: during the reset), "time" (s since
// the reset), "dof"}. The step's reward is the cell's for that restored state
// (the grasp cell never pays a lift after a blow-up). MuJoCo's own warning
// line for it is not printed: the episode loop logs one line
// (rollout/rollout.h).
//
// Test-only fault injection: PERPETUA_SIM_BLOWUP=STEP[:PERIOD] in the
// environment forces a real blow-up (gravity x 1e12 for one substep, which
// MuJoCo detects) at env step STEP (0-based) of every episode whose seed is a
// multiple of PERIOD (default 1); STEP `reset`: while those episodes' reset
// settles. A malformed value is Error(kUsage) when the cell is made.
#pragma once

#include <functional>
#include <memory>
#include <optional>
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
  // The current episode's physics blow-up, if any (see the file comment).
  bool unstable() const { return instability_.has_value(); }

  // For stress benchmarks only (bench/sim_stress_bench.cpp): false makes
  // every image observation all zeros without rendering (the physics and
  // everything else are unchanged). Only policies that ignore images (random,
  // scripted) may act on such a cell.
  void set_render_images(bool render) { render_images_ = render; }

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
  // Error(kUsage) on a malformed PERPETUA_SIM_BLOWUP.
  explicit SimCell(const EnvConfig& config);

  // The cell's Reset and Step (Env::DoReset/DoStep, which SimCell wraps to
  // handle blow-ups as the file comment says).
  virtual ResetResult ResetCell(uint64_t seed, const nlohmann::json& options) = 0;
  virtual StepResult StepCell(const std::vector<float>& action) = 0;

  // Takes ownership of the compiled model, makes the data and the renderer
  // (Error(kEnvFailure) if no GL works) and records the policy camera and the
  // scenery geoms whose colours `randomize.colors` changes. The model as it
  // leaves InitModel is the one every Reset starts from (the file comment);
  // a cell changes nothing in it afterwards except in ResetCell and StepCell.
  void InitModel(ModelPtr model, const char* camera_name, std::vector<int> scenery_geoms);

  // Applies the enabled scene randomisations (lighting, scenery colours,
  // textures, camera pose) drawn from `rng` to the nominal scene (ResetCell
  // starts from it).
  void RandomizeScene(Rng& rng);

  // The policy's view: [S, S, 3] uint8 with S = config_.image_size, from the
  // cell's camera (InitModel) or from the model's camera `camera`.
  Array RenderImage() { return RenderImage(camera_); }
  Array RenderImage(int camera);

  // mj_step `substeps` times; `before_substep(i)` (if set) runs before
  // substep i (e.g. to ramp a control). After a blow-up it restores the state
  // of its start and records it; once the episode is unstable it does nothing.
  void Simulate(int substeps, const std::function<void(int)>& before_substep = nullptr);
  // Simulate() outside the episode (RenderState): neither affected by nor
  // recorded in the episode's blow-up, and no fault injected. False if it blew up.
  bool SimulateApart(int substeps);

  EnvConfig config_;
  EnvSpec spec_;
  ModelPtr model_;
  DataPtr data_;
  std::unique_ptr<Renderer> renderer_;
  int camera_ = -1;
  int substeps_per_step_ = 1;  // set by the cell

 private:
  ResetResult DoReset(uint64_t seed, const nlohmann::json& options) final;
  StepResult DoStep(const std::vector<float>& action) final;

  // Where and when the current episode's physics blew up.
  struct Instability {
    int step = -1;      // env step (0-based); -1 while a reset settles
    double time = 0.0;  // simulated time of the blown-up substep (s since the reset)
    int dof = -1;       // the degree of freedom MuJoCo named
  };
  // PERPETUA_SIM_BLOWUP (test-only): step (< 0: none) or the reset, and seed period.
  struct Fault {
    int step = -1;
    bool in_reset = false;
    uint64_t period = 1;
  };
  bool FaultNow() const;

  std::optional<Instability> instability_;
  Fault fault_;
  uint64_t episode_seed_ = 0;
  bool in_reset_ = false;
  bool render_images_ = true;
  std::vector<mjtNum> saved_qpos_, saved_qvel_, saved_act_, saved_ctrl_, saved_applied_;

  // Nominal textures, or (randomize) random two-colour patterns; re-uploaded.
  void RandomizeTextures(bool randomize, Rng& rng);

  ModelPtr nominal_model_;  // model_ as InitModel left it; copied back at every Reset
  std::vector<int> scenery_geoms_;
  std::vector<int> textured_geoms_, textured_materials_;  // geoms shown textured only when randomised
  bool textures_changed_ = false;  // the GL context holds randomised textures
};

// Reads an optional number from reset options / state documents.
double JsonNumber(const nlohmann::json& doc, const char* key, double fallback);

// Error(kUsage) if `options` is not an object or has a key outside `allowed`
// (with a suggestion). `what` names the document ("grasp reset options").
void CheckKeys(const nlohmann::json& options, const std::vector<std::string>& allowed,
               const std::string& what);

}  // namespace perpetua::sim
