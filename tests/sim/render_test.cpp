#include <doctest/doctest.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "env_factory/make_env.h"
#include "sim/sim_cell.h"
#include "sim_test_util.h"
#include "support/test_support.h"

namespace perpetua::sim {
namespace {

std::string SelfPath() {
  char buffer[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
  REQUIRE(n > 0);
  return std::string(buffer, static_cast<size_t>(n));
}

// "FRAME <backend> <fingerprint> <renderer>" line printed by the child case.
std::string FrameLine(const std::string& out) {
  const size_t at = out.find("FRAME ");
  if (at == std::string::npos) return "";
  return out.substr(at, out.find('\n', at) - at);
}

}  // namespace

TEST_CASE("every cell renders without a display") {
  ::unsetenv("DISPLAY");
  ::unsetenv("WAYLAND_DISPLAY");
  for (const std::string& name : KnownEnvNames()) {
    EnvConfig config;
    config.name = name;
    std::unique_ptr<Env> env = MakeEnv(config);
    StateRenderer* renderer = AsStateRenderer(*env);
    ResetResult reset = env->Reset(1);
    if (reset.observation.count("image") != 0) {
      CHECK_MESSAGE(testing::ImageContrast(reset.observation.at("image")) > 10.0, name);
    }
    REQUIRE_MESSAGE(renderer != nullptr, name);
    CHECK_MESSAGE(testing::ImageContrast(renderer->RenderPicture(128)) > 10.0, name);
  }
}

// Run by the next case in a child process with PERPETUA_GL set; also a plain
// headless render check when run directly.
TEST_CASE("child renders one grasp frame with the backend PERPETUA_GL names") {
  EnvConfig config;
  std::unique_ptr<Env> env = MakeEnv(config);
  auto* cell = dynamic_cast<SimCell*>(env.get());
  const Array image = env->Reset(3).observation.at("image");
  CHECK(testing::ImageContrast(image) > 10.0);
  const char* wanted = std::getenv("PERPETUA_GL");
  if (wanted != nullptr) CHECK(std::string(GlBackendName(cell->render_backend())) == wanted);
  std::printf("FRAME %s %llu %s\n", GlBackendName(cell->render_backend()),
              static_cast<unsigned long long>(testing::Fingerprint(image)),
              cell->gl_renderer().c_str());
  std::fflush(stdout);
}

TEST_CASE("egl and osmesa each render in their own process") {
  std::string lines[2];
  const char* backends[2] = {"egl", "osmesa"};
  for (int i = 0; i < 2; ++i) {
    const testing::ProcessResult result = testing::RunProcess(
        {"/usr/bin/env", std::string("PERPETUA_GL=") + backends[i], "DISPLAY=", SelfPath(),
         "--test-case=child renders one grasp frame*", "--no-intro"});
    CHECK_MESSAGE(result.exit_code == 0, backends[i] << ": " << result.out << result.err);
    lines[i] = FrameLine(result.out);
    CHECK_MESSAGE(lines[i].rfind(std::string("FRAME ") + backends[i] + " ", 0) == 0, lines[i]);
  }
  // Both are Mesa's llvmpipe here: the same rasteriser gives the same pixels.
  const bool both_llvmpipe = lines[0].find("llvmpipe") != std::string::npos &&
                             lines[1].find("llvmpipe") != std::string::npos;
  if (both_llvmpipe) {
    const std::string egl_hash = lines[0].substr(10, lines[0].find(' ', 10) - 10);
    const std::string osmesa_hash = lines[1].substr(13, lines[1].find(' ', 13) - 13);
    CHECK(egl_hash == osmesa_hash);
  }
}

TEST_CASE("asking for a second GL backend in one process is an env failure") {
  EnvConfig config;
  std::unique_ptr<Env> env = MakeEnv(config);
  auto* cell = dynamic_cast<SimCell*>(env.get());
  const std::string used = GlBackendName(cell->render_backend());
  const std::string other = used == "egl" ? "osmesa" : "egl";
  config.renderer = other;
  testing::ExpectError([&] { MakeEnv(config); }, ExitCode::kEnvFailure,
                       "renderer '" + other + "' requested, but this process already renders with " +
                           used + " (one GL backend per process)");
  config.renderer = used;
  CHECK(MakeEnv(config) != nullptr);
}

}  // namespace perpetua::sim
