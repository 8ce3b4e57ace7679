// TensorBoard event files as the tests see them: read back by the independent
// Python reader (tests/tensorboard/read_events.py, Debian's python3-protobuf).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace perpetua::testing {

// read_events.py's output for `files`, one JSON object per record (see the
// script: "file", "wall_time", "step", then "file_version" or "values"), or
// one {"file", "stop", "at"} where a file ends inside a record.
std::vector<nlohmann::json> ReadEventsWithPython(const std::vector<std::string>& files);

// Full paths of the event files (events.out.tfevents.*) in `dir`, in name
// order (TensorBoard's reading order).
std::vector<std::string> EventFiles(const std::string& dir);

// One summary value of one record: its file, step and read_events.py's
// description ({"tag", then "scalar" | "image" | "text"}).
struct EventValue {
  std::string file;
  int64_t step = 0;
  nlohmann::json value;
};

// Every summary value of `files` (records that stop a file are checked to be
// absent unless `allow_torn_end`), grouped by tag in file and record order.
std::map<std::string, std::vector<EventValue>> ValuesByTag(const std::vector<std::string>& files,
                                                           bool allow_torn_end = false);

}  // namespace perpetua::testing
