// The command-line shell every rl-* tool shares.
//
// A tool is a name, a summary and a table of verbs (ninja-style subtools).
// Each verb owns a config struct (config.h); its fields become flags, and
// every verb also takes
//   --config FILE.yaml   load settings first (flags given alongside win)
//   --print-config       print the effective config as YAML on stdout, exit 0
// The tool takes --help and --version. Unknown flags, keys and verbs are usage
// errors with a "did you mean" suggestion. Tools without verbs (rl-collect,
// rl-eval) bind one config at the top level with SetMain().
//
// Tool::Main parses, applies config file then flags, runs the verb and maps
// failures to exit codes (error.h): perpetua::Error -> its code with one line
// "<tool>: error: <message>" on stderr; any other exception -> kInternal.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/error.h"

namespace perpetua {

class Tool {
 public:
  // The verb's work. Called once the effective config is known.
  using RunFn = std::function<ExitCode()>;
  // Checks the settings' values (Error(kUsage) on a bad one) without needing the
  // inputs a run needs (--out, --data, --policy): --print-config calls it, so
  // that it prints only a config the tool would run with.
  using CheckFn = std::function<void()>;

  Tool(std::string name, std::string summary);
  ~Tool();

  // Adds verb `verb` whose settings are `config` (must outlive Main()).
  template <class T>
  void AddVerb(const std::string& verb, const std::string& description, T& config, RunFn run,
               CheckFn check = {}) {
    AddVerbFields(verb, description, ListFields(config), std::move(run), std::move(check));
  }
  // Binds `config` at the top level for a tool without verbs.
  template <class T>
  void SetMain(T& config, RunFn run, CheckFn check = {}) {
    AddVerbFields("", "", ListFields(config), std::move(run), std::move(check));
  }
  // Lists a verb that a later release adds; invoking it is a usage error that says so.
  void AddPlannedVerb(const std::string& verb, const std::string& description);

  // Parses argv, runs the chosen verb and returns the process exit code.
  int Main(int argc, char** argv);

  // The effective config of the verb that ran, as YAML (valid during/after run).
  const std::string& effective_config() const;

 private:
  void AddVerbFields(const std::string& verb, const std::string& description,
                     std::vector<FieldInfo> fields, RunFn run, CheckFn check);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Flag spelling of a config field path: "cem.num_samples" -> "--cem.num-samples".
std::string FlagName(const std::string& field_path);

}  // namespace perpetua
