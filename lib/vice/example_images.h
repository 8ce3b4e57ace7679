// Example images of success: VICE's positives, and how a user makes them.
//
// On a real robot the user photographs the goal a few dozen times and puts
// the files in a folder. In simulation the same folder comes from data: the
// last frame of each successful episode (e.g. of the scripted policy),
// exported with `rl-label export`. A folder of shards is also accepted as it
// is (its successful episodes' last frames are the examples).
// Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/array.h"

namespace perpetua {

struct ExampleImages {
  Array images;                    // [N,H,W,3] uint8 RGB
  std::vector<std::string> names;  // where each came from: the file, or "<shard>#<episode>"
  int64_t size() const { return static_cast<int64_t>(names.size()); }
};

// One PNG or JPEG file as [H,W,3] uint8 RGB (a grey image gets three equal
// channels). Error(kBadData) "<path>: not a readable PNG or JPEG image" for a
// corrupt, truncated or empty file; "<path>: <reason>" for one that cannot
// be read (missing, a directory, a FIFO, over 64 MiB).
Array ReadImageFile(const std::string& path);

// True for names ending in .png, .jpg or .jpeg (any case).
bool IsImageFileName(const std::string& name);

// The examples in `dir`: every PNG/JPEG file in it, sorted by name; when it
// holds none, the last frame of observation `image_key` of every successful
// episode of its shards (SuccessFrames). Every image must be height x width.
// Error(kBadData), one line: a missing or unreadable folder, a folder with
// neither images nor successful episodes, a corrupt image, or an image of
// another size ("<file>: the image is 32x32, the data's images are 64x64").
ExampleImages LoadExamples(const std::string& dir, const std::string& image_key, int64_t height, int64_t width);

// The last frame of observation `image_key` of the first `count` successful
// episodes (metadata success) of the datasets `data` (folders or files, in
// the order DatasetReader lists their episodes); count <= 0: all of them.
// `image_key` "" picks the data's one image observation. Error(kBadData) for
// unreadable data, a missing or non-image key, or several image keys and
// none chosen.
ExampleImages SuccessFrames(const std::vector<std::string>& data, const std::string& image_key, int64_t count);

// Writes each image as `dir`/example-0000.png, example-0001.png, ...
// (atomically each; creates `dir`). Error(kIoError).
void WriteExampleImages(const ExampleImages& examples, const std::string& dir);

// Row i of a stacked [N, ...] uint8 array, as its own [...] array.
Array ImageRow(const Array& stacked, int64_t i);

}  // namespace perpetua
