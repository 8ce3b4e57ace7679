#include "data/goal_file.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "data/hdf5_io.h"
#include "env/followed_goals.h"

namespace perpetua {
namespace {

using h5::Handle;
using h5::Where;

// The layout's checks, as `code` "<what>: ..." errors.
void CheckShapes(const GoalSet& goals, ExitCode code, const std::string& what) {
  const Array& images = goals.images;
  const Array& latents = goals.latents;
  if (images.dtype != DType::kUint8 || images.shape.size() != 4 || images.shape[0] < 1 || images.shape[3] < 1 ||
      images.shape[3] > 4) {
    Fail(code, what + ": goal images must be uint8 [N,H,W,C] with N >= 1 and C in 1..4");
  }
  if (latents.dtype != DType::kFloat32 || latents.shape.size() != 2 || latents.shape[0] != images.shape[0] ||
      latents.shape[1] < 0) {
    Fail(code,
         what + ": goal latents must be float32 [N,L] with the images' N (" + std::to_string(images.shape[0]) + ")");
  }
  for (float v : latents.f32) {
    if (!std::isfinite(v)) Fail(code, what + ": a goal latent is not finite");
  }
  if (!goals.meta.is_object()) Fail(code, what + ": goal meta must be a JSON object");
  if (goals.meta.contains("goals")) {
    const nlohmann::json& each = goals.meta["goals"];
    if (!each.is_array() || static_cast<int64_t>(each.size()) != images.shape[0]) {
      Fail(code, what + ": meta 'goals' must list one object per goal (" + std::to_string(images.shape[0]) + ")");
    }
    for (const nlohmann::json& goal : each) {
      if (!goal.is_object() || (goal.contains("reset") && !goal["reset"].is_object()) ||
          (goal.contains("region") && !goal["region"].is_string())) {
        Fail(code, what + ": each of meta 'goals' must be an object with an object 'reset' and a string 'region'");
      }
    }
  }
}

std::vector<hsize_t> Dims(const std::vector<int64_t>& shape) { return {shape.begin(), shape.end()}; }

}  // namespace

void WriteGoalFile(const std::string& path, const GoalSet& goals) {
  h5::InitThread();
  CheckShapes(goals, ExitCode::kUsage, path);
  const std::string tmp = path + ".tmp-" + UniqueToken();
  const Where where{tmp, "goals"};
  try {
    Handle file = h5::CreateFile(tmp);
    Handle group = h5::CreateGroup(file.get(), "goals", {tmp, ""});
    h5::WriteAttrInt64(group.get(), "perpetua_goals", kGoalFileFormat, where);
    h5::WriteAttrString(group.get(), "meta", goals.meta.dump(), where);
    std::vector<hsize_t> image_chunk = Dims(goals.images.shape);
    image_chunk[0] = 1;
    h5::WriteDataset(group.get(), "images", H5T_STD_U8LE, H5T_NATIVE_UINT8, Dims(goals.images.shape),
                     goals.images.u8.data(), {image_chunk, 4, true}, where.Child("images"));
    if (goals.latents.shape[1] > 0) {
      h5::WriteDataset(group.get(), "latents", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, Dims(goals.latents.shape),
                       goals.latents.f32.data(), {Dims(goals.latents.shape), 0, true}, where.Child("latents"));
    }
    group.Reset();
    h5::CloseFile(file, tmp);
    FsyncPath(tmp);
    RenameDurably(tmp, path);
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
}

GoalSet ReadGoalFile(const std::string& path) {
  h5::InitThread();
  Handle file = h5::OpenFileReadOnly(path);
  const Where root{path, ""};
  if (!h5::LinkExists(file.get(), "goals")) Fail(ExitCode::kBadData, path + ": not a goal file (no /goals group)");
  Handle group = h5::OpenGroup(file.get(), "goals", root);
  const Where where = root.Child("goals");
  const std::optional<int64_t> format = h5::ReadAttrInt64(group.get(), "perpetua_goals", where);
  if (!format) Fail(ExitCode::kBadData, path + ": not a goal file (no perpetua_goals attribute)");
  if (*format != kGoalFileFormat) {
    Fail(ExitCode::kBadData, path + ": goal file format " + std::to_string(*format) + ", this build reads " +
                                 std::to_string(kGoalFileFormat));
  }
  GoalSet goals;
  const std::optional<std::string> meta = h5::ReadAttrString(group.get(), "meta", where);
  goals.meta = nlohmann::json::parse(meta.value_or("{}"), nullptr, /*allow_exceptions=*/false);
  if (goals.meta.is_discarded()) Fail(ExitCode::kBadData, path + ": goals/meta is not JSON");
  if (!h5::LinkExists(group.get(), "images")) Fail(ExitCode::kBadData, path + ": goals/images is missing");
  Handle images = h5::OpenDataset(group.get(), "images", where);
  const h5::DatasetShape image_shape = h5::GetShape(images.get(), where.Child("images"));
  if (image_shape.dims.size() != 4 || image_shape.type_class != H5T_INTEGER || image_shape.type_size != 1 ||
      image_shape.is_signed) {
    Fail(ExitCode::kBadData, path + ": goal images must be uint8 [N,H,W,C]");
  }
  goals.images = h5::ReadRowsArray(images.get(), DType::kUint8, 0, image_shape.dims[0], where.Child("images"));
  if (h5::LinkExists(group.get(), "latents")) {
    Handle latents = h5::OpenDataset(group.get(), "latents", where);
    const h5::DatasetShape latent_shape = h5::GetShape(latents.get(), where.Child("latents"));
    if (latent_shape.dims.size() != 2 || latent_shape.type_class != H5T_FLOAT) {
      Fail(ExitCode::kBadData, path + ": goal latents must be float [N,L]");
    }
    goals.latents =
        h5::ReadRowsArray(latents.get(), DType::kFloat32, 0, latent_shape.dims[0], where.Child("latents"));
  } else {
    goals.latents = Array::Zeros(DType::kFloat32, {goals.size(), 0});  // goals not made by a VAE
  }
  CheckShapes(goals, ExitCode::kBadData, path);
  return goals;
}

GoalImages ToGoalImages(GoalSet goals) {
  GoalImages images;
  images.images = std::move(goals.images);
  images.info = goals.meta.value("goals", nlohmann::json());
  images.vae_id = goals.meta.value("vae_id", std::string());
  return images;
}

std::shared_ptr<GoalSupply> GoalFileSupply(const std::string& path) {
  return FollowedGoals(path, path, [path] {
    auto goals = std::make_shared<const GoalImages>(ToGoalImages(ReadGoalFile(path)));
    LogInfo(path + ": " + std::to_string(goals->images.shape.at(0)) + " goals" +
            (goals->vae_id.empty() ? std::string() : " from the VAE of checkpoint " + goals->vae_id));
    return goals;
  });
}

}  // namespace perpetua
