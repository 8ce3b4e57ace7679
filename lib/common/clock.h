// The wall clock, the one way every part reads it (episode and checkpoint
// times, protocol stamps, TensorBoard events, question ages).
#pragma once

namespace perpetua {

// Seconds since the Unix epoch, with sub-second precision (system clock: it
// may jump; for durations use a steady clock).
double UnixSeconds();

}  // namespace perpetua
