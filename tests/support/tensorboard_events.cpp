#include "support/tensorboard_events.h"

#include <doctest/doctest.h>

#include "support/test_support.h"

namespace perpetua::testing {

std::vector<nlohmann::json> ReadEventsWithPython(const std::vector<std::string>& files) {
  std::vector<std::string> argv = {"/usr/bin/python3", SourcePath("tests/tensorboard/read_events.py"),
                                   PERPETUA_PYTHON_PROTO_DIR};
  argv.insert(argv.end(), files.begin(), files.end());
  const ProcessResult r = RunProcess(argv);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  std::vector<nlohmann::json> lines;
  for (const std::string& line : Lines(r.out)) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

std::vector<std::string> EventFiles(const std::string& dir) {
  std::vector<std::string> files;
  for (const std::string& name : ListFiles(dir)) {
    if (name.rfind("events.out.tfevents.", 0) == 0) files.push_back(dir + "/" + name);
  }
  return files;
}

std::map<std::string, std::vector<EventValue>> ValuesByTag(const std::vector<std::string>& files,
                                                           bool allow_torn_end) {
  std::map<std::string, std::vector<EventValue>> by_tag;
  for (const nlohmann::json& record : ReadEventsWithPython(files)) {
    if (record.contains("stop")) {
      CHECK_MESSAGE(allow_torn_end, record.dump());
      continue;
    }
    if (!record.contains("values")) continue;
    for (const nlohmann::json& value : record["values"]) {
      by_tag[value["tag"].get<std::string>()].push_back(
          {record["file"].get<std::string>(), record["step"].get<int64_t>(), value});
    }
  }
  return by_tag;
}

}  // namespace perpetua::testing
