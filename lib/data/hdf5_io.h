// Thin helpers over the HDF5 C API used by lib/data (internal to lib/data).
//
// Every failure becomes perpetua::Error with one line naming the file and the
// object ("<file>: data/demo_3/actions: <what HDF5 said>"). HDF5's own error
// printing is switched off (per thread: call InitThread() at every entry point
// that may run on a new thread). The library is the Debian thread-safe build,
// so calls from several threads are serialised inside HDF5.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/array.h"
#include "common/error.h"

namespace perpetua::h5 {

// Deflate, the only compressing filter HDF5 has built in, shrinks data by at
// most ~1032:1: a file holding more than this many logical bytes per stored
// byte is damaged (OpenFileReadOnly checks each chunked dataset against it,
// shard_verify the whole file).
inline constexpr uint64_t kMaxExpansion = 1100;

// Turns off HDF5's automatic error printing for the calling thread.
void InitThread();

// The innermost message on the calling thread's HDF5 error stack ("" if none).
std::string LastErrorDetail();

// An owned hid_t closed with the matching H5*close on destruction.
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  ~Handle() { Reset(); }
  Handle(Handle&& other) noexcept : id_(other.id_) { other.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void Reset();
  // Gives up ownership and returns the id.
  hid_t Release() {
    const hid_t id = id_;
    id_ = H5I_INVALID_HID;
    return id;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

// Where an object lives, for messages: file path and object path.
struct Where {
  std::string file;
  std::string object;  // "" for the file itself
  std::string str() const { return object.empty() ? file : file + ": " + object; }
  Where Child(const std::string& name) const {
    return {file, object.empty() ? name : object + "/" + name};
  }
};

// Throws Error(code, where + ": " + what + [": " + HDF5 detail]).
[[noreturn]] void Fail(ExitCode code, const Where& where, const std::string& what);

// Opens an existing file read-only: the only way lib/data opens a file it reads.
// The file must be a regular file (fs.h RegularFile: a FIFO or device is
// refused without blocking). Before returning, every link in the file is
// visited once and the file is refused if any of these holds, so that no
// later read follows a path out of the file or allocates what is not there:
//   * an external or user-defined link (one rule: refused, never traversed;
//     soft links stay inside the file and are allowed),
//   * a dataset whose raw data lives in other files (external storage, virtual),
//   * a dataset whose shape claims more data than the file holds (more than
//     1100x its stored bytes, deflate's limit, for chunked datasets).
// Error(kBadData) naming the file and the object: not HDF5 / unreadable /
// truncated / refused as above.
Handle OpenFileReadOnly(const std::string& path);
// Creates (truncating) a file for writing, latest format. Error(kIoError).
Handle CreateFile(const std::string& path);
// Closes a file, reporting failures (a failed close can mean lost data). Error(kIoError).
void CloseFile(Handle& file, const std::string& path);

bool LinkExists(hid_t loc, const std::string& name);
Handle OpenGroup(hid_t loc, const std::string& name, const Where& where);
Handle CreateGroup(hid_t loc, const std::string& name, const Where& where);
Handle OpenDataset(hid_t loc, const std::string& name, const Where& where);
// Names of the links directly inside a group (sorted by name).
std::vector<std::string> ListLinks(hid_t group, const Where& where);

// Attributes. Writers throw Error(kIoError); readers return nullopt when the
// attribute is absent and throw Error(kBadData) when it has the wrong type
// (an integer reader takes a float attribute only if it holds a whole
// number: 1.5 is refused, not truncated) or claims more data than it stores.
void WriteAttrInt64(hid_t obj, const std::string& name, int64_t value, const Where& where);
void WriteAttrUint64(hid_t obj, const std::string& name, uint64_t value, const Where& where);
void WriteAttrDouble(hid_t obj, const std::string& name, double value, const Where& where);
void WriteAttrString(hid_t obj, const std::string& name, const std::string& value,
                     const Where& where);
void WriteAttrInt64Array(hid_t obj, const std::string& name, const std::vector<int64_t>& values,
                         const Where& where);
std::optional<int64_t> ReadAttrInt64(hid_t obj, const std::string& name, const Where& where);
std::optional<uint64_t> ReadAttrUint64(hid_t obj, const std::string& name, const Where& where);
std::optional<double> ReadAttrDouble(hid_t obj, const std::string& name, const Where& where);
std::optional<std::string> ReadAttrString(hid_t obj, const std::string& name, const Where& where);
std::optional<std::vector<int64_t>> ReadAttrInt64Array(hid_t obj, const std::string& name,
                                                       const Where& where);

// How to lay out a new dataset.
struct Layout {
  std::vector<hsize_t> chunk;  // chunk dims (same rank as the data); required
  int deflate_level = 0;       // 0: no compression
  bool fletcher32 = true;      // checksum every chunk
};

// Writes a new dataset `name` of element type `file_type` (e.g.
// H5T_STD_U8LE) from `data` in memory type `mem_type`. Error(kIoError).
void WriteDataset(hid_t loc, const std::string& name, hid_t file_type, hid_t mem_type,
                  const std::vector<hsize_t>& dims, const void* data, const Layout& layout,
                  const Where& where);
// Writes an array of fixed-length byte strings (robomimic masks).
void WriteStringList(hid_t loc, const std::string& name, const std::vector<std::string>& values,
                     const Where& where);
std::vector<std::string> ReadStringList(hid_t loc, const std::string& name, const Where& where);

// The element class and dims of a dataset.
struct DatasetShape {
  H5T_class_t type_class = H5T_NO_CLASS;
  size_t type_size = 0;
  bool is_signed = false;
  std::vector<int64_t> dims;
};
DatasetShape GetShape(hid_t dataset, const Where& where);

// Reads rows [row_begin, row_begin + rows) of a dataset (first axis) into
// `out`, converting to float32 / uint8. Booleans stored as HDF5 enums
// (h5py's bool) read as 0/1. Error(kBadData) on a type that does not convert
// (strings, compounds) or a failed read (checksum mismatch, truncated file).
void ReadRowsFloat(hid_t dataset, int64_t row_begin, int64_t rows, float* out, const Where& where);
void ReadRowsU8(hid_t dataset, int64_t row_begin, int64_t rows, uint8_t* out, const Where& where);

// Reads rows of a dataset as an Array of `dtype` with shape [rows, dims[1:]...].
Array ReadRowsArray(hid_t dataset, DType dtype, int64_t row_begin, int64_t rows,
                    const Where& where);

// The DType an observation dataset maps to: uint8 for 1-byte unsigned
// integers, float32 for every other number. Error(kBadData) otherwise.
DType ObservationDType(const DatasetShape& shape, const Where& where);

}  // namespace perpetua::h5
