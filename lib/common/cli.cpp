#include "common/cli.h"

#include "common/flag_check.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <deque>
#include <iostream>

#include "common/log.h"
#include "common/signals.h"
#include "perpetua/version.h"

namespace perpetua {

std::string FlagName(const std::string& field_path) {
  std::string name = "--" + field_path;
  for (char& c : name) {
    if (c == '_') c = '-';
  }
  return name;
}

void RequireFlag(bool ok, const std::string& prefix, const std::string& name, const std::string& what) {
  if (!ok) Fail(ExitCode::kUsage, FlagName(prefix.empty() ? name : prefix + "." + name) + " " + what);
}

namespace {

// Command-line storage for one config field; copied into the field after
// parsing, and only if the flag was given (so config-file values survive).
struct Binding {
  const FieldInfo* field = nullptr;
  std::string text;
  std::vector<std::string> list;
  bool flag = false;
  CLI::Option* option = nullptr;
};

struct Verb {
  std::string name;  // "" for a tool without verbs
  std::string description;
  std::vector<FieldInfo> fields;
  Tool::RunFn run;
  Tool::CheckFn check;  // empty: no value checks before --print-config
  bool planned = false;
  CLI::App* app = nullptr;
  std::deque<Binding> bindings;
  std::string config_path;
  bool print_config = false;
  CLI::Option* config_option = nullptr;
};

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace

struct Tool::Impl {
  std::string name;
  std::string summary;
  std::deque<Verb> verbs;
  std::string effective_config;
};

Tool::Tool(std::string name, std::string summary) : impl_(std::make_unique<Impl>()) {
  impl_->name = std::move(name);
  impl_->summary = std::move(summary);
}

Tool::~Tool() = default;

const std::string& Tool::effective_config() const { return impl_->effective_config; }

void Tool::AddVerbFields(const std::string& verb, const std::string& description,
                         std::vector<FieldInfo> fields, RunFn run, CheckFn check) {
  Verb& v = impl_->verbs.emplace_back();
  v.name = verb;
  v.description = description;
  v.fields = std::move(fields);
  v.run = std::move(run);
  v.check = std::move(check);
}

void Tool::AddPlannedVerb(const std::string& verb, const std::string& description) {
  Verb& v = impl_->verbs.emplace_back();
  v.name = verb;
  v.description = description + " (not available yet: arrives in a later release)";
  v.planned = true;
}

namespace {

// --help in readable form: a boolean shows as "--name=false" (its "--no-name"
// form is still taken, and the footer says so), numbers as in the YAML dumps.
class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_option_name(const CLI::Option* option, bool positional) const override {
    if (!positional && !option->get_fnames().empty() && !option->get_lnames().empty()) {
      return "--" + option->get_lnames().front();
    }
    return CLI::Formatter::make_option_name(option, positional);
  }
  std::string make_option_opts(const CLI::Option* option) const override {
    if (!option->get_fnames().empty()) return "=" + option->get_default_str();
    return CLI::Formatter::make_option_opts(option);
  }
};

// The --help section of a field: its top-level group ("cell settings (--cell.*)"),
// or "Options" for the tool's own flags, which come first.
std::string HelpGroup(const FieldInfo& field, const std::vector<FieldInfo>& fields) {
  const size_t dot = field.path.find('.');
  if (dot == std::string::npos) return "Options";
  const std::string top = field.path.substr(0, dot);
  for (const FieldInfo& f : fields) {
    if (f.path == top && std::holds_alternative<std::monostate>(f.ptr)) {
      return (f.help.empty() ? top : f.help) + " (" + FlagName(top) + ".*)";
    }
  }
  return top;
}

void BindFields(CLI::App* app, Verb& verb) {
  verb.config_option =
      app->add_option("--config", verb.config_path, "YAML file of settings (flags override it)")
          ->check(CLI::ExistingFile);
  app->add_flag("--print-config", verb.print_config,
                "print the effective config as YAML on stdout and exit");
  for (const FieldInfo& field : verb.fields) {
    if (std::holds_alternative<std::monostate>(field.ptr)) continue;
    Binding& b = verb.bindings.emplace_back();
    b.field = &field;
    const bool positional = field.kind == FieldKind::kPositional;
    const std::string name = positional ? field.path : FlagName(field.path);
    if (auto* value = std::get_if<bool*>(&field.ptr)) {
      b.option = app->add_flag(name + ",!--no-" + name.substr(2), b.flag, field.help)
                     ->default_str(**value ? "true" : "false");
    } else if (std::holds_alternative<std::vector<std::string>*>(field.ptr)) {
      b.option = app->add_option(name, b.list, field.help)->type_name(FieldTypeLabel(field.ptr));
    } else {
      b.option = app->add_option(name, b.text, field.help)->type_name(FieldTypeLabel(field.ptr));
      FieldInfo shown = field;  // its value as YAML, under a one-letter key (a secret stays redacted)
      shown.path = "x";
      shown.help.clear();
      const std::string current = DumpYaml({shown});
      b.option->default_str(current.substr(3, current.size() - 4));  // strip "x: " and "\n"
    }
    if (positional && std::holds_alternative<std::string*>(field.ptr)) b.option->required();
    if (field.kind == FieldKind::kRequired || (positional && b.option->get_required())) {
      b.option->option_text(std::string(FieldTypeLabel(field.ptr)) + " REQUIRED");  // no empty default shown
    }
    b.option->group(HelpGroup(field, verb.fields));
  }
}

// Copies the given flags into the config fields.
void ApplyFlags(Verb& verb) {
  for (Binding& b : verb.bindings) {
    if (b.option->count() == 0) continue;
    const std::string source = b.option->get_name().empty() ? b.field->path : b.option->get_name();
    if (auto* value = std::get_if<bool*>(&b.field->ptr)) {
      **value = b.flag;
    } else if (auto* list = std::get_if<std::vector<std::string>*>(&b.field->ptr)) {
      **list = b.list;
    } else {
      SetFieldFromText(*b.field, b.text, "flag " + FlagName(b.field->path));
    }
  }
}

// The long flags `app` takes, as typed ("--name", and "--no-name" for booleans).
std::vector<std::string> LongFlags(const CLI::App& app) {
  std::vector<std::string> flags;
  for (const CLI::Option* option : app.get_options()) {
    for (const auto& name : option->get_lnames()) flags.push_back("--" + name);
    for (const auto& name : option->get_fnames()) flags.push_back("--" + name);
  }
  return flags;
}

// Builds a "did you mean" message for the first unknown flag or verb in argv;
// `verb_named` receives the verb argv names ("" if none).
std::string DiagnoseUnknown(const CLI::App& root, const std::deque<Verb>& verbs, int argc, char** argv,
                            std::string* verb_named) {
  const Verb* verb = nullptr;
  std::vector<std::string> verb_names;
  for (const auto& v : verbs) {
    if (!v.name.empty()) verb_names.push_back(v.name);
  }
  if (verb_names.empty() && !verbs.empty()) verb = &verbs.front();
  for (int i = 1; i < argc; ++i) {
    const std::string token = argv[i];
    if (token.rfind("--", 0) == 0 && token.size() > 2) {
      const std::string flag = token.substr(0, token.find('='));
      std::vector<std::string> known = LongFlags(verb && verb->app ? *verb->app : root);
      known.insert(known.end(), {"--help", "--version"});
      if (std::find(known.begin(), known.end(), flag) == known.end()) {
        if (!verb && !verb_names.empty()) {
          // The verbs that take this flag (all of them when none does: a misspelling).
          const auto takes = [&](const Verb& v) {
            if (!v.app) return false;
            const std::vector<std::string> flags = LongFlags(*v.app);
            return std::find(flags.begin(), flags.end(), flag) != flags.end();
          };
          std::string list, all;
          for (const auto& v : verbs) {
            if (v.name.empty()) continue;
            all += (all.empty() ? "" : " | ") + v.name;
            if (takes(v)) list += (list.empty() ? "" : " | ") + v.name;
          }
          if (list.empty()) list = all;
          return "'" + flag + "' is a verb's flag: give the verb first (" + std::string(root.get_name()) + " " +
                 list + " " + flag + " ...)";
        }
        std::string message = "unknown flag '" + flag + "'";
        if (verb && !verb->name.empty()) message += " for '" + verb->name + "'";
        const std::string suggestion = SuggestClosest(flag, known);
        if (!suggestion.empty()) message += " (did you mean '" + suggestion + "'?)";
        return message;
      }
    } else if (!verb && !verb_names.empty() && token.rfind("-", 0) != 0) {
      for (const auto& v : verbs) {
        if (v.name == token) verb = &v;
      }
      if (verb) *verb_named = verb->name;
      if (!verb) {
        std::string message = "unknown verb '" + token + "'";
        const std::string suggestion = SuggestClosest(token, verb_names);
        if (!suggestion.empty()) message += " (did you mean '" + suggestion + "'?)";
        return message;
      }
    }
  }
  return "";
}

}  // namespace

int Tool::Main(int argc, char** argv) {
  SetLogPrefix(impl_->name);
  InstallInterruptHandlers();
  CLI::App app(impl_->summary, impl_->name);
  app.formatter(std::make_shared<HelpFormatter>());
  app.set_version_flag("--version", impl_->name + " (Perpetua) " + PERPETUA_VERSION);
  app.set_help_all_flag("--help-all", "help for every verb");
  std::vector<std::string> available;
  for (Verb& verb : impl_->verbs) {
    if (verb.name.empty()) {
      verb.app = &app;
    } else {
      verb.app = app.add_subcommand(verb.name, verb.description);
      verb.app->set_version_flag("--version", impl_->name + " (Perpetua) " + PERPETUA_VERSION);
      if (!verb.planned) available.push_back(verb.name);
    }
    if (verb.planned) {
      verb.app->allow_extras();
    } else {
      BindFields(verb.app, verb);
      verb.app->footer("Booleans: --NAME turns one on, --no-NAME off. Every setting is also a key of --config FILE "
                       "(--print-config shows them all).");
    }
  }
  const bool has_verbs = !impl_->verbs.empty() && !impl_->verbs.front().name.empty();
  std::string list;
  for (const auto& name : available) list += (list.empty() ? "" : ", ") + name;
  if (has_verbs) {
    app.require_subcommand(1, 1);
    app.footer("Verbs available now: " + (list.empty() ? std::string("none yet") : list) +
               ". Run '" + impl_->name + " VERB --help' for a verb's settings.");
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string verb;
    std::string message = DiagnoseUnknown(app, impl_->verbs, argc, argv, &verb);
    if (message.empty() && has_verbs && verb.empty()) {
      message = "give a verb: " + (list.empty() ? std::string("none available yet") : list);
    }
    if (message.empty()) message = FirstLine(e.what());
    const std::string help = impl_->name + (verb.empty() ? "" : " " + verb);
    std::fprintf(stderr, "%s: error: %s\nRun '%s --help' for usage.\n", impl_->name.c_str(), message.c_str(),
                 help.c_str());
    return static_cast<int>(ExitCode::kUsage);
  }

  Verb* chosen = nullptr;
  for (Verb& verb : impl_->verbs) {
    if (verb.name.empty() || verb.app->parsed()) chosen = &verb;
  }
  PERPETUA_CHECK(chosen != nullptr);
  try {
    if (chosen->planned) {
      Fail(ExitCode::kUsage, "'" + impl_->name + " " + chosen->name +
                                 "' is not available in this version; available: " +
                                 (list.empty() ? std::string("none yet") : list));
    }
    if (chosen->config_option->count() > 0) ApplyYamlFile(chosen->config_path, chosen->fields);
    ApplyFlags(*chosen);
    impl_->effective_config = DumpYaml(chosen->fields);
    if (chosen->print_config) {
      if (chosen->check) chosen->check();  // print only what the tool would run with
      std::fputs(impl_->effective_config.c_str(), stdout);
      return 0;
    }
    return static_cast<int>(chosen->run());
  } catch (const Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", impl_->name.c_str(), FirstLine(e.what()).c_str());
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: internal error: %s\n", impl_->name.c_str(),
                 FirstLine(e.what()).c_str());
    return static_cast<int>(ExitCode::kInternal);
  }
}

}  // namespace perpetua
