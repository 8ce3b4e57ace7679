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
// Threads: each context belongs to one owner (one renderer in one env). The
// owner brackets GL work with a ScopedCurrent, which makes the context
// current on the calling thread and releases it afterwards, so envs may run
// in several threads of one process and may even move between threads.
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
  virtual ~GlContext() = default;

  GlBackend backend() const { return backend_; }
  // Makes this context current on the calling thread. Error(kEnvFailure) if
  // the driver refuses.
  virtual void MakeCurrent() = 0;
  // Releases it from the calling thread.
  virtual void Release() = 0;

 protected:
  explicit GlContext(GlBackend backend) : backend_(backend) {}

 private:
  GlBackend backend_;
};

// Makes a context current for the lifetime of the guard.
class ScopedCurrent {
 public:
  explicit ScopedCurrent(GlContext& context) : context_(context) { context_.MakeCurrent(); }
  ~ScopedCurrent() { context_.Release(); }
  ScopedCurrent(const ScopedCurrent&) = delete;
  ScopedCurrent& operator=(const ScopedCurrent&) = delete;

 private:
  GlContext& context_;
};

}  // namespace perpetua::sim
