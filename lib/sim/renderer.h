// Offscreen rendering of a MuJoCo model into RGB arrays, without a display.
//
// A Renderer owns one GL context (gl_context.h) plus MuJoCo's scene and
// render context for one model. Rendering is set up for speed at small
// sizes: no shadows, reflections, skybox, fog or multisampling, coarse
// meshes for round shapes. Threads: see gl_context.h (a renderer renders on
// the calling thread; release it there before moving it to another thread).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <mujoco/mujoco.h>

#include "sim/gl_context.h"

namespace perpetua::sim {

class Renderer {
 public:
  // `model` must outlive the renderer; its offscreen buffer size is raised to
  // at least max_size x max_size (so call this before other GL users of it).
  // `renderer` is auto|egl|osmesa (gl_context.h). Throws Error(kEnvFailure)
  // if no GL context or MuJoCo render context can be made.
  Renderer(mjModel* model, const std::string& renderer, int max_size);
  ~Renderer();
  Renderer(const Renderer&) = delete;
  Renderer& operator=(const Renderer&) = delete;

  // Renders the current state of `data` from fixed camera `camera_id` into
  // `rgb`: [height, width, 3] uint8, row 0 at the top. Sizes up to max_size.
  void Render(const mjModel* model, mjData* data, int camera_id, int width, int height,
              uint8_t* rgb);
  // As above from a free camera looking at `lookat` (world, m) from
  // `distance` (m), `azimuth` and `elevation` (degrees).
  void RenderFree(const mjModel* model, mjData* data, const double lookat[3], double distance,
                  double azimuth, double elevation, int width, int height, uint8_t* rgb);

  GlBackend backend() const { return context_->backend(); }
  // Sends texture `texid` of `model` (after its tex_rgb changed) to the GPU.
  void UploadTexture(const mjModel* model, int texid);
  // GL_RENDERER of the driver ("llvmpipe (...)" for Mesa on the CPU).
  std::string gl_renderer() { return context_->RendererName(); }
  // Releases the GL context from the calling thread (before handing the
  // owner to another thread).
  void ReleaseThread() { context_->ReleaseIfCurrent(); }
  int max_size() const { return max_size_; }
  // Visualisation options (geom groups shown, ...). Group 3 is hidden by default.
  mjvOption& option() { return option_; }

 private:
  void Draw(const mjModel* model, mjData* data, mjvCamera& camera, int width, int height,
            uint8_t* rgb);

  std::unique_ptr<GlContext> context_;
  int max_size_;
  mjvScene scene_;
  mjvOption option_;
  mjrContext render_context_;
  std::unique_ptr<uint8_t[]> flipped_;  // bottom-up rows as read from GL
};

}  // namespace perpetua::sim
