// Episode videos (mp4 through OpenCV's FFmpeg backend): H.264 ("avc1") when
// the backend has an encoder for it, MPEG-4 part 2 ("mp4v") otherwise.
#pragma once

#include <string>
#include <vector>

#include "common/array.h"
#include "env/env.h"

namespace perpetua {

// One video frame from the policy's view and, if given, a larger view: the
// policy view is scaled (nearest neighbour, integer factor) to the larger
// view's height and the two are placed side by side, policy view on the
// left. Without a larger view the policy view alone is scaled up by the
// smallest integer factor that gives at least `min_height` rows. Both inputs are [H, W, 3] uint8 RGB (checked: Error(kUsage)
// otherwise). Returns [H', W', 3] uint8 with even H' and W' (padded).
Array ComposeVideoFrame(const Array& policy_view, const Array* larger_view, int min_height = 256);

// Writes `frames` ([H, W, 3] uint8 RGB, all of one shape, at least one) as an
// mp4 at `fps` frames per second. Atomic: a temporary file beside `path`
// renamed over it once complete, so a reader never sees a partial video.
// Throws Error(kIoError) if the file cannot be written or no encoder opens,
// Error(kUsage) for frames of mixed or wrong shapes.
void WriteVideo(const std::string& path, const std::vector<Array>& frames, double fps);

// The observation videos are made of: the first [H, W, 3] uint8 key of
// `spec`, or "" if the cell has none.
std::string RgbObservationKey(const EnvSpec& spec);

// Splits a stacked [T, H, W, 3] uint8 array into T frames.
std::vector<Array> UnstackFrames(const Array& stacked);

// Number of frames OpenCV decodes from the video at `path` (-1 if it cannot open it).
int CountVideoFrames(const std::string& path);

}  // namespace perpetua
