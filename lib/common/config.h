// Configuration: plain structs with in-class defaults, visited by one function.
//
// A config struct declares its fields once, in a member
//     void Visit(ConfigVisitor& v) {
//       v.Field("episodes", episodes, "episodes to collect");
//       v.Group("cem", cem, "action maximisation");   // nested struct
//     }
// and everything else derives from that list: YAML loading (unknown keys are
// errors with a "did you mean" suggestion), YAML dumping (--print-config and
// the copy saved beside every artifact) and command-line flags (cli.h), where
// the field path "dataset.memory_budget_mb" becomes the flag "--dataset.memory-budget-mb".
//
// Supported field types: bool, int, int64_t, uint64_t, float, double,
// std::string and std::vector of std::string, int or double.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace perpetua {

// A pointer to one field of a config struct.
using FieldPtr = std::variant<std::monostate,  // a group header (no value)
                              bool*, int*, int64_t*, uint64_t*, float*, double*, std::string*,
                              std::vector<std::string>*, std::vector<int>*, std::vector<double>*>;

// How a field appears on the command line.
enum class FieldKind {
  kFlag,        // --name VALUE (the default)
  kRequired,    // --name VALUE that the tool cannot run without: --help marks it REQUIRED
                // instead of showing its empty default (the tool checks it, as a config
                // file may give it too)
  kPositional,  // a positional argument (std::string or std::vector<std::string> only)
};

// Where a field's value may travel beyond this process (orthogonal to FieldKind).
enum class FieldScope {
  kShared,  // printed, saved beside artifacts and, for cell settings, stored in datasets (the default)
  kLocal,   // a setting of this machine (e.g. a robot connection): printed and saved, never stored in datasets
  kSecret,  // a local setting that is never shown: printed and saved configs say "<redacted>" when it is set
};

// One visited field (or group header) with its full dotted path.
struct FieldInfo {
  std::string path;  // "cem.samples"; a group header has its group path
  FieldPtr ptr;      // std::monostate for a group header
  std::string help;  // one line shown in --help and as a YAML comment
  FieldKind kind = FieldKind::kFlag;
  FieldScope scope = FieldScope::kShared;
};

// Visitor interface that config structs accept.
class ConfigVisitor {
 public:
  virtual ~ConfigVisitor() = default;

  template <class T>
  void Field(const std::string& name, T& value, const std::string& help,
             FieldKind kind = FieldKind::kFlag) {
    OnField(name, FieldPtr(&value), help, kind, FieldScope::kShared);
  }
  template <class T>
  void Field(const std::string& name, T& value, const std::string& help, FieldScope scope) {
    OnField(name, FieldPtr(&value), help, FieldKind::kFlag, scope);
  }
  template <class G>
  void Group(const std::string& name, G& group, const std::string& help) {
    OnBeginGroup(name, help);
    group.Visit(*this);
    OnEndGroup();
  }

 protected:
  virtual void OnField(const std::string& name, FieldPtr ptr, const std::string& help,
                       FieldKind kind, FieldScope scope) = 0;
  virtual void OnBeginGroup(const std::string& name, const std::string& help) = 0;
  virtual void OnEndGroup() = 0;
};

// Collects the flat field list of a config struct (group headers included).
class FieldCollector : public ConfigVisitor {
 public:
  std::vector<FieldInfo> fields;

 protected:
  void OnField(const std::string& name, FieldPtr ptr, const std::string& help,
               FieldKind kind, FieldScope scope) override;
  void OnBeginGroup(const std::string& name, const std::string& help) override;
  void OnEndGroup() override;

 private:
  std::vector<std::string> prefix_;
};

// Returns pointers into `config`: it must outlive the returned list.
template <class T>
std::vector<FieldInfo> ListFields(T& config) {
  FieldCollector collector;
  config.Visit(collector);
  return collector.fields;
}

// Applies a YAML mapping to the fields. `source` names the origin in errors
// (a file path, "flag --x"). Throws Error(kUsage) on unknown keys (with a
// suggestion), keys that are not plain names, wrong value types, a
// non-mapping document or one beyond the limits of document.h (depth, size).
void ApplyYaml(const std::string& yaml_text, const std::string& source,
               const std::vector<FieldInfo>& fields);

// Reads `path` and applies it as above. Throws Error(kUsage) if it is
// unreadable, not a regular file (a FIFO or device is refused without
// blocking: fs.h RegularFile) or larger than kMaxConfigBytes (document.h).
void ApplyYamlFile(const std::string& path, const std::vector<FieldInfo>& fields);

// Sets one field from command-line text (YAML scalar syntax; lists take a
// comma-separated list or a YAML flow list "[1, 2]"). Throws Error(kUsage)
// naming `source` on bad values.
void SetFieldFromText(const FieldInfo& field, const std::string& text, const std::string& source);

// The shortest decimal text that reads back as exactly `x` ("0.0003", not
// "0.00029999999999999997"): how configs, --help and logs print numbers.
std::string ShortestNumberText(double x);
// `x` with exactly `digits` decimals ("0.9100" for 0.91, 4): tables, rates, logs.
std::string FixedText(double x, int digits);

// The effective configuration as a YAML document, one "# help" comment per
// field. A set FieldScope::kSecret field is written as "<redacted>", so
// secrets never reach --print-config or saved configs.
std::string DumpYaml(const std::vector<FieldInfo>& fields);

// Convenience wrappers over the field list.
template <class T>
std::string ConfigToYaml(T& config) {
  return DumpYaml(ListFields(config));
}
template <class T>
void ConfigFromYaml(const std::string& yaml_text, const std::string& source, T& config) {
  ApplyYaml(yaml_text, source, ListFields(config));
}

// A short type label for --help: "INT", "NUM", "BOOL", "TEXT", "LIST".
const char* FieldTypeLabel(const FieldPtr& ptr);

// The closest candidate to `word` by edit distance, or "" if none is close
// enough to suggest. Used for "did you mean" messages.
std::string SuggestClosest(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace perpetua
