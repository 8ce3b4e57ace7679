// Headless OpenGL contexts for offscreen MuJoCo rendering.
//
// Backends: EGL (surfaceless Mesa platform on CPU machines, the EGL device
// platform on NVIDIA machines) and OSMesa (pure software fallback). Both are
// loaded with dlopen rather than linked: MuJoCo 2.2's GL loader binds its
// function pointers once per process to the first GetProcAddress it finds,
// so a process that links both libraries cannot use OSMesa at all. Hence the
// backend is a per-process choice, latched by the first context created;
// asking for the other one later is Error(kEnvFailure) naming both.
//
// Selection ("auto" | "egl" | "osmesa"): an explicit name wins; "auto" reads
// the PERPETUA_GL environment variable (egl|osmesa) and otherwise tries EGL,
// then OSMesa. If none works: Error(kEnvFailure) listing what each attempt
// said. An unknown name: Error(kUsage).
//
// Mesa's llvmpipe thread pool: at program start (static initialisation)
// LP_NUM_THREADS is set to 0, so frames render on the calling thread, unless
// the environment already sets it.
//
// Threads: each context belongs to one owner (one renderer in one env).
// Making a context current and releasing it around every frame costs about
// as much as rendering a 64x64 frame on llvmpipe, so a context stays current
// on the thread that last rendered with it (EnsureCurrent) until another
// context takes over that thread, ReleaseIfCurrent is called there, or it is
// destroyed. Consequences: envs may be created on one thread and handed to
// worker threads (a new context is released after creation), several envs
// may take turns on one thread, and several threads may each drive their own
// envs at once; an env that has rendered on thread A and then renders on
// thread B without ReleaseIfCurrent on A gets Error(kEnvFailure) saying so.
#pragma once

#include <memory>
#include <string>

namespace perpetua::sim {

enum class GlBackend { kEgl, kOsmesa };

// "egl" / "osmesa".
const char* GlBackendName(GlBackend backend);

class GlContext {
 public:
  // Creates a context able to render into framebuffers up to
  // `max_width` x `max_height` pixels. See the file comment for failures.
  static std::unique_ptr<GlContext> Create(const std::string& renderer, int max_width,
                                           int max_height);
  GlBackend backend() const { return backend_; }
  virtual ~GlContext();

  // Makes this context current on the calling thread unless it already is.
  // Error(kEnvFailure) if the driver refuses (e.g. it is current elsewhere).
  void EnsureCurrent();
  // Releases it if it is current on the calling thread.
  void ReleaseIfCurrent();
  // The driver's renderer string (GL_RENDERER), e.g. "llvmpipe (LLVM 15.0.6, 256 bits)".
  std::string RendererName();

 protected:
  virtual void MakeCurrent() = 0;
  virtual void Release() = 0;
  // glGetString, resolved through the backend's GetProcAddress.
  virtual void* GetProc(const char* name) = 0;

  explicit GlContext(GlBackend backend) : backend_(backend) {}

 private:
  GlBackend backend_;
};

}  // namespace perpetua::sim
