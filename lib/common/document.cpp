#include "common/document.h"

#include <yaml-cpp/yaml.h>

#include <utility>
#include <vector>

namespace perpetua {
namespace {

// Empty when `text` is within the limits, else what is wrong.
std::string JsonLimitProblem(std::string_view text) {
  if (text.size() > kMaxJsonBytes) {
    return std::to_string(text.size()) + " bytes of JSON, more than the limit of " +
           std::to_string(kMaxJsonBytes);
  }
  if (JsonDepth(text, kMaxDocumentDepth) > kMaxDocumentDepth) {
    return "JSON nested deeper than " + std::to_string(kMaxDocumentDepth) + " levels";
  }
  return "";
}

// The deepest nesting of a YAML node tree, without recursion; stops past
// `limit`, or when the walk has visited `max_nodes` nodes: aliases share
// nodes, and nine levels of nine aliases ("billion laughs") expand to 9^9.
int YamlDepth(const YAML::Node& root, int limit, size_t max_nodes, bool* too_many) {
  std::vector<std::pair<YAML::Node, int>> stack{{root, 1}};
  int deepest = 0;
  size_t visited = 0;
  while (!stack.empty()) {
    if (++visited > max_nodes) {
      *too_many = true;
      return deepest;
    }
    auto [node, depth] = std::move(stack.back());
    stack.pop_back();
    if (!node.IsSequence() && !node.IsMap()) continue;
    deepest = std::max(deepest, depth);
    if (deepest > limit) return deepest;
    for (const auto& item : node) {
      if (node.IsMap()) {
        stack.emplace_back(item.first, depth + 1);
        stack.emplace_back(item.second, depth + 1);
      } else {
        stack.emplace_back(item, depth + 1);
      }
    }
  }
  return deepest;
}

}  // namespace

int JsonDepth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}


nlohmann::json ParseJson(std::string_view text, const std::string& source, ExitCode code) {
  const std::string problem = JsonLimitProblem(text);
  if (!problem.empty()) Fail(code, source + ": " + problem);
  nlohmann::json parsed = nlohmann::json::parse(text.begin(), text.end(), nullptr,
                                                /*allow_exceptions=*/false);
  if (parsed.is_discarded()) Fail(code, source + ": not valid JSON");
  return parsed;
}

std::optional<nlohmann::json> TryParseJson(std::string_view text) {
  if (!JsonLimitProblem(text).empty()) return std::nullopt;
  nlohmann::json parsed = nlohmann::json::parse(text.begin(), text.end(), nullptr,
                                                /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return std::nullopt;
  return parsed;
}

YAML::Node ParseYaml(std::string_view text, const std::string& source, ExitCode code) {
  if (text.size() > kMaxConfigBytes) {
    Fail(code, source + ": " + std::to_string(text.size()) +
                   " bytes of YAML, more than the limit of " + std::to_string(kMaxConfigBytes));
  }
  // Flow collections ([ and {) are counted before yaml-cpp's recursive parser sees them.
  if (JsonDepth(text, kMaxDocumentDepth) > kMaxDocumentDepth) {
    Fail(code, source + ": YAML nested deeper than " + std::to_string(kMaxDocumentDepth) + " levels");
  }
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    Fail(code, source + ": not valid YAML (line " + std::to_string(e.mark.line + 1) + "): " + e.msg);
  }
  // Without aliases a document has fewer nodes than bytes; every consumer
  // expands aliases, so the expanded tree is what must stay small.
  bool too_many = false;
  const int depth = YamlDepth(root, kMaxDocumentDepth, 2 * text.size() + 64, &too_many);
  if (too_many) Fail(code, source + ": YAML aliases expand to more nodes than the document has bytes");
  if (depth > kMaxDocumentDepth) {
    Fail(code, source + ": YAML nested deeper than " + std::to_string(kMaxDocumentDepth) + " levels");
  }
  return root;
}

}  // namespace perpetua
