#include "sim/renderer.h"

#include <algorithm>
#include <cstring>

#include "common/error.h"

namespace perpetua::sim {

Renderer::Renderer(mjModel* model, const std::string& renderer, int max_size)
    : max_size_(max_size) {
  PERPETUA_CHECK(max_size > 0);
  model->vis.global.offwidth = std::max(model->vis.global.offwidth, max_size);
  model->vis.global.offheight = std::max(model->vis.global.offheight, max_size);
  model->vis.quality.offsamples = 0;  // no multisampling: ~20x faster on llvmpipe
  model->vis.quality.shadowsize = 0;
  model->vis.quality.numslices = 12;  // coarser meshes for round geoms: fewer triangles
  model->vis.quality.numstacks = 6;
  model->vis.quality.numquads = 1;
  context_ = GlContext::Create(renderer, max_size, max_size);
  mjv_defaultScene(&scene_);
  mjv_defaultOption(&option_);
  mjr_defaultContext(&render_context_);
  option_.geomgroup[3] = 0;
  mjv_makeScene(model, &scene_, 2000);
  scene_.flags[mjRND_SHADOW] = 0;
  scene_.flags[mjRND_REFLECTION] = 0;
  scene_.flags[mjRND_SKYBOX] = 0;
  scene_.flags[mjRND_FOG] = 0;
  context_->EnsureCurrent();
  mjr_makeContext(model, &render_context_, mjFONTSCALE_50);
  mjr_setBuffer(mjFB_OFFSCREEN, &render_context_);
  if (render_context_.currentBuffer != mjFB_OFFSCREEN) {
    mjr_freeContext(&render_context_);
    mjv_freeScene(&scene_);
    Fail(ExitCode::kEnvFailure, std::string("MuJoCo offscreen framebuffer unavailable with ") +
                                    GlBackendName(context_->backend()));
  }
  flipped_.reset(new uint8_t[static_cast<size_t>(max_size) * max_size * 3]);
  context_->ReleaseIfCurrent();  // free to be used from any thread (gl_context.h)
}

Renderer::~Renderer() {
  try {
    context_->EnsureCurrent();
    mjr_freeContext(&render_context_);
  } catch (const Error&) {
    // Current on another thread: destroying the context frees its objects.
  }
  mjv_freeScene(&scene_);
}

void Renderer::UploadTexture(const mjModel* model, int texid) {
  PERPETUA_CHECK(texid >= 0 && texid < model->ntex);
  context_->EnsureCurrent();
  mjr_uploadTexture(model, &render_context_, texid);
}

void Renderer::Render(const mjModel* model, mjData* data, int camera_id, int width, int height,
                      uint8_t* rgb) {
  PERPETUA_CHECK(camera_id >= 0 && camera_id < model->ncam);
  mjvCamera camera;
  mjv_defaultCamera(&camera);
  camera.type = mjCAMERA_FIXED;
  camera.fixedcamid = camera_id;
  Draw(model, data, camera, width, height, rgb);
}

void Renderer::RenderFree(const mjModel* model, mjData* data, const double lookat[3],
                          double distance, double azimuth, double elevation, int width, int height,
                          uint8_t* rgb) {
  mjvCamera camera;
  mjv_defaultCamera(&camera);
  camera.type = mjCAMERA_FREE;
  for (int i = 0; i < 3; ++i) camera.lookat[i] = lookat[i];
  camera.distance = distance;
  camera.azimuth = azimuth;
  camera.elevation = elevation;
  Draw(model, data, camera, width, height, rgb);
}

void Renderer::Draw(const mjModel* model, mjData* data, mjvCamera& camera, int width, int height,
                    uint8_t* rgb) {
  PERPETUA_CHECK(width > 0 && height > 0 && width <= max_size_ && height <= max_size_);
  mjv_updateScene(model, data, &option_, nullptr, &camera, mjCAT_ALL, &scene_);
  const mjrRect viewport = {0, 0, width, height};
  context_->EnsureCurrent();
  mjr_render(viewport, &scene_, &render_context_);
  mjr_readPixels(flipped_.get(), nullptr, viewport, &render_context_);
  const size_t row = static_cast<size_t>(width) * 3;
  for (int y = 0; y < height; ++y) {
    std::memcpy(rgb + row * y, flipped_.get() + row * (height - 1 - y), row);
  }
}

}  // namespace perpetua::sim
