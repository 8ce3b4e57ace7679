// Episodes to and from HDF5 groups, for every layout Perpetua reads.
//
// Writing: WriteEpisodeGroup() lays out one episode as data/demo_<i> in the
// format of shard_format.h. Reading: an EpisodeRef says where one episode's
// arrays live in a file (Perpetua shards, robomimic, D4RL and Minari files
// all reduce to it), and ReadEpisode()/ReadObservationRow() read through it.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/array.h"
#include "data/episode.h"
#include "data/hdf5_io.h"

namespace perpetua {

// Dtype and per-step shape of one observation key.
struct KeySpec {
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;  // per step: {H, W, 3}, {k}
  bool operator==(const KeySpec& o) const { return dtype == o.dtype && shape == o.shape; }
  bool operator!=(const KeySpec& o) const { return !(*this == o); }
};

// What every episode of a dataset must share.
struct Schema {
  std::map<std::string, KeySpec> observations;  // key -> spec
  int64_t action_dim = 0;                       // A
  bool operator==(const Schema& o) const {
    return observations == o.observations && action_dim == o.action_dim;
  }
  bool operator!=(const Schema& o) const { return !(*this == o); }
  // "image uint8 [64, 64, 3], proprio float32 [7]; actions [4]"
  std::string Describe() const;
  // The first difference from `other` in words ("" if equal).
  std::string DifferenceFrom(const Schema& other) const;
};

// The schema of an in-memory episode (assumes it passed ValidateEpisode).
Schema SchemaOf(const Episode& episode);

// Checks the episode's internal consistency (see DatasetWriter::Add for the
// list) and, if `expected` is given, that it matches it. Throws
// Error(kBadData, "<context>: <what is wrong>").
void ValidateEpisode(const Episode& episode, const Schema* expected, const std::string& context);

// Options of WriteEpisodeGroup.
struct EpisodeWriteOptions {
  int compression_level = 1;    // deflate level for images and observations >= 1 KiB/step
  bool store_next_obs = false;  // also write next_obs/<key>
};

// Writes `episode` as group `name` (e.g. "demo_0") under `data_group`.
// Error(kIoError) on failure.
void WriteEpisodeGroup(hid_t data_group, const std::string& name, const Episode& episode,
                       const EpisodeWriteOptions& options, const h5::Where& where);

// Where one episode's arrays live in a file. Rows are on the first axis;
// step t of the episode is row row_begin + t of each per-step dataset.
struct EpisodeRef {
  std::string file;                  // path of the HDF5 file
  std::string format;                // "perpetua", "robomimic", "d4rl", "minari"
  std::string name;                  // "data/demo_3", "episode_7", "d4rl[120:240]"
  std::string metadata_group;        // group holding metadata attributes ("" if none)
  int64_t num_steps = 0;             // N
  int64_t row_begin = 0;             // first row of this episode in the per-step datasets
  std::string actions;               // dataset path, rows [row_begin, row_begin + N)
  std::string rewards;               // dataset path
  std::string terminated;            // dataset path
  std::string truncated;             // dataset path, "" when the source has none (all 0)
  std::map<std::string, std::string> obs;  // key -> dataset with the N observations
  std::map<std::string, std::string> final_obs;  // key -> dataset holding the (N+1)-th
  int64_t final_row = 0;             // absolute row of the final observation there
};

// Reads the whole episode (observations [N+1, ...], actions, rewards, flags,
// metadata). `file` is the open file of ref.file. Error(kBadData) naming the
// file and object on any read failure (checksum mismatch, wrong shape/dtype).
Episode ReadEpisode(hid_t file, const EpisodeRef& ref);

// Reads the observation of step `step` (0..N) of `key` as an Array of
// `spec` (shape [1, ...spec.shape]). Error(kBadData) as above.
Array ReadObservationRow(hid_t file, const EpisodeRef& ref, const std::string& key,
                         const KeySpec& spec, int64_t step);

// Reads the observations of steps `step` and `step` + 1 (0 <= step < N) of
// `key` into `now` and `next` (each spec-sized): one read of two rows when
// both are in the same dataset. Error(kBadData) as above.
void ReadObservationPair(hid_t file, const EpisodeRef& ref, const std::string& key,
                         const KeySpec& spec, int64_t step, void* now, void* next);

// Reads the per-step scalars of an episode: actions [N, A], rewards, terminated.
struct StepColumns {
  std::vector<float> actions;        // N * A
  std::vector<float> rewards;        // N
  std::vector<uint8_t> terminated;   // N
  std::vector<uint8_t> truncated;    // N
};
StepColumns ReadStepColumns(hid_t file, const EpisodeRef& ref, int64_t action_dim);

// The schema of a referenced episode, from the dataset headers only (no data read).
Schema SchemaOfRef(hid_t file, const EpisodeRef& ref);

}  // namespace perpetua
