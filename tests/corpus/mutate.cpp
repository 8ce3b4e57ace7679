#include "corpus/mutate.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>


namespace perpetua::corpus {
namespace {

[[noreturn]] void Broken(const std::string& what) { throw std::runtime_error("corpus: " + what); }

// Owned hid_t closed by the matching H5*close.
struct Id {
  hid_t id;
  explicit Id(hid_t i) : id(i) {}
  ~Id() {
    if (id < 0) return;
    switch (H5Iget_type(id)) {
      case H5I_FILE: H5Fclose(id); break;
      case H5I_GROUP: H5Gclose(id); break;
      case H5I_DATASET: H5Dclose(id); break;
      case H5I_DATASPACE: H5Sclose(id); break;
      case H5I_DATATYPE: H5Tclose(id); break;
      case H5I_ATTR: H5Aclose(id); break;
      case H5I_GENPROP_LST: H5Pclose(id); break;
      default: break;
    }
  }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
};

void PutAttr(hid_t file, const std::string& object, const std::string& name, hid_t type,
             const std::vector<hsize_t>& dims, const void* data) {
  Id obj(H5Oopen(file, object.c_str(), H5P_DEFAULT));
  if (obj.id < 0) Broken("no object " + object);
  if (H5Aexists(obj.id, name.c_str()) > 0) H5Adelete(obj.id, name.c_str());
  Id space(dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  Id attr(H5Acreate2(obj.id, name.c_str(), type, space.id, H5P_DEFAULT, H5P_DEFAULT));
  if (attr.id < 0 || H5Awrite(attr.id, type, data) < 0) Broken("cannot write attribute " + object + "@" + name);
}

herr_t CollectDataset(hid_t group, const char* name, const H5L_info_t* info, void* data) {
  if (info->type != H5L_TYPE_HARD) return 0;
  H5O_info_t object{};
  if (H5Oget_info_by_name2(group, name, &object, H5O_INFO_BASIC, H5P_DEFAULT) >= 0 &&
      object.type == H5O_TYPE_DATASET) {
    static_cast<std::vector<std::string>*>(data)->push_back(name);
  }
  return 0;
}

}  // namespace

void FlipBytes(const std::string& path, uint64_t offset, int count) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  if (!f) Broken("cannot open " + path);
  for (int i = 0; i < count; ++i) {
    f.seekg(static_cast<std::streamoff>(offset + i));
    char c = 0;
    if (!f.read(&c, 1)) return;  // past the end: nothing more to flip
    f.seekp(static_cast<std::streamoff>(offset + i));
    c = static_cast<char>(c ^ 0x5a);
    f.write(&c, 1);
  }
}

void TruncateFile(const std::string& path, uint64_t size) {
  if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) Broken("cannot truncate " + path);
}

void CopyFile(const std::string& from, const std::string& to) {
  std::error_code ec;
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing, ec);
  if (ec) Broken("cannot copy " + from + " to " + to + ": " + ec.message());
}

void EditHdf5(const std::string& path, const std::function<void(hid_t)>& edit) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  Id fapl(H5Pcreate(H5P_FILE_ACCESS));
  H5Pset_file_locking(fapl.id, false, true);
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl.id);
  if (file < 0) Broken("cannot open " + path + " for editing");
  try {
    edit(file);
  } catch (...) {
    H5Fclose(file);
    throw;
  }
  if (H5Fclose(file) < 0) Broken("cannot close " + path);
}

void DeleteLink(hid_t file, const std::string& path) {
  if (H5Lexists(file, path.c_str(), H5P_DEFAULT) > 0) H5Ldelete(file, path.c_str(), H5P_DEFAULT);
  H5Eclear2(H5E_DEFAULT);
}

void PutDataset(hid_t file, const std::string& path, hid_t type, const std::vector<hsize_t>& dims,
                const void* data, bool chunked) {
  DeleteLink(file, path);
  Id space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  Id dcpl(H5Pcreate(H5P_DATASET_CREATE));
  if (chunked) {
    std::vector<hsize_t> chunk = dims;
    chunk[0] = 1;
    for (auto& c : chunk) c = std::max<hsize_t>(1, std::min<hsize_t>(c, 1 << 16));
    H5Pset_chunk(dcpl.id, static_cast<int>(chunk.size()), chunk.data());
  }
  Id lcpl(H5Pcreate(H5P_LINK_CREATE));
  H5Pset_create_intermediate_group(lcpl.id, 1);
  Id dataset(H5Dcreate2(file, path.c_str(), type, space.id, lcpl.id, dcpl.id, H5P_DEFAULT));
  if (dataset.id < 0) Broken("cannot create dataset " + path);
  if (data != nullptr && H5Dwrite(dataset.id, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
    Broken("cannot write dataset " + path);
  }
}

void PutAttrInt(hid_t file, const std::string& object, const std::string& name, int64_t value) {
  PutAttr(file, object, name, H5T_NATIVE_INT64, {}, &value);
}
void PutAttrDouble(hid_t file, const std::string& object, const std::string& name, double value) {
  PutAttr(file, object, name, H5T_NATIVE_DOUBLE, {}, &value);
}
void PutAttrIntArray(hid_t file, const std::string& object, const std::string& name,
                     const std::vector<int64_t>& values) {
  PutAttr(file, object, name, H5T_NATIVE_INT64, {values.size()}, values.data());
}
void PutAttrString(hid_t file, const std::string& object, const std::string& name, const std::string& value) {
  Id type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type.id, std::max<size_t>(1, value.size()));
  H5Tset_strpad(type.id, H5T_STR_NULLPAD);
  std::string buffer = value.empty() ? std::string(1, '\0') : value;
  PutAttr(file, object, name, type.id, {}, buffer.data());
}

void DeleteAttr(hid_t file, const std::string& object, const std::string& name) {
  Id obj(H5Oopen(file, object.c_str(), H5P_DEFAULT));
  if (obj.id >= 0 && H5Aexists(obj.id, name.c_str()) > 0) H5Adelete(obj.id, name.c_str());
  H5Eclear2(H5E_DEFAULT);
}

std::vector<std::string> ListDatasets(hid_t file, const std::string& group) {
  std::vector<std::string> names;
  Id g(H5Gopen2(file, group.c_str(), H5P_DEFAULT));
  if (g.id < 0) Broken("no group " + group);
  H5Lvisit(g.id, H5_INDEX_NAME, H5_ITER_INC, CollectDataset, &names);
  for (auto& n : names) n = group + "/" + n;
  return names;
}

void ClaimSteps(hid_t file, const std::string& demo, int64_t steps) {
  int64_t old_steps = 0;
  for (const std::string& path : ListDatasets(file, demo)) {
    if (path.find("/final_obs/") != std::string::npos) continue;
    Id dataset(H5Dopen2(file, path.c_str(), H5P_DEFAULT));
    Id type(H5Dget_type(dataset.id));
    Id space(H5Dget_space(dataset.id));
    std::vector<hsize_t> dims(static_cast<size_t>(H5Sget_simple_extent_ndims(space.id)));
    H5Sget_simple_extent_dims(space.id, dims.data(), nullptr);
    old_steps = static_cast<int64_t>(dims.at(0));
    dims[0] = static_cast<hsize_t>(steps);
    Id copy(H5Tcopy(type.id));
    PutDataset(file, path, copy.id, dims, nullptr, /*chunked=*/true);
  }
  PutAttrInt(file, demo, "num_samples", steps);
  Id data(H5Gopen2(file, "data", H5P_DEFAULT));
  int64_t total = 0;
  Id attr(H5Aopen(data.id, "total", H5P_DEFAULT));
  H5Aread(attr.id, H5T_NATIVE_INT64, &total);
  PutAttrInt(file, "data", "total", total - old_steps + steps);
}

void PoisonFloat(hid_t file, const std::string& path, float value) {
  Id dataset(H5Dopen2(file, path.c_str(), H5P_DEFAULT));
  if (dataset.id < 0) Broken("no dataset " + path);
  Id space(H5Dget_space(dataset.id));
  const int rank = H5Sget_simple_extent_ndims(space.id);
  std::vector<hsize_t> start(static_cast<size_t>(rank), 0), count(static_cast<size_t>(rank), 1);
  H5Sselect_hyperslab(space.id, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
  const hsize_t one = 1;
  Id memory(H5Screate_simple(1, &one, nullptr));
  if (H5Dwrite(dataset.id, H5T_NATIVE_FLOAT, memory.id, space.id, H5P_DEFAULT, &value) < 0) {
    Broken("cannot poison " + path);
  }
}

std::string DeepJson(int depth) {
  return std::string(static_cast<size_t>(depth), '[') + "1" + std::string(static_cast<size_t>(depth), ']');
}

}  // namespace perpetua::corpus
