// Deterministic ways to damage valid inputs, shared by the corrupt-input
// corpus (corpus.h) and the unit tests that pin single defects. Every
// primitive throws std::runtime_error naming the path if it cannot apply
// itself (a corpus generator bug, not an input defect).
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace perpetua::corpus {

// ---- bytes ----
// XORs `count` bytes at `offset` with 0x5a.
void FlipBytes(const std::string& path, uint64_t offset, int count);
// Truncates the file to `size` bytes.
void TruncateFile(const std::string& path, uint64_t size);
void CopyFile(const std::string& from, const std::string& to);

// ---- HDF5 structure ----
// Opens `path` read-write, runs `edit`, closes (with HDF5's file locking off).
void EditHdf5(const std::string& path, const std::function<void(hid_t file)>& edit);
// Deletes the link at `path` (no-op if missing).
void DeleteLink(hid_t file, const std::string& path);
// Replaces (or creates) dataset `path` of `type` and `dims`; writes `data`
// when not null. Chunked (one row per chunk) when `chunked`, which lets dims
// claim far more than is stored.
void PutDataset(hid_t file, const std::string& path, hid_t type, const std::vector<hsize_t>& dims,
                const void* data, bool chunked = false);
// Replaces (or creates) a scalar attribute.
void PutAttrInt(hid_t file, const std::string& object, const std::string& name, int64_t value);
void PutAttrDouble(hid_t file, const std::string& object, const std::string& name, double value);
void PutAttrString(hid_t file, const std::string& object, const std::string& name, const std::string& value);
void PutAttrIntArray(hid_t file, const std::string& object, const std::string& name, const std::vector<int64_t>& values);
void DeleteAttr(hid_t file, const std::string& object, const std::string& name);
// Makes every per-step dataset of `demo` ("data/demo_0") claim `steps` rows
// (chunked, nothing stored) with num_samples and data.total agreeing: a
// consistent-looking episode far larger than the file.
void ClaimSteps(hid_t file, const std::string& demo, int64_t steps);
// Overwrites element 0 of a float dataset with `value` (NaN, Inf, ...).
void PoisonFloat(hid_t file, const std::string& path, float value);
// Paths of the datasets under `group`, recursively ("data/demo_0/obs/image", ...).
std::vector<std::string> ListDatasets(hid_t file, const std::string& group);

// ---- text ----
// `depth` nested JSON arrays around 1 (built without recursion).
std::string DeepJson(int depth);

}  // namespace perpetua::corpus
