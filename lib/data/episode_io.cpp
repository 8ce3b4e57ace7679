#include "data/episode_io.h"

#include <cmath>
#include <cstring>

#include "data/shard_format.h"

namespace perpetua {
namespace {

using h5::Handle;
using h5::Where;

std::vector<int64_t> StepShape(const Array& array) {
  return std::vector<int64_t>(array.shape.begin() + 1, array.shape.end());
}

hid_t FileType(DType dtype) { return dtype == DType::kUint8 ? H5T_STD_U8LE : H5T_IEEE_F32LE; }
hid_t MemType(DType dtype) { return dtype == DType::kUint8 ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT; }

std::vector<hsize_t> Dims(int64_t rows, const std::vector<int64_t>& step_shape) {
  std::vector<hsize_t> dims{static_cast<hsize_t>(rows)};
  for (int64_t d : step_shape) dims.push_back(static_cast<hsize_t>(d));
  return dims;
}

// Reads `rows` rows of a 1-D (or [rows, 1]) dataset as floats.
std::vector<float> ReadColumnFloat(hid_t file, const std::string& path, int64_t row_begin,
                                   int64_t rows, const Where& where) {
  Handle dataset = h5::OpenDataset(file, path, where);
  const h5::DatasetShape shape = h5::GetShape(dataset.get(), where.Child(path));
  int64_t per_row = 1;
  for (size_t i = 1; i < shape.dims.size(); ++i) per_row *= shape.dims[i];
  if (per_row != 1) Fail(ExitCode::kBadData, where.Child(path).str() + ": expected one value per step, got shape " + ShapeString(shape.dims));
  std::vector<float> out(static_cast<size_t>(rows));
  h5::ReadRowsFloat(dataset.get(), row_begin, rows, out.data(), where.Child(path));
  return out;
}

std::vector<uint8_t> ReadColumnFlag(hid_t file, const std::string& path, int64_t row_begin,
                                    int64_t rows, const Where& where) {
  if (path.empty()) return std::vector<uint8_t>(static_cast<size_t>(rows), 0);
  const std::vector<float> values = ReadColumnFloat(file, path, row_begin, rows, where);
  std::vector<uint8_t> out(values.size());
  for (size_t i = 0; i < values.size(); ++i) out[i] = values[i] != 0.0f ? 1 : 0;
  return out;
}

// Error(kBadData) if a float32 observation holds NaN or Inf.
void CheckFiniteObservation(const Array& array, const Where& where) {
  if (array.dtype != DType::kFloat32) return;
  for (float v : array.f32) {
    if (!std::isfinite(v)) Fail(ExitCode::kBadData, where.str() + ": observation has a non-finite value");
  }
}

}  // namespace

std::string Schema::Describe() const {
  std::string out;
  for (const auto& [key, spec] : observations) {
    out += (out.empty() ? "" : ", ") + key + " " + DTypeName(spec.dtype) + " " +
           ShapeString(spec.shape);
  }
  return out + "; actions [" + std::to_string(action_dim) + "]";
}

std::string Schema::DifferenceFrom(const Schema& other) const {
  if (action_dim != other.action_dim) {
    return "actions have " + std::to_string(action_dim) + " dims, expected " +
           std::to_string(other.action_dim);
  }
  for (const auto& [key, spec] : other.observations) {
    auto it = observations.find(key);
    if (it == observations.end()) return "observation key '" + key + "' is missing";
    if (it->second != spec) {
      return "observation '" + key + "' is " + DTypeName(it->second.dtype) + " " +
             ShapeString(it->second.shape) + ", expected " + DTypeName(spec.dtype) + " " +
             ShapeString(spec.shape);
    }
  }
  for (const auto& [key, spec] : observations) {
    if (!other.observations.count(key)) return "unexpected observation key '" + key + "'";
  }
  return "";
}

Schema SchemaOf(const Episode& episode) {
  Schema schema;
  for (const auto& [key, array] : episode.observations) {
    schema.observations[key] = KeySpec{array.dtype, StepShape(array)};
  }
  schema.action_dim = episode.actions.shape.size() == 2 ? episode.actions.shape[1] : 0;
  return schema;
}

void ValidateEpisode(const Episode& episode, const Schema* expected, const std::string& context) {
  auto bad = [&](const std::string& what) { Fail(ExitCode::kBadData, context + ": " + what); };
  const int64_t n = episode.num_steps();
  if (n <= 0) bad("episode has no steps");
  if (static_cast<int64_t>(episode.terminated.size()) != n ||
      static_cast<int64_t>(episode.truncated.size()) != n) {
    bad("rewards, terminated and truncated lengths differ (" + std::to_string(n) + ", " +
        std::to_string(episode.terminated.size()) + ", " +
        std::to_string(episode.truncated.size()) + ")");
  }
  const Array& actions = episode.actions;
  if (actions.dtype != DType::kFloat32 || actions.shape.size() != 2 || actions.shape[0] != n ||
      actions.shape[1] <= 0 || !actions.Consistent()) {
    bad("actions must be float32 [" + std::to_string(n) + ", A], got " +
        DTypeName(actions.dtype) + " " + ShapeString(actions.shape));
  }
  for (size_t i = 0; i < actions.f32.size(); ++i) {
    if (!std::isfinite(actions.f32[i])) {
      bad("action of step " + std::to_string(i / static_cast<size_t>(actions.shape[1])) +
          " is not finite");
    }
  }
  for (int64_t t = 0; t < n; ++t) {
    if (!std::isfinite(episode.rewards[static_cast<size_t>(t)])) {
      bad("reward of step " + std::to_string(t) + " is not finite");
    }
  }
  if (episode.observations.empty()) bad("episode has no observations");
  for (const auto& [key, array] : episode.observations) {
    if (key.empty() || key.find('/') != std::string::npos) bad("bad observation key '" + key + "'");
    if (array.shape.empty() || array.shape[0] != n + 1 || !array.Consistent()) {
      bad("observation '" + key + "' must be [" + std::to_string(n + 1) +
          ", ...] (N+1 steps) with matching data, got " + ShapeString(array.shape));
    }
    if (array.dtype == DType::kFloat32) {
      for (float v : array.f32) {
        if (!std::isfinite(v)) bad("observation '" + key + "' has a non-finite value");
      }
    }
  }
  if (expected != nullptr) {
    const std::string diff = SchemaOf(episode).DifferenceFrom(*expected);
    if (!diff.empty()) bad(diff + " (as in the first episode)");
  }
}

void WriteEpisodeGroup(hid_t data_group, const std::string& name, const Episode& episode,
                       const EpisodeWriteOptions& options, const Where& where) {
  const Where here = where.Child(name);
  Handle group = h5::CreateGroup(data_group, name, where);
  const int64_t n = episode.num_steps();
  const EpisodeMetadata& meta = episode.metadata;
  h5::WriteAttrInt64(group.get(), "num_samples", n, here);
  h5::WriteAttrInt64(group.get(), "success", meta.success ? 1 : 0, here);
  h5::WriteAttrInt64(group.get(), "interrupted", meta.interrupted ? 1 : 0, here);
  h5::WriteAttrUint64(group.get(), "seed", meta.seed, here);
  h5::WriteAttrInt64Array(group.get(), "object_ids", meta.object_ids, here);
  h5::WriteAttrString(group.get(), "policy_id", meta.policy_id, here);
  h5::WriteAttrString(group.get(), "extra_json", meta.extra_json, here);
  h5::WriteAttrDouble(group.get(), "start_time_unix", meta.start_time_unix, here);
  h5::WriteAttrDouble(group.get(), "end_time_unix", meta.end_time_unix, here);

  const int64_t a = episode.actions.shape[1];
  h5::Layout whole;
  whole.chunk = {static_cast<hsize_t>(n), static_cast<hsize_t>(a)};
  h5::WriteDataset(group.get(), "actions", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, Dims(n, {a}),
                   episode.actions.f32.data(), whole, here);
  whole.chunk = {static_cast<hsize_t>(n)};
  h5::WriteDataset(group.get(), "rewards", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, Dims(n, {}),
                   episode.rewards.data(), whole, here);
  std::vector<uint8_t> dones(static_cast<size_t>(n));
  for (size_t t = 0; t < dones.size(); ++t) {
    dones[t] = (episode.terminated[t] || episode.truncated[t]) ? 1 : 0;
  }
  std::vector<uint8_t> terminated(episode.terminated), truncated(episode.truncated);
  for (auto& v : terminated) v = v ? 1 : 0;
  for (auto& v : truncated) v = v ? 1 : 0;
  h5::WriteDataset(group.get(), "dones", H5T_STD_U8LE, H5T_NATIVE_UINT8, Dims(n, {}),
                   dones.data(), whole, here);
  h5::WriteDataset(group.get(), "terminated", H5T_STD_U8LE, H5T_NATIVE_UINT8, Dims(n, {}),
                   terminated.data(), whole, here);
  h5::WriteDataset(group.get(), "truncated", H5T_STD_U8LE, H5T_NATIVE_UINT8, Dims(n, {}),
                   truncated.data(), whole, here);

  Handle obs = h5::CreateGroup(group.get(), "obs", here);
  Handle final_obs = h5::CreateGroup(group.get(), "final_obs", here);
  Handle next_obs;
  if (options.store_next_obs) next_obs = h5::CreateGroup(group.get(), "next_obs", here);
  for (const auto& [key, array] : episode.observations) {
    const std::vector<int64_t> step_shape = StepShape(array);
    int64_t step_elems = 1;
    for (int64_t d : step_shape) step_elems *= d;
    const size_t step_bytes = static_cast<size_t>(step_elems) * DTypeSize(array.dtype);
    h5::Layout layout;
    const bool image = array.dtype == DType::kUint8 && step_shape.size() == 3;
    const bool per_step = image || static_cast<int64_t>(step_bytes) >= kCompressMinStepBytes;
    layout.chunk = Dims(per_step ? 1 : n, step_shape);
    layout.deflate_level = per_step ? options.compression_level : 0;
    const auto* bytes = static_cast<const uint8_t*>(array.data());
    h5::WriteDataset(obs.get(), key, FileType(array.dtype), MemType(array.dtype),
                     Dims(n, step_shape), bytes, layout, here.Child("obs"));
    layout.chunk[0] = 1;
    h5::WriteDataset(final_obs.get(), key, FileType(array.dtype), MemType(array.dtype),
                     Dims(1, step_shape), bytes + static_cast<size_t>(n) * step_bytes, layout,
                     here.Child("final_obs"));
    if (next_obs.valid()) {
      layout.chunk[0] = per_step ? 1 : static_cast<hsize_t>(n);
      h5::WriteDataset(next_obs.get(), key, FileType(array.dtype), MemType(array.dtype),
                       Dims(n, step_shape), bytes + step_bytes, layout, here.Child("next_obs"));
    }
  }
}

StepColumns ReadStepColumns(hid_t file, const EpisodeRef& ref, int64_t action_dim) {
  const Where where{ref.file, ""};
  const int64_t n = ref.num_steps;
  StepColumns columns;
  {
    Handle dataset = h5::OpenDataset(file, ref.actions, where);
    const Where here = where.Child(ref.actions);
    const h5::DatasetShape shape = h5::GetShape(dataset.get(), here);
    const int64_t a = shape.dims.size() == 2 ? shape.dims[1] : (shape.dims.size() == 1 ? 1 : -1);
    if (a != action_dim) {
      Fail(ExitCode::kBadData, here.str() + ": actions have shape " + ShapeString(shape.dims) +
                                   ", expected [N, " + std::to_string(action_dim) + "]");
    }
    columns.actions.resize(static_cast<size_t>(n * a));
    h5::ReadRowsFloat(dataset.get(), ref.row_begin, n, columns.actions.data(), here);
    for (size_t i = 0; i < columns.actions.size(); ++i) {
      if (!std::isfinite(columns.actions[i])) {
        Fail(ExitCode::kBadData, here.str() + ": action of step " +
                                     std::to_string(i / static_cast<size_t>(a)) + " is not finite");
      }
    }
  }
  columns.rewards = ReadColumnFloat(file, ref.rewards, ref.row_begin, n, where);
  for (size_t t = 0; t < columns.rewards.size(); ++t) {
    if (!std::isfinite(columns.rewards[t])) {
      Fail(ExitCode::kBadData, where.Child(ref.rewards).str() + ": reward of step " +
                                   std::to_string(t) + " is not finite");
    }
  }
  columns.terminated = ReadColumnFlag(file, ref.terminated, ref.row_begin, n, where);
  columns.truncated = ReadColumnFlag(file, ref.truncated, ref.row_begin, n, where);
  return columns;
}

Schema SchemaOfRef(hid_t file, const EpisodeRef& ref) {
  const Where where{ref.file, ""};
  Schema schema;
  for (const auto& [key, path] : ref.obs) {
    Handle dataset = h5::OpenDataset(file, path, where);
    const h5::DatasetShape shape = h5::GetShape(dataset.get(), where.Child(path));
    if (shape.dims.empty()) Fail(ExitCode::kBadData, where.Child(path).str() + ": scalar observation dataset");
    schema.observations[key] = KeySpec{h5::ObservationDType(shape, where.Child(path)),
                                       std::vector<int64_t>(shape.dims.begin() + 1, shape.dims.end())};
  }
  Handle actions = h5::OpenDataset(file, ref.actions, where);
  const h5::DatasetShape shape = h5::GetShape(actions.get(), where.Child(ref.actions));
  schema.action_dim = shape.dims.size() == 2 ? shape.dims[1] : 1;
  return schema;
}

Array ReadObservationRow(hid_t file, const EpisodeRef& ref, const std::string& key,
                         const KeySpec& spec, int64_t step) {
  const Where where{ref.file, ""};
  const bool final = step == ref.num_steps;
  auto it = final ? ref.final_obs.find(key) : ref.obs.find(key);
  if (it == (final ? ref.final_obs.end() : ref.obs.end())) {
    Fail(ExitCode::kBadData, ref.file + ": " + ref.name + ": no observation '" + key + "'");
  }
  const int64_t row = final ? ref.final_row : ref.row_begin + step;
  Handle dataset = h5::OpenDataset(file, it->second, where);
  Array array = h5::ReadRowsArray(dataset.get(), spec.dtype, row, 1, where.Child(it->second));
  CheckFiniteObservation(array, where.Child(it->second));
  const std::vector<int64_t> step_shape(array.shape.begin() + 1, array.shape.end());
  if (step_shape != spec.shape) {
    Fail(ExitCode::kBadData, where.Child(it->second).str() + ": observation shape " +
                                 ShapeString(step_shape) + ", expected " + ShapeString(spec.shape));
  }
  return array;
}

void ReadObservationPair(hid_t file, const EpisodeRef& ref, const std::string& key,
                         const KeySpec& spec, int64_t step, void* now, void* next) {
  int64_t step_bytes = static_cast<int64_t>(DTypeSize(spec.dtype));
  for (int64_t d : spec.shape) step_bytes *= d;
  if (step + 1 >= ref.num_steps) {
    const Array a = ReadObservationRow(file, ref, key, spec, step);
    const Array b = ReadObservationRow(file, ref, key, spec, step + 1);
    std::memcpy(now, a.data(), static_cast<size_t>(step_bytes));
    std::memcpy(next, b.data(), static_cast<size_t>(step_bytes));
    return;
  }
  const Where where{ref.file, ""};
  auto it = ref.obs.find(key);
  if (it == ref.obs.end()) {
    Fail(ExitCode::kBadData, ref.file + ": " + ref.name + ": no observation '" + key + "'");
  }
  Handle dataset = h5::OpenDataset(file, it->second, where);
  const Array rows = h5::ReadRowsArray(dataset.get(), spec.dtype, ref.row_begin + step, 2,
                                       where.Child(it->second));
  CheckFiniteObservation(rows, where.Child(it->second));
  if (std::vector<int64_t>(rows.shape.begin() + 1, rows.shape.end()) != spec.shape) {
    Fail(ExitCode::kBadData, where.Child(it->second).str() + ": observation shape " +
                                 ShapeString(rows.shape) + ", expected [2, " +
                                 ShapeString(spec.shape).substr(1));
  }
  const auto* bytes = static_cast<const uint8_t*>(rows.data());
  std::memcpy(now, bytes, static_cast<size_t>(step_bytes));
  std::memcpy(next, bytes + step_bytes, static_cast<size_t>(step_bytes));
}

Episode ReadEpisode(hid_t file, const EpisodeRef& ref) {
  const Where where{ref.file, ""};
  const Schema schema = SchemaOfRef(file, ref);
  const int64_t n = ref.num_steps;
  StepColumns columns = ReadStepColumns(file, ref, schema.action_dim);
  Episode episode;
  episode.actions.dtype = DType::kFloat32;
  episode.actions.shape = {n, schema.action_dim};
  episode.actions.f32 = std::move(columns.actions);
  episode.rewards = std::move(columns.rewards);
  episode.terminated = std::move(columns.terminated);
  episode.truncated = std::move(columns.truncated);
  for (const auto& [key, spec] : schema.observations) {
    Handle dataset = h5::OpenDataset(file, ref.obs.at(key), where);
    Array steps = h5::ReadRowsArray(dataset.get(), spec.dtype, ref.row_begin, n,
                                    where.Child(ref.obs.at(key)));
    CheckFiniteObservation(steps, where.Child(ref.obs.at(key)));
    const Array last = ReadObservationRow(file, ref, key, spec, n);
    steps.shape[0] = n + 1;
    if (spec.dtype == DType::kUint8) {
      steps.u8.insert(steps.u8.end(), last.u8.begin(), last.u8.end());
    } else {
      steps.f32.insert(steps.f32.end(), last.f32.begin(), last.f32.end());
    }
    episode.observations[key] = std::move(steps);
  }
  if (!ref.metadata_group.empty()) {
    Handle group = h5::OpenGroup(file, ref.metadata_group, where);
    const Where here = where.Child(ref.metadata_group);
    EpisodeMetadata& meta = episode.metadata;
    meta.success = h5::ReadAttrInt64(group.get(), "success", here).value_or(0) != 0;
    meta.interrupted = h5::ReadAttrInt64(group.get(), "interrupted", here).value_or(0) != 0;
    meta.seed = h5::ReadAttrUint64(group.get(), "seed", here).value_or(0);
    meta.object_ids = h5::ReadAttrInt64Array(group.get(), "object_ids", here).value_or(std::vector<int64_t>{});
    meta.policy_id = h5::ReadAttrString(group.get(), "policy_id", here).value_or("");
    meta.extra_json = h5::ReadAttrString(group.get(), "extra_json", here).value_or("{}");
    meta.start_time_unix = h5::ReadAttrDouble(group.get(), "start_time_unix", here).value_or(0.0);
    meta.end_time_unix = h5::ReadAttrDouble(group.get(), "end_time_unix", here).value_or(0.0);
  }
  return episode;
}

}  // namespace perpetua
