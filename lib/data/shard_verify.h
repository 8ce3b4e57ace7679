// Full verification of one Perpetua file (a shard or a staged episode):
// what recovery checks before it publishes anything, and before it trusts an
// existing shard enough to delete the staged copies of its episodes.
//
// A file verifies when
//  * it is a regular file (not a symlink, FIFO or directory);
//  * it opens as a Perpetua shard (DatasetReader: schema version, layout,
//    per-episode shapes and num_samples consistent, one schema throughout,
//    equal to `expected` when given);
//  * every episode reads back completely and passes ValidateEpisode (the
//    check DatasetWriter::Add applied when it was written);
//  * every dataset and every attribute of every object in the file reads
//    back in full (in bounded slabs), so that the fletcher32 checksum and
//    the deflate stream of every chunk are checked, including arrays no
//    reader uses (next_obs, masks): H5Ocopy copies chunks without checking
//    them, so a bit-rotted chunk would otherwise be published as is;
//  * it has only fixed-size number, enum and fixed-length string types (no
//    variable-length data, whose heap HDF5 1.10 does not protect).
#pragma once

#include <string>

#include "data/episode_io.h"

namespace perpetua {

// Verifies `path` as described above and returns its schema. Throws
// Error(kBadData, "<path>: <first problem>") if it does not verify, including
// when it is too large to read into memory. Never crashes on a corrupt file
// (HDF5's metadata checksums, fixed-length strings).
Schema VerifyPerpetuaFile(const std::string& path, const Schema* expected = nullptr);

}  // namespace perpetua
