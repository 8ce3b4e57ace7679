// Small helpers around the MuJoCo C API shared by the cells.
#pragma once

#include <memory>
#include <string>

#include <mujoco/mujoco.h>

namespace perpetua::sim {

// Routes MuJoCo's fatal errors to Error(kEnvFailure, "MuJoCo: ...") instead of
// exit(), and its warnings to stderr (never stdout). Idempotent; process-wide.
void InstallMujocoHandlers();

// Owning pointers with MuJoCo's deleters.
struct ModelDeleter {
  void operator()(mjModel* model) const { mj_deleteModel(model); }
};
struct DataDeleter {
  void operator()(mjData* data) const { mj_deleteData(data); }
};
using ModelPtr = std::unique_ptr<mjModel, ModelDeleter>;
using DataPtr = std::unique_ptr<mjData, DataDeleter>;

// Compiles an MJCF document held in memory. Error(kEnvFailure) with MuJoCo's
// message if it does not compile (a bug in the cell's generator).
ModelPtr CompileMjcf(const std::string& xml);

// Id of a named object; PERPETUA_CHECK that it exists.
int NameId(const mjModel* model, mjtObj type, const char* name);

}  // namespace perpetua::sim
