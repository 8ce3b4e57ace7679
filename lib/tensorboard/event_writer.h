// Writes TensorBoard event files: scalars, images and text that
// `tensorboard --logdir DIR` shows for every run directory under DIR.
//
// Layout and naming (what TensorBoard discovers): one directory per run; in
// it, one file per writer named
//
//   events.out.tfevents.<unix seconds, 10 digits>.<host>.<pid>
//
// (TensorFlow's name, with the pid appended so that a run restarted within
// the same second on the same host starts a new file; a second writer of one
// process on one directory within a second adds ".1", ".2", ...).
// TensorBoard reads every such file of a run directory in name order; a
// resumed run therefore simply adds a file.
//
// The file is a sequence of TFRecords (record_io.h), each one serialized
// Event (tensorboard.proto, encoded by protobuf); the first is the
// file_version event "brain.Event:2", written and flushed at construction.
// Later events are buffered in memory and appended with write(2) by Flush(),
// which runs by itself from an Add* call once `flush_seconds` have passed
// since the last flush or `flush_bytes` are buffered, and on destruction.
// A SIGKILL loses at most the records buffered since the last flush and can
// leave at most one torn record at the end, which readers skip (every
// earlier record is complete). No fsync: a power loss may lose more.
//
// Thread-safe (one mutex). Failures throw Error(kIoError) naming the file;
// after one, every later call throws again (the file may end in a torn record).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/array.h"
#include "common/clock.h"  // UnixSeconds: an event's wall time

namespace perpetua::tensorboard {

struct EventWriterOptions {
  double flush_seconds = 10.0;      // buffered records are written at least this often (s)
  size_t flush_bytes = size_t{1} << 20;  // ...or as soon as this many bytes are buffered
};

class EventWriter {
 public:
  // Creates `run_dir` (with parents) if missing and a new event file in it,
  // and writes the file_version record. Error(kIoError) "<path>: ..." if the
  // directory or file cannot be created.
  explicit EventWriter(const std::string& run_dir, EventWriterOptions options = {});
  // Flushes; a failure there is logged as a warning (destructors do not throw).
  ~EventWriter();
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  // Path of the event file.
  const std::string& path() const;

  // A scalar (TensorBoard's "Scalars" tab), stored as float32 like TensorBoard's.
  void AddScalar(const std::string& tag, int64_t step, double value,
                 double wall_time = UnixSeconds());
  // An image ("Images" tab): `image` is [H, W, 3] uint8 RGB, stored as PNG.
  // Error(kUsage) on another shape or dtype.
  void AddImage(const std::string& tag, int64_t step, const Array& image,
                double wall_time = UnixSeconds());
  // Markdown text ("Text" tab): the text plugin's summary, a scalar string
  // tensor. Put YAML in a ``` block to keep its layout.
  void AddText(const std::string& tag, int64_t step, const std::string& text,
               double wall_time = UnixSeconds());

  // Appends every buffered record to the file now.
  void Flush();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace perpetua::tensorboard
