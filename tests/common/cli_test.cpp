// The shared command-line conventions, checked on a real tool binary
// (rl-train: verbs) and in-process on a small Tool.
#include "common/cli.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include "support/test_support.h"

namespace perpetua {
namespace {
using testing::ProcessResult;
using testing::RunProcess;
using testing::ToolPath;

TEST_CASE("every tool answers --help and --version") {
  for (const std::string tool : {"rl-collect", "rl-train", "rl-label", "rl-eval", "rl-goals", "rl-data"}) {
    CAPTURE(tool);
    const auto help = RunProcess({ToolPath(tool), "--help"});
    CHECK(help.exit_code == 0);
    CHECK(help.out.find(tool) != std::string::npos);
    const auto version = RunProcess({ToolPath(tool), "--version"});
    CHECK(version.exit_code == 0);
    CHECK(version.out.find("(Perpetua)") != std::string::npos);
  }
}

// Runs TOOL [VERB] ARGS... with `last` appended (the tool by its name).
ProcessResult RunTool(std::vector<std::string> argv, const std::string& last) {
  argv.front() = ToolPath(argv.front());
  argv.push_back(last);
  return RunProcess(argv);
}

TEST_CASE("--print-config prints only a config the tool would run with") {
  // Without the inputs a run needs (a config template), every tool prints.
  for (const std::vector<std::string>& argv :
       {std::vector<std::string>{"rl-collect"}, {"rl-eval"}, {"rl-train", "q"}, {"rl-train", "sac"}}) {
    const ProcessResult r = RunTool(argv, "--print-config");
    CAPTURE(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("seed: 0") != std::string::npos);
  }
  // A bad value is refused with the line the run would give, and nothing is printed.
  const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
      {{"rl-eval", "--episodes", "0"}, "rl-eval: error: --episodes must be at least 1, got 0\n"},
      {{"rl-collect", "--workers", "0"}, "rl-collect: error: --workers must be in 1..256, got 0\n"},
      {{"rl-collect", "--threads", "0"}, "rl-collect: error: --threads must be >= 1, got 0\n"},
      {{"rl-eval", "--threads", "-1"}, "rl-eval: error: --threads must be >= 1, got -1\n"},
      {{"rl-collect", "--episodes", "-3"}, "rl-collect: error: --episodes must be at least 1 (or use --forever), got -3\n"},
      {{"rl-train", "q", "--batch-size", "0"}, "rl-train: error: --batch-size must be >= 1\n"},
  };
  for (const auto& [argv, message] : bad) {
    const ProcessResult r = RunTool(argv, "--print-config");
    CHECK(r.exit_code == 2);
    CHECK(r.err == message);
    CHECK(r.out.empty());
  }
  // The learner's own settings too.
  for (const std::vector<std::string>& argv :
       {std::vector<std::string>{"rl-train", "q", "--cem.samples", "0"}, {"rl-train", "sac", "--sac.initial-alpha", "0"}}) {
    const ProcessResult r = RunTool(argv, "--print-config");
    CAPTURE(r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("rl-train: error: --" + argv[2].substr(2)) == 0);
  }
}

TEST_CASE("--help marks the flags a tool cannot run without instead of showing an empty default") {
  const auto help = [](const std::vector<std::string>& argv) {
    const ProcessResult r = RunTool(argv, "--help");
    REQUIRE(r.exit_code == 0);
    return r.out;
  };
  const std::string collect = help({"rl-collect"});
  CHECK(collect.find("--out TEXT REQUIRED") != std::string::npos);
  CHECK(collect.find("--out TEXT=\"\"") == std::string::npos);
  CHECK(collect.find("--policy TEXT=random") != std::string::npos);  // has a default: not required
  CHECK(help({"rl-eval"}).find("--policy TEXT REQUIRED") != std::string::npos);
  CHECK(help({"rl-train", "sac"}).find("--out TEXT REQUIRED") != std::string::npos);
  const std::string inspect = help({"rl-train", "inspect"});
  CHECK(inspect.find("path TEXT REQUIRED") != std::string::npos);
  CHECK(inspect.find("TEXT=\"\"") == std::string::npos);
  CHECK(help({"rl-label", "answer"}).find("--id INT REQUIRED") != std::string::npos);
  // Required in --help, still given by a config file.
  testing::TempDir tmp;
  testing::WriteFile(tmp / "c.yaml", "out: " + tmp / "data" + "\npolicy: random\nepisodes: 1\n");
  const ProcessResult from_file = RunProcess({ToolPath("rl-collect"), "--config", tmp / "c.yaml"});
  CHECK_MESSAGE(from_file.exit_code == 0, from_file.err);
  const ProcessResult missing = RunProcess({ToolPath("rl-collect"), "--episodes", "1"});
  CHECK(missing.exit_code == 2);
  CHECK(missing.err == "rl-collect: error: --out is required: the dataset directory\n");
}

struct DemoConfig {
  int episodes = 3;
  std::string out = "data";
  bool reload = false;
  std::vector<std::string> inputs;
  void Visit(ConfigVisitor& v) {
    v.Field("episodes", episodes, "episodes to run");
    v.Field("out", out, "output directory");
    v.Field("reload", reload, "hot reload");
    v.Field("inputs", inputs, "input files", FieldKind::kPositional);
  }
};

int RunDemo(std::vector<std::string> args, DemoConfig& config, int* runs) {
  Tool tool("demo", "a demo tool");
  tool.AddVerb("go", "does it", config, [&] {
    ++*runs;
    return ExitCode::kOk;
  });
  tool.AddPlannedVerb("later", "arrives later");
  args.insert(args.begin(), "demo");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return tool.Main(static_cast<int>(argv.size()), argv.data());
}

TEST_CASE("flags, config files and positionals reach the config") {
  testing::TempDir dir;
  testing::WriteFile(dir / "c.yaml", "episodes: 10\nout: fromfile\n");
  DemoConfig config;
  int runs = 0;
  CHECK(RunDemo({"go", "--config", dir / "c.yaml", "--episodes", "4", "--reload", "a.h5", "b.h5"},
                config, &runs) == 0);
  CHECK(runs == 1);
  CHECK(config.episodes == 4);  // the flag wins over the file
  CHECK(config.out == "fromfile");
  CHECK(config.reload);
  CHECK(config.inputs == std::vector<std::string>{"a.h5", "b.h5"});
}

TEST_CASE("usage errors: unknown flag, unknown verb, bad value, planned verb") {
  DemoConfig config;
  int runs = 0;
  CHECK(RunDemo({"go", "--episdoes", "4"}, config, &runs) == 2);
  CHECK(RunDemo({"og"}, config, &runs) == 2);
  CHECK(RunDemo({"go", "--episodes", "four"}, config, &runs) == 2);
  CHECK(RunDemo({"later"}, config, &runs) == 2);
  CHECK(RunDemo({}, config, &runs) == 2);
  CHECK(runs == 0);
}

TEST_CASE("the real binary prints one clear line with a suggestion") {
  const auto result = RunProcess({ToolPath("rl-train"), "qq"});
  CHECK(result.exit_code == 2);
  CHECK(result.err.find("rl-train: error: unknown verb 'qq' (did you mean 'q'?)") == 0);
}

TEST_CASE("the real binaries: a forgotten verb names the verbs, a verb's errors point to its help, --version anywhere") {
  const auto no_verb = RunProcess({ToolPath("rl-label")});
  CHECK(no_verb.exit_code == 2);
  CHECK(no_verb.err == "rl-label: error: give a verb: export, train, score, pending, answer, ask, serve\n"
                       "Run 'rl-label --help' for usage.\n");
  const auto flag_first = RunProcess({ToolPath("rl-train"), "--data", "x"});
  CHECK(flag_first.exit_code == 2);
  CHECK(flag_first.err.find("rl-train: error: '--data' is a verb's flag: give the verb first (rl-train q | sac "
                            "--data ...)") == 0);
  const auto in_verb = RunProcess({ToolPath("rl-train"), "sac", "--datta", "x"});
  CHECK(in_verb.exit_code == 2);
  CHECK(in_verb.err == "rl-train: error: unknown flag '--datta' for 'sac' (did you mean '--data'?)\n"
                       "Run 'rl-train sac --help' for usage.\n");
  const auto version = RunProcess({ToolPath("rl-train"), "q", "--version"});
  CHECK(version.exit_code == 0);
  CHECK(version.out.find("rl-train (Perpetua) ") == 0);
}

TEST_CASE("--config given a FIFO or a device fails at once with one line") {
  testing::TempDir dir;
  REQUIRE(::mkfifo((dir / "config.yaml").c_str(), 0644) == 0);  // no writer: reading it would block
  for (const std::string& path : {dir / "config.yaml", std::string("/dev/zero")}) {
    const auto result = RunProcess({ToolPath("rl-data"), "inspect", "x", "--config", path});
    CHECK(result.exit_code == 2);
    CHECK(result.err.find("rl-data: error: " + path + ": not a regular file") == 0);
    CHECK(testing::Lines(result.err).size() == 1);
  }
}

}  // namespace
}  // namespace perpetua
