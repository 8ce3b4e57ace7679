#include "sim/mujoco_util.h"

#include <cstring>
#include <mutex>

#include "common/error.h"
#include "common/log.h"

namespace perpetua::sim {
namespace {

void ThrowMujocoError(const char* message) {
  throw Error(ExitCode::kEnvFailure, std::string("MuJoCo: ") + message);
}

void LogMujocoWarning(const char* message) {
  // A blow-up (bad QACC) is reported once per episode, with its seed, by the
  // episode loop (sim_cell.h); MuJoCo's own line would repeat it.
  if (std::strstr(message, "in QACC") != nullptr) return;
  LogWarning(std::string("MuJoCo: ") + message);
}

}  // namespace

void InstallMujocoHandlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    mju_user_error = ThrowMujocoError;
    mju_user_warning = LogMujocoWarning;
  });
}

ModelPtr CompileMjcf(const std::string& xml) {
  InstallMujocoHandlers();
  // MuJoCo 2.2's XML compiler is not documented as thread-safe; envs are
  // made concurrently by collector workers.
  static std::mutex compile_mutex;
  std::lock_guard<std::mutex> lock(compile_mutex);
  mjVFS vfs;
  mj_defaultVFS(&vfs);
  const char* name = "cell.xml";
  if (mj_makeEmptyFileVFS(&vfs, name, static_cast<int>(xml.size())) != 0) {
    Fail(ExitCode::kEnvFailure, "MuJoCo: cannot allocate the model file in memory");
  }
  const int index = mj_findFileVFS(&vfs, name);
  std::memcpy(vfs.filedata[index], xml.data(), xml.size());
  char error[1000] = "";
  mjModel* model = mj_loadXML(name, &vfs, error, sizeof(error));
  mj_deleteVFS(&vfs);
  if (model == nullptr) Fail(ExitCode::kEnvFailure, std::string("MuJoCo model: ") + error);
  return ModelPtr(model);
}

int NameId(const mjModel* model, mjtObj type, const char* name) {
  const int id = mj_name2id(model, type, name);
  PERPETUA_CHECK_MSG(id >= 0, std::string("model lacks ") + name);
  return id;
}

}  // namespace perpetua::sim
