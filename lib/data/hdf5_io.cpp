#include "data/hdf5_io.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "common/fs.h"

namespace perpetua::h5 {
namespace {

// HDF5's innermost error as one short line. System-call failures carry a
// long multi-line description ("file write failed: time = ...\n, filename =
// ..., errno = 27, error message = 'File too large', ..."): keep its head and
// the system's message.
std::string OneLine(const std::string& desc) {
  const std::string marker = "error message = '";
  const size_t at = desc.find(marker);
  if (at != std::string::npos) {
    const size_t begin = at + marker.size();
    const size_t end = desc.find('\'', begin);
    std::string head = desc.substr(0, desc.find(':'));
    return head + ": " + desc.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
  }
  std::string line = desc;
  std::replace(line.begin(), line.end(), '\n', ' ');
  return line;
}

herr_t CollectInnermost(unsigned n, const H5E_error2_t* err, void* data) {
  auto* out = static_cast<std::string*>(data);
  if (n == 0 && err->desc != nullptr) *out = OneLine(err->desc);
  return 0;
}

// Small datasets may be stored in fewer bytes than their headers; no check below this.
constexpr uint64_t kSmallBytes = 1 << 16;

// prod(dims) * element_bytes, or nullopt on overflow.
std::optional<uint64_t> LogicalBytes(const std::vector<hsize_t>& dims, size_t element_bytes) {
  uint64_t bytes = element_bytes;
  for (const hsize_t d : dims) {
    if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes)) return std::nullopt;
  }
  return bytes;
}

// "" if dataset `name` is safe to read: its raw data lives in this file (no
// external raw-data files, no virtual layout) and it holds the data its
// shape claims (at most kMaxExpansion times its storage). Else what is wrong.
std::string DatasetProblem(hid_t dataset) {
  Handle dcpl(H5Dget_create_plist(dataset));
  if (!dcpl.valid()) return "cannot read its creation properties";
  const H5D_layout_t layout = H5Pget_layout(dcpl.get());
  if (layout == H5D_VIRTUAL) return "is a virtual dataset (refused: data must live in this file)";
  if (H5Pget_external_count(dcpl.get()) != 0) {
    return "stores its data in external files (refused: data must live in this file)";
  }
  Handle type(H5Dget_type(dataset));
  Handle space(H5Dget_space(dataset));
  const int rank = space.valid() ? H5Sget_simple_extent_ndims(space.get()) : -1;
  if (!type.valid() || rank < 0) return "cannot read its type or shape";
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  const std::optional<uint64_t> logical = LogicalBytes(dims, H5Tget_size(type.get()));
  const uint64_t storage = H5Dget_storage_size(dataset);
  const uint64_t ratio = layout == H5D_CHUNKED ? kMaxExpansion : 1;
  if (!logical || (*logical > kSmallBytes && *logical / ratio > storage)) {
    return "has shape " + ShapeString(std::vector<int64_t>(dims.begin(), dims.end())) +
           " but the file holds only " + std::to_string(storage) + " bytes of its data";
  }
  return "";
}

struct ScanState {
  std::string problem;  // "<object>: <what>" once something is refused
};

// H5Lvisit callback: refuses external and user-defined links (a shard must
// never make a reader open another path) and unsafe datasets.
herr_t ScanLink(hid_t group, const char* name, const H5L_info_t* info, void* data) {
  auto* state = static_cast<ScanState*>(data);
  if (info->type == H5L_TYPE_SOFT) return 0;  // resolves inside this file (HDF5 bounds chains)
  if (info->type != H5L_TYPE_HARD) {
    state->problem = std::string(name) + ": is an external link (refused: a data file must not " +
                     "point a reader at other files)";
    return 1;
  }
  H5O_info_t object{};
  if (H5Oget_info_by_name2(group, name, &object, H5O_INFO_BASIC, H5P_DEFAULT) < 0) {
    state->problem = std::string(name) + ": cannot read the object header";
    return 1;
  }
  if (object.type != H5O_TYPE_DATASET) return 0;
  Handle dataset(H5Dopen2(group, name, H5P_DEFAULT));
  const std::string problem = dataset.valid() ? DatasetProblem(dataset.get()) : "cannot open dataset";
  if (problem.empty()) return 0;
  state->problem = std::string(name) + ": " + problem;
  return 1;
}

// Error(kBadData) unless attribute `attr` stores the `bytes` its type and
// shape claim (checked before anything of that size is allocated).
void CheckAttrBytes(hid_t attr, uint64_t bytes, const std::string& name, const Where& where) {
  if (bytes > kSmallBytes && bytes > H5Aget_storage_size(attr)) {
    Fail(ExitCode::kBadData, where, "attribute '" + name + "' claims more data than it holds");
  }
}

herr_t CollectLink(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}

// Reads the whole attribute `name` with memory type `mem_type` into `out`.
// Returns false if it does not exist.
bool ReadAttrRaw(hid_t obj, const std::string& name, hid_t mem_type, H5T_class_t want,
                 void* out, size_t expected_elements, const Where& where) {
  if (H5Aexists(obj, name.c_str()) <= 0) return false;
  Handle attr(H5Aopen(obj, name.c_str(), H5P_DEFAULT));
  if (!attr.valid()) Fail(ExitCode::kBadData, where, "cannot open attribute '" + name + "'");
  Handle type(H5Aget_type(attr.get()));
  Handle space(H5Aget_space(attr.get()));
  const H5T_class_t cls = H5Tget_class(type.get());
  const bool numeric_ok = (want == H5T_INTEGER || want == H5T_FLOAT) &&
                          (cls == H5T_INTEGER || cls == H5T_FLOAT);
  if (cls != want && !numeric_ok) {
    Fail(ExitCode::kBadData, where, "attribute '" + name + "' has the wrong type");
  }
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n < 0 || static_cast<size_t>(n) != expected_elements) {
    Fail(ExitCode::kBadData, where, "attribute '" + name + "' has the wrong size");
  }
  if (want == H5T_INTEGER && cls == H5T_FLOAT) {
    // A float where an integer belongs is taken only if it is a whole number
    // (schema version 1.0, not 1.5, which HDF5's conversion would truncate).
    std::vector<double> values(expected_elements);
    if (H5Aread(attr.get(), H5T_NATIVE_DOUBLE, values.data()) < 0) {
      Fail(ExitCode::kBadData, where, "cannot read attribute '" + name + "'");
    }
    for (const double v : values) {
      if (!(v == std::floor(v) && std::fabs(v) < 9.0e15)) {
        Fail(ExitCode::kBadData, where, "attribute '" + name + "' is " + std::to_string(v) +
                                            ", not an integer");
      }
    }
  }
  if (H5Aread(attr.get(), mem_type, out) < 0) {
    Fail(ExitCode::kBadData, where, "cannot read attribute '" + name + "'");
  }
  return true;
}

void WriteAttrRaw(hid_t obj, const std::string& name, hid_t file_type, hid_t mem_type,
                  const std::vector<hsize_t>& dims, const void* data, const Where& where) {
  Handle space(dims.empty() ? H5Screate(H5S_SCALAR)
                            : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  if (H5Aexists(obj, name.c_str()) > 0) H5Adelete(obj, name.c_str());
  Handle attr(H5Acreate2(obj, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!attr.valid() || H5Awrite(attr.get(), mem_type, data) < 0) {
    Fail(ExitCode::kIoError, where, "cannot write attribute '" + name + "'");
  }
}

// True if `dataset` holds 1-byte enums (h5py's bool), which HDF5 cannot
// convert to numbers: they are read raw and converted here.
bool IsByteEnum(hid_t dataset, const Where& where) {
  Handle file_type(H5Dget_type(dataset));
  const H5T_class_t cls = H5Tget_class(file_type.get());
  if (cls == H5T_ENUM) {
    Handle base(H5Tget_super(file_type.get()));
    if (H5Tget_size(base.get()) != 1 || H5Tget_class(base.get()) != H5T_INTEGER) {
      Fail(ExitCode::kBadData, where, "unsupported enum type (only 1-byte booleans)");
    }
    return true;
  }
  if (cls != H5T_INTEGER && cls != H5T_FLOAT) {
    Fail(ExitCode::kBadData, where, "not a numeric dataset");
  }
  return false;
}

void ReadRows(hid_t dataset, hid_t kind, int64_t row_begin, int64_t rows, void* out,
              const Where& where) {
  Handle space(H5Dget_space(dataset));
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 1) Fail(ExitCode::kBadData, where, "dataset has no rows");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  if (row_begin < 0 || rows < 0 || static_cast<hsize_t>(row_begin + rows) > dims[0]) {
    Fail(ExitCode::kBadData, where,
         "rows [" + std::to_string(row_begin) + ", " + std::to_string(row_begin + rows) +
             ") out of range (" + std::to_string(dims[0]) + " rows)");
  }
  if (rows == 0) return;
  std::vector<hsize_t> start(dims.size(), 0), count = dims;
  start[0] = static_cast<hsize_t>(row_begin);
  count[0] = static_cast<hsize_t>(rows);
  H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
  Handle mem_space(H5Screate_simple(rank, count.data(), nullptr));
  if (IsByteEnum(dataset, where)) {
    size_t n = 1;
    for (hsize_t c : count) n *= c;
    std::vector<uint8_t> raw(n);
    Handle file_type(H5Dget_type(dataset));
    if (H5Dread(dataset, file_type.get(), mem_space.get(), space.get(), H5P_DEFAULT, raw.data()) < 0) {
      Fail(ExitCode::kBadData, where, "cannot read data");
    }
    const bool to_float = H5Tequal(kind, H5T_NATIVE_FLOAT) > 0;
    for (size_t i = 0; i < n; ++i) {
      if (to_float) {
        static_cast<float*>(out)[i] = raw[i];
      } else {
        static_cast<uint8_t*>(out)[i] = raw[i];
      }
    }
    return;
  }
  if (H5Dread(dataset, kind, mem_space.get(), space.get(), H5P_DEFAULT, out) < 0) {
    Fail(ExitCode::kBadData, where, "cannot read data");
  }
}

}  // namespace

void InitThread() {
  thread_local bool done = false;
  if (!done) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    done = true;
  }
}

std::string LastErrorDetail() {
  std::string detail;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, CollectInnermost, &detail);
  H5Eclear2(H5E_DEFAULT);
  return detail;
}

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    Reset();
    id_ = other.id_;
    other.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void Handle::Reset() {
  if (id_ < 0) return;
  switch (H5Iget_type(id_)) {
    case H5I_FILE: H5Fclose(id_); break;
    case H5I_GROUP: H5Gclose(id_); break;
    case H5I_DATASET: H5Dclose(id_); break;
    case H5I_DATASPACE: H5Sclose(id_); break;
    case H5I_DATATYPE: H5Tclose(id_); break;
    case H5I_ATTR: H5Aclose(id_); break;
    case H5I_GENPROP_LST: H5Pclose(id_); break;
    default: break;
  }
  id_ = H5I_INVALID_HID;
}

void Fail(ExitCode code, const Where& where, const std::string& what) {
  const std::string detail = LastErrorDetail();
  std::string message = where.str() + ": " + what;
  if (!detail.empty()) message += " (HDF5: " + detail + ")";
  perpetua::Fail(code, message);
}

Handle OpenFileReadOnly(const std::string& path) {
  InitThread();
  // The checked descriptor, reopened by HDF5 through /proc: a FIFO or device
  // is refused without blocking, and HDF5 opens the very file that was checked.
  const RegularFile checked = RegularFile::Open(path, ExitCode::kBadData);
  const std::string name = checked.ProcPath();
  const htri_t is_hdf5 = H5Fis_hdf5(name.c_str());
  if (is_hdf5 <= 0) {
    LastErrorDetail();
    perpetua::Fail(ExitCode::kBadData, path + ": not an HDF5 file (or truncated/unreadable)");
  }
  // No HDF5 file locking: a visible file is immutable and a file being
  // written is private to its writer, and HDF5's locks fail on some shared
  // file systems (NFS, Lustre) that datasets live on.
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS));
  H5Pset_file_locking(fapl.get(), false, true);
  Handle file(H5Fopen(name.c_str(), H5F_ACC_RDONLY, fapl.get()));
  if (!file.valid()) Fail(ExitCode::kBadData, {path, ""}, "cannot open HDF5 file");
  // One rule for links, checked once before any path is traversed: no
  // external (or user-defined) links, no data in other files, and no dataset
  // that claims more data than the file holds.
  ScanState scan;
  const herr_t visited = H5Lvisit(file.get(), H5_INDEX_NAME, H5_ITER_INC, ScanLink, &scan);
  if (!scan.problem.empty()) Fail(ExitCode::kBadData, {path, ""}, scan.problem);
  if (visited < 0) Fail(ExitCode::kBadData, {path, ""}, "cannot list the file's objects (corrupt)");
  return file;
}

Handle CreateFile(const std::string& path) {
  InitThread();
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS));
  // The 1.10 format: every piece of metadata carries a checksum (corruption is
  // detected, not crashed on); readable by every HDF5 >= 1.10 (h5py, robomimic).
  H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V110, H5F_LIBVER_V110);
  H5Pset_file_locking(fapl.get(), false, true);
  Handle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()));
  if (!file.valid()) Fail(ExitCode::kIoError, {path, ""}, "cannot create HDF5 file");
  return file;
}

void CloseFile(Handle& file, const std::string& path) {
  if (!file.valid()) return;
  const hid_t id = file.Release();
  if (H5Fclose(id) < 0) Fail(ExitCode::kIoError, {path, ""}, "cannot close (flush) HDF5 file");
}

bool LinkExists(hid_t loc, const std::string& name) {
  // Checks each path component so that "a/b/c" with "a" missing is false, not an error.
  size_t pos = 0;
  while (true) {
    const size_t slash = name.find('/', pos);
    const std::string prefix = name.substr(0, slash);
    if (H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    if (slash == std::string::npos) return true;
    pos = slash + 1;
  }
}

Handle OpenGroup(hid_t loc, const std::string& name, const Where& where) {
  if (name != "/" && !LinkExists(loc, name)) {
    Fail(ExitCode::kBadData, where.Child(name), "missing group");
  }
  Handle group(H5Gopen2(loc, name.c_str(), H5P_DEFAULT));
  if (!group.valid()) Fail(ExitCode::kBadData, where.Child(name), "cannot open group");
  return group;
}

Handle CreateGroup(hid_t loc, const std::string& name, const Where& where) {
  // Attributes stay in the object header (compact): HDF5 1.10's H5Ocopy
  // crashes copying variable-length string attributes from dense storage.
  Handle gcpl(H5Pcreate(H5P_GROUP_CREATE));
  H5Pset_attr_phase_change(gcpl.get(), 64, 0);
  Handle group(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT));
  if (!group.valid()) Fail(ExitCode::kIoError, where.Child(name), "cannot create group");
  return group;
}

Handle OpenDataset(hid_t loc, const std::string& name, const Where& where) {
  if (!LinkExists(loc, name)) Fail(ExitCode::kBadData, where.Child(name), "missing dataset");
  Handle dataset(H5Dopen2(loc, name.c_str(), H5P_DEFAULT));
  if (!dataset.valid()) Fail(ExitCode::kBadData, where.Child(name), "cannot open dataset");
  return dataset;
}

std::vector<std::string> ListLinks(hid_t group, const Where& where) {
  std::vector<std::string> names;
  hsize_t idx = 0;
  if (H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &idx, CollectLink, &names) < 0) {
    Fail(ExitCode::kBadData, where, "cannot list group");
  }
  return names;
}

void WriteAttrInt64(hid_t obj, const std::string& name, int64_t value, const Where& where) {
  WriteAttrRaw(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, {}, &value, where);
}
void WriteAttrUint64(hid_t obj, const std::string& name, uint64_t value, const Where& where) {
  WriteAttrRaw(obj, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, {}, &value, where);
}
void WriteAttrDouble(hid_t obj, const std::string& name, double value, const Where& where) {
  WriteAttrRaw(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {}, &value, where);
}
void WriteAttrInt64Array(hid_t obj, const std::string& name, const std::vector<int64_t>& values,
                         const Where& where) {
  const int64_t none = 0;
  WriteAttrRaw(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, {values.size()},
               values.empty() ? &none : values.data(), where);
}

void WriteAttrString(hid_t obj, const std::string& name, const std::string& value,
                     const Where& where) {
  // Fixed-length UTF-8, stored inside the (checksummed) object header. Not
  // variable-length: those live in the global heap, which has no checksum,
  // and HDF5 1.10 crashes on a corrupted one. h5py reads it as bytes, which
  // json.loads (robomimic's env_args) accepts.
  Handle type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type.get(), std::max<size_t>(1, value.size()));
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  std::string buffer = value;
  if (buffer.empty()) buffer.push_back('\0');
  WriteAttrRaw(obj, name, type.get(), type.get(), {}, buffer.data(), where);
}

std::optional<int64_t> ReadAttrInt64(hid_t obj, const std::string& name, const Where& where) {
  int64_t value = 0;
  if (!ReadAttrRaw(obj, name, H5T_NATIVE_INT64, H5T_INTEGER, &value, 1, where)) return {};
  return value;
}
std::optional<uint64_t> ReadAttrUint64(hid_t obj, const std::string& name, const Where& where) {
  uint64_t value = 0;
  if (!ReadAttrRaw(obj, name, H5T_NATIVE_UINT64, H5T_INTEGER, &value, 1, where)) return {};
  return value;
}
std::optional<double> ReadAttrDouble(hid_t obj, const std::string& name, const Where& where) {
  double value = 0;
  if (!ReadAttrRaw(obj, name, H5T_NATIVE_DOUBLE, H5T_FLOAT, &value, 1, where)) return {};
  return value;
}

std::optional<std::vector<int64_t>> ReadAttrInt64Array(hid_t obj, const std::string& name,
                                                       const Where& where) {
  if (H5Aexists(obj, name.c_str()) <= 0) return {};
  Handle attr(H5Aopen(obj, name.c_str(), H5P_DEFAULT));
  Handle space(H5Aget_space(attr.get()));
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n < 0) Fail(ExitCode::kBadData, where, "cannot read attribute '" + name + "'");
  CheckAttrBytes(attr.get(), static_cast<uint64_t>(n) * sizeof(int64_t), name, where);
  std::vector<int64_t> values(static_cast<size_t>(n));
  if (n == 0) return values;
  ReadAttrRaw(obj, name, H5T_NATIVE_INT64, H5T_INTEGER, values.data(), values.size(), where);
  return values;
}

std::optional<std::string> ReadAttrString(hid_t obj, const std::string& name,
                                          const Where& where) {
  if (H5Aexists(obj, name.c_str()) <= 0) return {};
  Handle attr(H5Aopen(obj, name.c_str(), H5P_DEFAULT));
  if (!attr.valid()) Fail(ExitCode::kBadData, where, "cannot open attribute '" + name + "'");
  Handle type(H5Aget_type(attr.get()));
  if (H5Tget_class(type.get()) != H5T_STRING) {
    Fail(ExitCode::kBadData, where, "attribute '" + name + "' is not a string");
  }
  Handle space(H5Aget_space(attr.get()));
  if (H5Sget_simple_extent_npoints(space.get()) != 1) {
    Fail(ExitCode::kBadData, where, "attribute '" + name + "' is not a single string");
  }
  if (H5Tis_variable_str(type.get()) > 0) {
    Handle mem(H5Tcopy(H5T_C_S1));
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
    char* ptr = nullptr;
    if (H5Aread(attr.get(), mem.get(), &ptr) < 0) {
      Fail(ExitCode::kBadData, where, "cannot read attribute '" + name + "'");
    }
    std::string value = ptr ? ptr : "";
    H5free_memory(ptr);
    return value;
  }
  const size_t size = H5Tget_size(type.get());
  CheckAttrBytes(attr.get(), size, name, where);
  std::string buffer(size, '\0');
  if (H5Aread(attr.get(), type.get(), buffer.data()) < 0) {
    Fail(ExitCode::kBadData, where, "cannot read attribute '" + name + "'");
  }
  buffer.resize(std::strlen(buffer.c_str()));
  return buffer;
}

void WriteDataset(hid_t loc, const std::string& name, hid_t file_type, hid_t mem_type,
                  const std::vector<hsize_t>& dims, const void* data, const Layout& layout,
                  const Where& where) {
  const Where here = where.Child(name);
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE));
  std::vector<hsize_t> chunk = layout.chunk;
  for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = std::max<hsize_t>(1, std::min(chunk[i], dims[i]));
  if (H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()) < 0 ||
      (layout.fletcher32 && H5Pset_fletcher32(dcpl.get()) < 0) ||
      (layout.deflate_level > 0 &&
       H5Pset_deflate(dcpl.get(), static_cast<unsigned>(layout.deflate_level)) < 0)) {
    Fail(ExitCode::kIoError, here, "cannot set the dataset layout");
  }
  Handle dataset(H5Dcreate2(loc, name.c_str(), file_type, space.get(), H5P_DEFAULT, dcpl.get(),
                            H5P_DEFAULT));
  if (!dataset.valid()) Fail(ExitCode::kIoError, here, "cannot create dataset");
  if (H5Dwrite(dataset.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
    Fail(ExitCode::kIoError, here, "cannot write dataset");
  }
}

void WriteStringList(hid_t loc, const std::string& name, const std::vector<std::string>& values,
                     const Where& where) {
  size_t width = 1;
  for (const auto& v : values) width = std::max(width, v.size());
  std::string buffer(width * values.size(), '\0');
  for (size_t i = 0; i < values.size(); ++i) std::memcpy(&buffer[i * width], values[i].data(), values[i].size());
  Handle type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type.get(), width);
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  const hsize_t dims[1] = {values.size()};
  Handle space(H5Screate_simple(1, dims, nullptr));
  Handle dataset(H5Dcreate2(loc, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT,
                            H5P_DEFAULT));
  if (!dataset.valid() ||
      (!values.empty() &&
       H5Dwrite(dataset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()) < 0)) {
    Fail(ExitCode::kIoError, where.Child(name), "cannot write string list");
  }
}

std::vector<std::string> ReadStringList(hid_t loc, const std::string& name, const Where& where) {
  const Where here = where.Child(name);
  Handle dataset = OpenDataset(loc, name, where);
  Handle type(H5Dget_type(dataset.get()));
  if (H5Tget_class(type.get()) != H5T_STRING || H5Tis_variable_str(type.get()) > 0) {
    Fail(ExitCode::kBadData, here, "not a list of fixed-length strings");
  }
  Handle space(H5Dget_space(dataset.get()));
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  const size_t width = H5Tget_size(type.get());
  std::string buffer(width * static_cast<size_t>(std::max<hssize_t>(n, 0)), '\0');
  if (n > 0 && H5Dread(dataset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()) < 0) {
    Fail(ExitCode::kBadData, here, "cannot read string list");
  }
  std::vector<std::string> values;
  for (hssize_t i = 0; i < n; ++i) {
    std::string v = buffer.substr(static_cast<size_t>(i) * width, width);
    v.resize(std::strlen(v.c_str()));
    values.push_back(v);
  }
  return values;
}

DatasetShape GetShape(hid_t dataset, const Where& where) {
  DatasetShape shape;
  Handle type(H5Dget_type(dataset));
  Handle space(H5Dget_space(dataset));
  if (!type.valid() || !space.valid()) Fail(ExitCode::kBadData, where, "cannot read dataset header");
  shape.type_class = H5Tget_class(type.get());
  shape.type_size = H5Tget_size(type.get());
  shape.is_signed = shape.type_class == H5T_INTEGER && H5Tget_sign(type.get()) == H5T_SGN_2;
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) Fail(ExitCode::kBadData, where, "cannot read dataset shape");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  for (hsize_t d : dims) shape.dims.push_back(static_cast<int64_t>(d));
  return shape;
}

void ReadRowsFloat(hid_t dataset, int64_t row_begin, int64_t rows, float* out, const Where& where) {
  ReadRows(dataset, H5T_NATIVE_FLOAT, row_begin, rows, out, where);
}

void ReadRowsU8(hid_t dataset, int64_t row_begin, int64_t rows, uint8_t* out, const Where& where) {
  ReadRows(dataset, H5T_NATIVE_UINT8, row_begin, rows, out, where);
}

Array ReadRowsArray(hid_t dataset, DType dtype, int64_t row_begin, int64_t rows,
                    const Where& where) {
  const DatasetShape shape = GetShape(dataset, where);
  std::vector<int64_t> dims = shape.dims;
  if (dims.empty()) Fail(ExitCode::kBadData, where, "scalar dataset where rows were expected");
  dims[0] = rows;
  Array array = Array::Zeros(dtype, dims);
  if (dtype == DType::kUint8) {
    ReadRowsU8(dataset, row_begin, rows, array.u8.data(), where);
  } else {
    ReadRowsFloat(dataset, row_begin, rows, array.f32.data(), where);
  }
  return array;
}

DType ObservationDType(const DatasetShape& shape, const Where& where) {
  if (shape.type_class == H5T_INTEGER && shape.type_size == 1 && !shape.is_signed) {
    return DType::kUint8;
  }
  if (shape.type_class == H5T_INTEGER || shape.type_class == H5T_FLOAT ||
      shape.type_class == H5T_ENUM) {
    return DType::kFloat32;
  }
  Fail(ExitCode::kBadData, where, "unsupported element type (want numbers)");
}

}  // namespace perpetua::h5
