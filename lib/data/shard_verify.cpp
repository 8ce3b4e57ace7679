#include "data/shard_verify.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <vector>

#include "data/dataset_reader.h"
#include "data/hdf5_io.h"

namespace perpetua {
namespace {

using h5::Handle;
using h5::Where;

// Bytes read at once from a dataset.
constexpr uint64_t kSlabBytes = 8ull << 20;
constexpr uint64_t kSlack = 1ull << 20;

// State of one walk over a file's objects.
struct Walk {
  std::string path;
  uint64_t budget = 0;  // logical bytes left to read
  std::string problem;  // first problem ("" while none)
};

// The in-memory type to read `file_type` as, or an invalid handle (and why)
// for a type a Perpetua file never holds.
Handle MemoryType(hid_t file_type, std::string* problem) {
  switch (H5Tget_class(file_type)) {
    case H5T_INTEGER:
    case H5T_FLOAT:
    case H5T_ENUM: {
      Handle native(H5Tget_native_type(file_type, H5T_DIR_ASCEND));
      if (!native.valid()) *problem = "unsupported number type";
      return native;
    }
    case H5T_STRING:
      if (H5Tis_variable_str(file_type) > 0) {
        *problem = "variable-length string (Perpetua files hold fixed-length strings only)";
        return Handle();
      }
      return Handle(H5Tcopy(file_type));
    default:
      *problem = "unexpected element type (class " + std::to_string(H5Tget_class(file_type)) + ")";
      return Handle();
  }
}

// Elements in `space`, or -1 if it is not a simple/scalar space.
int64_t Elements(hid_t space) {
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  return n < 0 ? -1 : static_cast<int64_t>(n);
}

// Records the walk's first problem; returns false (stop).
bool Stop(Walk& walk, const std::string& problem) {
  walk.problem = problem;
  return false;
}

bool Charge(Walk& walk, uint64_t bytes, const std::string& object) {
  if (bytes > walk.budget) return Stop(walk, object + ": claims more data than the file can hold");
  walk.budget -= bytes;
  return true;
}

std::string HdfProblem(const std::string& object, const std::string& what) {
  const std::string detail = h5::LastErrorDetail();
  return object + ": " + what + (detail.empty() ? "" : " (HDF5: " + detail + ")");
}

// Reads every attribute of `object` in full.
bool ReadAttributes(hid_t object, const std::string& name, Walk& walk) {
  H5O_info_t info;
  if (H5Oget_info2(object, &info, H5O_INFO_NUM_ATTRS) < 0) {
    return Stop(walk, HdfProblem(name, "cannot read object header"));
  }
  for (hsize_t i = 0; i < info.num_attrs; ++i) {
    Handle attr(H5Aopen_by_idx(object, ".", H5_INDEX_NAME, H5_ITER_NATIVE, i, H5P_DEFAULT,
                               H5P_DEFAULT));
    const std::string where = name + " attribute #" + std::to_string(i);
    if (!attr.valid()) return Stop(walk, HdfProblem(where, "cannot open"));
    Handle file_type(H5Aget_type(attr.get()));
    Handle space(H5Aget_space(attr.get()));
    if (!file_type.valid() || !space.valid()) return Stop(walk, HdfProblem(where, "unreadable"));
    std::string why;
    Handle mem_type = MemoryType(file_type.get(), &why);
    if (!mem_type.valid()) return Stop(walk, where + ": " + why);
    const int64_t n = Elements(space.get());
    const size_t size = H5Tget_size(mem_type.get());
    if (n < 0 || size == 0) return Stop(walk, where + ": bad shape");
    if (!Charge(walk, static_cast<uint64_t>(n) * size, where)) return false;
    std::vector<unsigned char> buffer(static_cast<size_t>(n) * size);
    if (n > 0 && H5Aread(attr.get(), mem_type.get(), buffer.data()) < 0) {
      return Stop(walk, HdfProblem(where, "cannot read"));
    }
  }
  return true;
}

// Reads dataset `name` in full, a slab of rows at a time.
bool ReadDataset(hid_t dataset, const std::string& name, Walk& walk) {
  Handle file_type(H5Dget_type(dataset));
  Handle space(H5Dget_space(dataset));
  if (!file_type.valid() || !space.valid()) return Stop(walk, HdfProblem(name, "unreadable header"));
  std::string why;
  Handle mem_type = MemoryType(file_type.get(), &why);
  if (!mem_type.valid()) return Stop(walk, name + ": " + why);
  const size_t size = H5Tget_size(mem_type.get());
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0 || size == 0) return Stop(walk, HdfProblem(name, "bad dataspace"));
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  // Bytes per row (first axis), checked against the budget before any multiplication overflows.
  uint64_t row_bytes = size;
  for (int d = 1; d < rank; ++d) {
    if (dims[d] != 0 && row_bytes > walk.budget / dims[d]) return Charge(walk, walk.budget + 1, name);
    row_bytes *= dims[d];
  }
  const uint64_t rows = rank > 0 ? dims[0] : 1;
  if (row_bytes != 0 && rows > walk.budget / row_bytes) return Charge(walk, walk.budget + 1, name);
  if (!Charge(walk, rows * row_bytes, name)) return false;
  if (rows * row_bytes == 0) return true;
  if (rank == 0) {
    std::vector<unsigned char> buffer(size);
    if (H5Dread(dataset, mem_type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()) < 0) {
      return Stop(walk, HdfProblem(name, "cannot read"));
    }
    return true;
  }
  const uint64_t slab_rows = std::max<uint64_t>(1, kSlabBytes / row_bytes);
  std::vector<unsigned char> buffer(static_cast<size_t>(std::min(rows, slab_rows) * row_bytes));
  for (uint64_t begin = 0; begin < rows; begin += slab_rows) {
    std::vector<hsize_t> start(dims.size(), 0), count = dims;
    start[0] = begin;
    count[0] = std::min(slab_rows, rows - begin);
    Handle file_space(H5Scopy(space.get()));
    Handle mem_space(H5Screate_simple(rank, count.data(), nullptr));
    if (H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(),
                            nullptr) < 0 ||
        H5Dread(dataset, mem_type.get(), mem_space.get(), file_space.get(), H5P_DEFAULT,
                buffer.data()) < 0) {
      return Stop(walk, HdfProblem(name, "cannot read rows " + std::to_string(begin) + "+"));
    }
  }
  return true;
}

herr_t VisitObject(hid_t root, const char* name, const H5O_info_t* info, void* data) {
  Walk& walk = *static_cast<Walk*>(data);
  Handle object(H5Oopen(root, name, H5P_DEFAULT));
  const std::string object_name = std::string(name) == "." ? "/" : name;
  if (!object.valid()) {
    walk.problem = HdfProblem(object_name, "cannot open");
    return -1;
  }
  if (!ReadAttributes(object.get(), object_name, walk)) return -1;
  if (info->type == H5O_TYPE_DATASET && !ReadDataset(object.get(), object_name, walk)) return -1;
  return 0;
}

// Reads every attribute and dataset of `file`; Error(kBadData) on the first failure.
void ReadEverything(hid_t file, const std::string& path) {
  struct stat st {};
  const uint64_t stored = ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  Walk walk;
  walk.path = path;
  walk.budget = stored * h5::kMaxExpansion + kSlack;
  const herr_t status = H5Ovisit2(file, H5_INDEX_NAME, H5_ITER_NATIVE, VisitObject, &walk,
                                  H5O_INFO_BASIC);
  if (!walk.problem.empty()) Fail(ExitCode::kBadData, path + ": " + walk.problem);
  if (status < 0) Fail(ExitCode::kBadData, path + ": " + HdfProblem("/", "cannot walk the file"));
}

}  // namespace

Schema VerifyPerpetuaFile(const std::string& path, const Schema* expected) {
  h5::InitThread();
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    Fail(ExitCode::kBadData, path + ": not a regular file");
  }
  try {
    DatasetReader reader({path}, /*allow_empty=*/false, expected);
    const DatasetFileInfo& info = reader.files().at(0);
    if (info.format != "perpetua") {
      Fail(ExitCode::kBadData, path + ": not a Perpetua file (looks like " + info.format + ")");
    }
    if (reader.num_episodes() == 0) Fail(ExitCode::kBadData, path + ": no episodes");
    const Schema schema = reader.schema();
    for (size_t i = 0; i < reader.num_episodes(); ++i) {
      const Episode episode = reader.ReadEpisode(i);
      ValidateEpisode(episode, &schema, path + ": " + reader.episode(i).name);
    }
    ReadEverything(reader.FileHandle(path), path);
    return schema;
  } catch (const std::bad_alloc&) {
    Fail(ExitCode::kBadData, path + ": claims more data than fits in memory");
  } catch (const std::length_error&) {
    Fail(ExitCode::kBadData, path + ": claims more data than fits in memory");
  }
}

}  // namespace perpetua
