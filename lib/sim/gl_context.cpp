#include "sim/gl_context.h"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <vector>

#include <EGL/egl.h>
#include <EGL/eglext.h>
#include <GL/osmesa.h>

#include "common/error.h"

namespace perpetua::sim {
namespace {

// The process-wide backend choice (see the header) and the loaded library.
std::mutex g_mutex;
std::optional<GlBackend> g_backend;
// The context current on this thread (set only through EnsureCurrent).
thread_local const GlContext* t_current = nullptr;

// Mesa's llvmpipe rasterises with a thread pool by default; for 64x64 frames
// one thread is as fast, and collectors already run one env per thread. Set
// during static initialisation (before main starts any thread, as setenv is
// not thread-safe); a value the user set wins.
[[maybe_unused]] const bool g_llvmpipe_single_thread =
    ::setenv("LP_NUM_THREADS", "0", /*overwrite=*/0) == 0;

template <class Fn>
Fn LoadSymbol(void* library, const char* name) {
  return reinterpret_cast<Fn>(dlsym(library, name));
}

// ---- EGL -------------------------------------------------------------------

struct EglApi {
  decltype(&eglGetProcAddress) GetProcAddress = nullptr;
  decltype(&eglInitialize) Initialize = nullptr;
  decltype(&eglChooseConfig) ChooseConfig = nullptr;
  decltype(&eglBindAPI) BindAPI = nullptr;
  decltype(&eglCreateContext) CreateContext = nullptr;
  decltype(&eglDestroyContext) DestroyContext = nullptr;
  decltype(&eglMakeCurrent) MakeCurrent = nullptr;
  decltype(&eglGetError) GetError = nullptr;
  PFNEGLGETPLATFORMDISPLAYEXTPROC GetPlatformDisplay = nullptr;
  PFNEGLQUERYDEVICESEXTPROC QueryDevices = nullptr;
  EGLDisplay display = EGL_NO_DISPLAY;
};

std::string EglErrorText(const EglApi& api) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "EGL error 0x%04x", api.GetError ? api.GetError() : 0);
  return buffer;
}

// Loads libEGL and initialises a display: Mesa surfaceless first, then the
// device platform (NVIDIA). Called once per process under g_mutex.
const EglApi& LoadEgl() {
  static EglApi api;
  static std::string failure;
  static bool tried = false;
  if (tried) {
    if (!failure.empty()) Fail(ExitCode::kEnvFailure, failure);
    return api;
  }
  tried = true;
  // Loaded locally: MuJoCo's GL loader must not see EGL unless EGL is chosen
  // (PromoteEgl), or it would bind EGL's functions under an OSMesa context.
  void* library = dlopen("libEGL.so.1", RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    failure = std::string("cannot load libEGL.so.1: ") + dlerror();
    Fail(ExitCode::kEnvFailure, failure);
  }
  api.GetProcAddress = LoadSymbol<decltype(&eglGetProcAddress)>(library, "eglGetProcAddress");
  api.Initialize = LoadSymbol<decltype(&eglInitialize)>(library, "eglInitialize");
  api.ChooseConfig = LoadSymbol<decltype(&eglChooseConfig)>(library, "eglChooseConfig");
  api.BindAPI = LoadSymbol<decltype(&eglBindAPI)>(library, "eglBindAPI");
  api.CreateContext = LoadSymbol<decltype(&eglCreateContext)>(library, "eglCreateContext");
  api.DestroyContext = LoadSymbol<decltype(&eglDestroyContext)>(library, "eglDestroyContext");
  api.MakeCurrent = LoadSymbol<decltype(&eglMakeCurrent)>(library, "eglMakeCurrent");
  api.GetError = LoadSymbol<decltype(&eglGetError)>(library, "eglGetError");
  if (!api.GetProcAddress || !api.Initialize || !api.ChooseConfig || !api.BindAPI ||
      !api.CreateContext || !api.DestroyContext || !api.MakeCurrent || !api.GetError) {
    failure = "libEGL.so.1 lacks core EGL 1.4 functions";
    Fail(ExitCode::kEnvFailure, failure);
  }
  api.GetPlatformDisplay = reinterpret_cast<PFNEGLGETPLATFORMDISPLAYEXTPROC>(
      api.GetProcAddress("eglGetPlatformDisplayEXT"));
  api.QueryDevices =
      reinterpret_cast<PFNEGLQUERYDEVICESEXTPROC>(api.GetProcAddress("eglQueryDevicesEXT"));
  if (api.GetPlatformDisplay == nullptr) {
    failure = "EGL has no eglGetPlatformDisplayEXT (no headless platform)";
    Fail(ExitCode::kEnvFailure, failure);
  }
  EGLint major = 0, minor = 0;
  // A GPU first (NVIDIA's EGL device platform), then Mesa's surfaceless
  // platform (llvmpipe on CPU machines), then any device at all.
  std::vector<EGLDeviceEXT> hardware, software;
  if (api.QueryDevices != nullptr) {
    auto query_string = reinterpret_cast<PFNEGLQUERYDEVICESTRINGEXTPROC>(
        api.GetProcAddress("eglQueryDeviceStringEXT"));
    EGLDeviceEXT devices[16];
    EGLint count = 0;
    if (api.QueryDevices(16, devices, &count)) {
      for (EGLint i = 0; i < count; ++i) {
        const char* extensions =
            query_string ? query_string(devices[i], EGL_EXTENSIONS) : nullptr;
        const bool is_software =
            extensions != nullptr && std::strstr(extensions, "EGL_MESA_device_software") != nullptr;
        (is_software ? software : hardware).push_back(devices[i]);
      }
    }
  }
  auto TryDevice = [&](EGLDeviceEXT device) {
    EGLDisplay display = api.GetPlatformDisplay(EGL_PLATFORM_DEVICE_EXT, device, nullptr);
    if (display == EGL_NO_DISPLAY || !api.Initialize(display, &major, &minor)) return false;
    api.display = display;
    return true;
  };
  for (EGLDeviceEXT device : hardware) {
    if (TryDevice(device)) return api;
  }
  EGLDisplay display = api.GetPlatformDisplay(EGL_PLATFORM_SURFACELESS_MESA, EGL_DEFAULT_DISPLAY,
                                              nullptr);
  if (display != EGL_NO_DISPLAY && api.Initialize(display, &major, &minor)) {
    api.display = display;
    return api;
  }
  const std::string surfaceless_error = EglErrorText(api);
  for (EGLDeviceEXT device : software) {
    if (TryDevice(device)) return api;
  }
  failure = "EGL: no surfaceless or device display initialises (" + surfaceless_error + ")";
  Fail(ExitCode::kEnvFailure, failure);
}

// Makes EGL's symbols visible to MuJoCo's loader once EGL is the backend.
void PromoteEgl() { dlopen("libEGL.so.1", RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL); }

class EglContext : public GlContext {
 public:
  EglContext() : GlContext(GlBackend::kEgl), api_(LoadEgl()) {
    const EGLint attributes[] = {EGL_SURFACE_TYPE,    EGL_PBUFFER_BIT, EGL_RED_SIZE,   8,
                                 EGL_GREEN_SIZE,      8,               EGL_BLUE_SIZE,  8,
                                 EGL_DEPTH_SIZE,      24,              EGL_RENDERABLE_TYPE,
                                 EGL_OPENGL_BIT,      EGL_NONE};
    EGLConfig config = nullptr;
    EGLint count = 0;
    if (!api_.ChooseConfig(api_.display, attributes, &config, 1, &count) || count == 0) {
      config = nullptr;  // EGL_KHR_no_config_context (Mesa surfaceless has no pbuffer configs)
    }
    if (!api_.BindAPI(EGL_OPENGL_API)) {
      Fail(ExitCode::kEnvFailure, "EGL cannot bind the desktop OpenGL API: " + EglErrorText(api_));
    }
    context_ = api_.CreateContext(api_.display, config, EGL_NO_CONTEXT, nullptr);
    if (context_ == EGL_NO_CONTEXT) {
      Fail(ExitCode::kEnvFailure, "EGL cannot create an OpenGL context: " + EglErrorText(api_));
    }
  }
  ~EglContext() override {
    ReleaseIfCurrent();
    api_.DestroyContext(api_.display, context_);
  }

  void MakeCurrent() override {
    if (!api_.MakeCurrent(api_.display, EGL_NO_SURFACE, EGL_NO_SURFACE, context_)) {
      Fail(ExitCode::kEnvFailure, "EGL cannot make the context current: " + EglErrorText(api_) +
                                      " (is it still current on another thread?)");
    }
  }
  void Release() override {
    api_.MakeCurrent(api_.display, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
  }
  void* GetProc(const char* name) override {
    return reinterpret_cast<void*>(api_.GetProcAddress(name));
  }

 private:
  const EglApi& api_;
  EGLContext context_ = EGL_NO_CONTEXT;
};

// ---- OSMesa ----------------------------------------------------------------

struct OsmesaApi {
  decltype(&OSMesaCreateContextExt) CreateContextExt = nullptr;
  decltype(&OSMesaDestroyContext) DestroyContext = nullptr;
  decltype(&OSMesaMakeCurrent) MakeCurrent = nullptr;
  decltype(&OSMesaGetProcAddress) GetProcAddress = nullptr;
};

const OsmesaApi& LoadOsmesa() {
  static OsmesaApi api;
  static std::string failure;
  static bool tried = false;
  if (tried) {
    if (!failure.empty()) Fail(ExitCode::kEnvFailure, failure);
    return api;
  }
  tried = true;
  void* library = dlopen("libOSMesa.so.8", RTLD_NOW | RTLD_GLOBAL);
  if (library == nullptr) library = dlopen("libOSMesa.so", RTLD_NOW | RTLD_GLOBAL);
  if (library == nullptr) {
    failure = std::string("cannot load libOSMesa: ") + dlerror();
    Fail(ExitCode::kEnvFailure, failure);
  }
  api.CreateContextExt =
      LoadSymbol<decltype(&OSMesaCreateContextExt)>(library, "OSMesaCreateContextExt");
  api.DestroyContext = LoadSymbol<decltype(&OSMesaDestroyContext)>(library, "OSMesaDestroyContext");
  api.MakeCurrent = LoadSymbol<decltype(&OSMesaMakeCurrent)>(library, "OSMesaMakeCurrent");
  api.GetProcAddress =
      LoadSymbol<decltype(&OSMesaGetProcAddress)>(library, "OSMesaGetProcAddress");
  if (!api.CreateContextExt || !api.DestroyContext || !api.MakeCurrent || !api.GetProcAddress) {
    failure = "libOSMesa lacks OSMesaCreateContextExt/OSMesaMakeCurrent";
    Fail(ExitCode::kEnvFailure, failure);
  }
  return api;
}

class OsmesaContext : public GlContext {
 public:
  OsmesaContext(int width, int height)
      : GlContext(GlBackend::kOsmesa),
        api_(LoadOsmesa()),
        width_(width),
        height_(height),
        buffer_(static_cast<size_t>(width) * height * 4) {
    context_ = api_.CreateContextExt(OSMESA_RGBA, 24, 0, 0, nullptr);
    if (context_ == nullptr) Fail(ExitCode::kEnvFailure, "OSMesa cannot create a context");
  }
  ~OsmesaContext() override {
    ReleaseIfCurrent();
    api_.DestroyContext(context_);
  }

  void MakeCurrent() override {
    if (!api_.MakeCurrent(context_, buffer_.data(), GL_UNSIGNED_BYTE, width_, height_)) {
      Fail(ExitCode::kEnvFailure, "OSMesa cannot make the context current");
    }
  }
  void Release() override { api_.MakeCurrent(nullptr, nullptr, 0, 0, 0); }
  void* GetProc(const char* name) override {
    return reinterpret_cast<void*>(api_.GetProcAddress(name));
  }

 private:
  const OsmesaApi& api_;
  int width_, height_;
  std::vector<unsigned char> buffer_;  // the default framebuffer (MuJoCo renders into its own FBO)
  OSMesaContext context_ = nullptr;
};

std::unique_ptr<GlContext> CreateFor(GlBackend backend, int width, int height) {
  if (backend == GlBackend::kEgl) return std::make_unique<EglContext>();
  return std::make_unique<OsmesaContext>(width, height);
}

}  // namespace

GlContext::~GlContext() {
  if (t_current == this) t_current = nullptr;
}

void GlContext::EnsureCurrent() {
  if (t_current == this) return;
  MakeCurrent();
  t_current = this;
}

void GlContext::ReleaseIfCurrent() {
  if (t_current != this) return;
  Release();
  t_current = nullptr;
}

std::string GlContext::RendererName() {
  EnsureCurrent();
  using GetStringFn = const unsigned char* (*)(unsigned int);
  auto get_string = reinterpret_cast<GetStringFn>(GetProc("glGetString"));
  if (get_string == nullptr) return "unknown";
  const unsigned char* name = get_string(0x1F01 /* GL_RENDERER */);
  return name ? reinterpret_cast<const char*>(name) : "unknown";
}

const char* GlBackendName(GlBackend backend) {
  return backend == GlBackend::kEgl ? "egl" : "osmesa";
}

std::unique_ptr<GlContext> GlContext::Create(const std::string& renderer, int max_width,
                                             int max_height) {
  std::string choice = renderer;
  std::string source = "renderer '" + renderer + "'";
  if (choice == "auto") {
    const char* variable = std::getenv("PERPETUA_GL");
    if (variable != nullptr && *variable != '\0') {
      choice = variable;
      source = "PERPETUA_GL='" + choice + "'";
    }
  }
  if (choice != "auto" && choice != "egl" && choice != "osmesa") {
    Fail(ExitCode::kUsage, "unknown " + source + ": expected auto, egl or osmesa");
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_backend.has_value()) {
    const GlBackend latched = *g_backend;
    if (choice != "auto" && choice != GlBackendName(latched)) {
      Fail(ExitCode::kEnvFailure, source + " requested, but this process already renders with " +
                                      GlBackendName(latched) + " (one GL backend per process)");
    }
    return CreateFor(latched, max_width, max_height);
  }
  std::vector<GlBackend> candidates;
  if (choice == "egl") candidates = {GlBackend::kEgl};
  if (choice == "osmesa") candidates = {GlBackend::kOsmesa};
  if (choice == "auto") candidates = {GlBackend::kEgl, GlBackend::kOsmesa};
  std::string failures;
  for (GlBackend backend : candidates) {
    try {
      std::unique_ptr<GlContext> context = CreateFor(backend, max_width, max_height);
      if (backend == GlBackend::kEgl) PromoteEgl();
      g_backend = backend;
      return context;
    } catch (const Error& error) {
      failures += (failures.empty() ? "" : "; ") + std::string(error.what());
    }
  }
  Fail(ExitCode::kEnvFailure, "no headless OpenGL for " + source + ": " + failures);
}

}  // namespace perpetua::sim
