// The bounded JSON/YAML reader: limits on depth and size, one clear line.
#include "common/document.h"

#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <string>

#include "common/error.h"

namespace perpetua {
namespace {

std::string Nested(int depth, const std::string& open, const std::string& close,
                   const std::string& inner = "1") {
  std::string text;
  for (int i = 0; i < depth; ++i) text += open;
  text += inner;
  for (int i = 0; i < depth; ++i) text += close;
  return text;
}

std::string JsonError(const std::string& text) {
  try {
    ParseJson(text, "f.json", ExitCode::kBadData);
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::kBadData);
    return e.what();
  }
  return "";
}

std::string YamlError(const std::string& text) {
  try {
    ParseYaml(text, "f.yaml", ExitCode::kUsage);
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::kUsage);
    return e.what();
  }
  return "";
}

TEST_CASE("json within the limits parses and strings with brackets do not count as depth") {
  CHECK(ParseJson(Nested(kMaxDocumentDepth, "[", "]"), "f.json", ExitCode::kBadData).is_array());
  const nlohmann::json text = ParseJson(R"({"a": ")" + std::string(1000, '[') + R"(\" {"})",
                                        "f.json", ExitCode::kBadData);
  CHECK(text["a"].get<std::string>().size() == 1003);
  CHECK(TryParseJson("{\"id\": 1}")->at("id") == 1);
}

TEST_CASE("json nested too deep is refused without recursion at any depth") {
  const std::string message = "f.json: JSON nested deeper than 64 levels";
  CHECK(JsonError(Nested(kMaxDocumentDepth + 1, "[", "]")) == message);
  CHECK(JsonError(Nested(100000, "{\"a\":", "}")) == message);
  CHECK(JsonError(std::string(1000000, '[')) == message);  // unbalanced too
  CHECK_FALSE(TryParseJson(Nested(50000, "[", "]")).has_value());
}

TEST_CASE("json that is not json or too large is refused") {
  CHECK(JsonError("{\"a\": ") == "f.json: not valid JSON");
  CHECK(JsonError("") == "f.json: not valid JSON");
  const std::string huge(kMaxJsonBytes + 1, ' ');
  CHECK(JsonError(huge) == "f.json: " + std::to_string(huge.size()) +
                               " bytes of JSON, more than the limit of " + std::to_string(kMaxJsonBytes));
  CHECK_FALSE(TryParseJson("nope").has_value());
}

TEST_CASE("yaml nested too deep is refused in flow and block style") {
  const std::string message = "f.yaml: YAML nested deeper than 64 levels";
  CHECK(YamlError(Nested(kMaxDocumentDepth + 1, "[", "]")) == message);
  CHECK(YamlError("a: " + Nested(100000, "{b: ", "}")) == message);
  std::string block;
  for (int i = 0; i < 200; ++i) block += std::string(static_cast<size_t>(i), ' ') + "k:\n";
  CHECK(YamlError(block) == message);
  std::string compact;  // "- - - 1": block sequences nested on one line
  for (int i = 0; i < 100000; ++i) compact += "- ";
  CHECK(YamlError(compact + "1").rfind("f.yaml: ", 0) == 0);
  CHECK(ParseYaml(Nested(kMaxDocumentDepth, "[", "]"), "f.yaml", ExitCode::kUsage).IsSequence());
}

TEST_CASE("yaml aliases that expand exponentially are refused at once") {
  std::string laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n";
  for (char level = 'b'; level <= 'j'; ++level) {
    laughs += std::string(1, level) + ": &" + level + " [";
    for (int j = 0; j < 9; ++j) laughs += std::string(j ? ", *" : "*") + static_cast<char>(level - 1);
    laughs += "]\n";
  }
  CHECK(YamlError(laughs) == "f.yaml: YAML aliases expand to more nodes than the document has bytes");
  CHECK(ParseYaml("a: &a [1, 2]\nb: *a\n", "f.yaml", ExitCode::kUsage).IsMap());  // a few aliases are fine
}

TEST_CASE("yaml too large or malformed is refused") {
  CHECK(YamlError(std::string(kMaxConfigBytes + 1, '#')) ==
        "f.yaml: " + std::to_string(kMaxConfigBytes + 1) + " bytes of YAML, more than the limit of " +
            std::to_string(kMaxConfigBytes));
  CHECK(YamlError("a: [1, 2\n").rfind("f.yaml: not valid YAML (line ", 0) == 0);
}

}  // namespace
}  // namespace perpetua
