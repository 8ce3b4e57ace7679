#include "common/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <sstream>

#include "common/document.h"
#include "common/error.h"
#include "common/fs.h"

namespace perpetua {
namespace {

// An empty string or string list: an unset secret is shown as empty, not redacted.
bool IsEmptyValue(const FieldPtr& ptr) {
  if (const auto* text = std::get_if<std::string*>(&ptr)) return (*text)->empty();
  if (const auto* list = std::get_if<std::vector<std::string>*>(&ptr)) return (*list)->empty();
  return false;
}

std::string Join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? separator : "") + parts[i];
  return out;
}

std::vector<std::string> SplitComma(const std::string& text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) out.push_back(item);
  return out;
}

const char* TypeName(const FieldPtr& ptr) {
  struct V {
    const char* operator()(std::monostate) { return "group"; }
    const char* operator()(bool*) { return "a boolean"; }
    const char* operator()(int*) { return "an integer"; }
    const char* operator()(int64_t*) { return "an integer"; }
    const char* operator()(uint64_t*) { return "a non-negative integer"; }
    const char* operator()(float*) { return "a number"; }
    const char* operator()(double*) { return "a number"; }
    const char* operator()(std::string*) { return "a string"; }
    const char* operator()(std::vector<std::string>*) { return "a list of strings"; }
    const char* operator()(std::vector<int>*) { return "a list of integers"; }
    const char* operator()(std::vector<double>*) { return "a list of numbers"; }
  };
  return std::visit(V{}, ptr);
}

template <class T>
constexpr bool kIsList = std::is_same_v<T, std::vector<std::string>> ||
                         std::is_same_v<T, std::vector<int>> ||
                         std::is_same_v<T, std::vector<double>>;

// Assigns a YAML node to the field; throws YAML exceptions on type mismatch.
void AssignNode(const FieldPtr& ptr, const YAML::Node& node) {
  std::visit(
      [&](auto target) {
        if constexpr (std::is_same_v<decltype(target), std::monostate>) {
          PERPETUA_CHECK_MSG(false, "cannot assign a value to a config group");
        } else {
          using T = std::remove_pointer_t<decltype(target)>;
          if constexpr (std::is_same_v<T, std::string>) {
            *target = node.IsNull() ? std::string() : node.as<std::string>();
          } else if constexpr (std::is_same_v<T, uint64_t>) {
            // yaml-cpp wraps "-1" into a huge unsigned value; refuse it.
            if (!node.IsScalar() || node.Scalar().find('-') != std::string::npos)
              throw YAML::BadConversion(node.Mark());
            *target = node.as<uint64_t>();
          } else if constexpr (kIsList<T>) {
            if (node.IsNull()) {
              target->clear();
            } else {
              *target = node.as<T>();
            }
          } else {
            *target = node.as<T>();
          }
        }
      },
      ptr);
}

// The shortest decimal text that reads back as exactly `x` (3e-4, not
// 0.00029999999999999997), as a plain YAML scalar.
template <class T>
std::string ShortestText(T x) {
  char text[64];
  int digits = 1;
  for (; digits <= 17; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, static_cast<double>(x));
    if (static_cast<T>(std::strtod(text, nullptr)) == x) break;
  }
  // %g writes 10 as "1e+01" at one digit: below 1e15, give enough digits for
  // the plain form ("10", "1500"), which reads back the same.
  const double magnitude = std::fabs(static_cast<double>(x));
  if (std::strchr(text, 'e') != nullptr && magnitude >= 1.0 && magnitude < 1e15) {
    const int exponent = static_cast<int>(std::floor(std::log10(magnitude)));
    std::snprintf(text, sizeof text, "%.*g", std::max(digits, exponent + 1), static_cast<double>(x));
  }
  std::string s = text;
  if (s == "inf") return ".inf";
  if (s == "-inf") return "-.inf";
  if (s == "nan" || s == "-nan") return ".nan";
  return s;
}

YAML::Node FieldToNode(const FieldPtr& ptr) {
  return std::visit(
      [](auto target) -> YAML::Node {
        if constexpr (std::is_same_v<decltype(target), std::monostate>) {
          return YAML::Node(YAML::NodeType::Map);
        } else {
          using T = std::remove_pointer_t<decltype(target)>;
          YAML::Node node(*target);
          if constexpr (std::is_floating_point_v<T>) node = YAML::Node(ShortestText(*target));
          if constexpr (kIsList<T>) {
            if constexpr (std::is_floating_point_v<typename T::value_type>) {
              node = YAML::Node(YAML::NodeType::Sequence);
              for (const auto x : *target) node.push_back(ShortestText(x));
            }
            if (target->empty()) node = YAML::Node(YAML::NodeType::Sequence);
            node.SetStyle(YAML::EmitterStyle::Flow);
          }
          return node;
        }
      },
      ptr);
}

void WalkMapping(const YAML::Node& node, const std::string& prefix, const std::string& source,
                 const std::vector<FieldInfo>& fields, std::vector<std::string>& known_paths) {
  if (!node.IsMap()) {
    Fail(ExitCode::kUsage, source + ": " + (prefix.empty() ? "the document" : "'" + prefix + "'") +
                               " must be a mapping of keys to values");
  }
  for (const auto& item : node) {
    if (!item.first.IsScalar()) {
      Fail(ExitCode::kUsage, source + ": " + (prefix.empty() ? "the document" : "'" + prefix + "'") +
                                 " has a key that is not a plain name (line " +
                                 std::to_string(item.first.Mark().line + 1) + ")");
    }
    const std::string key = item.first.Scalar();
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    auto it = std::find_if(fields.begin(), fields.end(),
                           [&](const FieldInfo& f) { return f.path == path; });
    if (it == fields.end()) {
      std::string message = source + ": unknown key '" + path + "'";
      const std::string suggestion = SuggestClosest(path, known_paths);
      if (!suggestion.empty()) message += " (did you mean '" + suggestion + "'?)";
      Fail(ExitCode::kUsage, message);
    }
    if (std::holds_alternative<std::monostate>(it->ptr)) {
      WalkMapping(item.second, path, source, fields, known_paths);
      continue;
    }
    try {
      AssignNode(it->ptr, item.second);
    } catch (const YAML::Exception&) {
      Fail(ExitCode::kUsage,
           source + ": key '" + path + "' must be " + TypeName(it->ptr));
    }
  }
}

}  // namespace

void FieldCollector::OnField(const std::string& name, FieldPtr ptr, const std::string& help,
                             FieldKind kind, FieldScope scope) {
  std::vector<std::string> parts = prefix_;
  parts.push_back(name);
  fields.push_back(FieldInfo{Join(parts, "."), ptr, help, kind, scope});
}

void FieldCollector::OnBeginGroup(const std::string& name, const std::string& help) {
  prefix_.push_back(name);
  fields.push_back(FieldInfo{Join(prefix_, "."), std::monostate{}, help, FieldKind::kFlag});
}

void FieldCollector::OnEndGroup() { prefix_.pop_back(); }

void ApplyYaml(const std::string& yaml_text, const std::string& source,
               const std::vector<FieldInfo>& fields) {
  const YAML::Node root = ParseYaml(yaml_text, source, ExitCode::kUsage);
  if (root.IsNull()) return;  // an empty file changes nothing
  std::vector<std::string> known_paths;
  for (const auto& f : fields) known_paths.push_back(f.path);
  WalkMapping(root, "", source, fields, known_paths);
}

void ApplyYamlFile(const std::string& path, const std::vector<FieldInfo>& fields) {
  ApplyYaml(ReadFileOrFail(path, ExitCode::kUsage, kMaxConfigBytes), path, fields);
}

void SetFieldFromText(const FieldInfo& field, const std::string& text, const std::string& source) {
  try {
    if (auto* s = std::get_if<std::string*>(&field.ptr)) {
      **s = text;  // strings are taken verbatim, never YAML-parsed
    } else if (!text.empty() && text.front() == '[') {
      AssignNode(field.ptr, YAML::Load(text));  // a YAML flow list: [1, 2]
    } else if (auto* v = std::get_if<std::vector<std::string>*>(&field.ptr)) {
      **v = SplitComma(text);
    } else if (std::holds_alternative<std::vector<int>*>(field.ptr) ||
               std::holds_alternative<std::vector<double>*>(field.ptr)) {
      YAML::Node list(YAML::NodeType::Sequence);
      for (const auto& item : SplitComma(text)) list.push_back(YAML::Load(item));
      AssignNode(field.ptr, list);
    } else {
      AssignNode(field.ptr, YAML::Load(text));
    }
  } catch (const YAML::Exception&) {
    Fail(ExitCode::kUsage, source + ": '" + text + "' is not " + TypeName(field.ptr));
  }
}

std::string ShortestNumberText(double x) { return ShortestText(x); }

std::string FixedText(double x, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, x);
  return buffer;
}

// One line per field, its help as a comment at the end of that line, two
// spaces of indent per group level: `key: value  # help`, `group:  # help`.
// Values are emitted by yaml-cpp in flow style (quoted where YAML needs it,
// lists as [a, b]), so the text loads back to the same values.
std::string DumpYaml(const std::vector<FieldInfo>& fields) {
  std::string out;
  std::vector<std::string> open;  // currently open group paths
  for (const auto& f : fields) {
    while (!open.empty() && f.path.rfind(open.back() + ".", 0) != 0) open.pop_back();
    const size_t dot = f.path.rfind('.');
    const std::string key = f.path.substr(dot == std::string::npos ? 0 : dot + 1);
    std::string line = std::string(2 * open.size(), ' ') + key + ":";
    if (std::holds_alternative<std::monostate>(f.ptr)) {
      open.push_back(f.path);
    } else if (f.scope == FieldScope::kSecret && !IsEmptyValue(f.ptr)) {
      line += " <redacted>";  // secrets never reach printed or saved configs
    } else {
      YAML::Emitter value;
      value << YAML::Flow << FieldToNode(f.ptr);
      line += std::string(" ") + value.c_str();
    }
    if (!f.help.empty()) line += "  # " + f.help;
    out += line + "\n";
  }
  return out;
}

const char* FieldTypeLabel(const FieldPtr& ptr) {
  struct V {
    const char* operator()(std::monostate) { return ""; }
    const char* operator()(bool*) { return "BOOL"; }
    const char* operator()(int*) { return "INT"; }
    const char* operator()(int64_t*) { return "INT"; }
    const char* operator()(uint64_t*) { return "UINT"; }
    const char* operator()(float*) { return "NUM"; }
    const char* operator()(double*) { return "NUM"; }
    const char* operator()(std::string*) { return "TEXT"; }
    const char* operator()(std::vector<std::string>*) { return "TEXT ..."; }
    const char* operator()(std::vector<int>*) { return "INT,..."; }
    const char* operator()(std::vector<double>*) { return "NUM,..."; }
  };
  return std::visit(V{}, ptr);
}

std::string SuggestClosest(const std::string& word, const std::vector<std::string>& candidates) {
  auto distance = [](const std::string& a, const std::string& b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      size_t diagonal = row[0];
      row[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        const size_t up = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
        diagonal = up;
      }
    }
    return row[b.size()];
  };
  std::string best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& candidate : candidates) {
    const size_t d = distance(word, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

}  // namespace perpetua
