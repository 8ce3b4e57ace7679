// Installing Perpetua as a user would: `cmake --install` into a fresh prefix,
// an outside program built against it with find_package(Perpetua), the
// installed tools, man pages and bash completion, and the .deb that CPack
// builds (cmake/install.cmake).
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <sstream>

#include "support/test_support.h"

namespace perpetua::testing {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kTools = {"rl-collect", "rl-train", "rl-label", "rl-eval",
                                         "rl-goals",   "rl-data",  "rl-robot"};

std::string BuildDir() { return fs::path(PERPETUA_BIN_DIR).parent_path().string(); }

ProcessResult Bash(const std::string& script) { return RunProcess({"bash", "-c", script}); }

// The "run:" packages of scripts/packages.txt, in order.
std::vector<std::string> RunPackages() {
  std::vector<std::string> names;
  std::istringstream lines(ReadFile(SourcePath("scripts/packages.txt")));
  std::string line;
  while (std::getline(lines, line)) {
    line = line.substr(0, line.find('#'));
    if (line.rfind("run:", 0) != 0) continue;
    std::istringstream words(line.substr(4));
    std::string word;
    while (words >> word) names.push_back(word);
  }
  return names;
}

TEST_CASE("cmake --install gives tools, man pages, completion and a package an outside program builds against") {
  TempDir tmp;
  const std::string prefix = tmp / "prefix";
  const ProcessResult install = RunProcess({"cmake", "--install", BuildDir(), "--prefix", prefix});
  INFO(install.err);
  REQUIRE(install.exit_code == 0);

  for (const std::string& tool : kTools) {
    INFO(tool);
    CHECK(fs::exists(prefix + "/bin/" + tool));
    CHECK(fs::exists(prefix + "/share/bash-completion/completions/" + tool));
    const std::string page = prefix + "/share/man/man1/" + tool + ".1.gz";
    REQUIRE(fs::exists(page));
    const std::string roff = Bash("gzip -dc '" + page + "'").out;
    CHECK(roff.find(".SH \"EXIT STATUS\"") != std::string::npos);
    CHECK(roff.find(".SH OPTIONS") != std::string::npos);
  }
  // A tool with verbs documents each verb's flags.
  const std::string train_page = Bash("gzip -dc '" + prefix + "/share/man/man1/rl-train.1.gz'").out;
  CHECK(train_page.find(".SS \"rl-train q\"") != std::string::npos);
  CHECK(train_page.find(".SS \"rl-train sac\"") != std::string::npos);
  CHECK(train_page.find("network.keypoints") != std::string::npos);
  CHECK(fs::exists(prefix + "/include/perpetua/data/dataset_writer.h"));
  CHECK(fs::exists(prefix + "/include/perpetua/perpetua/version.h"));
  CHECK(fs::exists(prefix + "/share/perpetua/scripts/loop.sh"));

  // The installed tools run from the prefix.
  const ProcessResult version = RunProcess({prefix + "/bin/rl-collect", "--version"});
  CHECK(version.exit_code == 0);
  CHECK(version.out.find("rl-collect (Perpetua) ") == 0);
  // The installed loop finds the tools on PATH (no build folder beside it).
  const ProcessResult where = Bash("unset PERPETUA_BIN; PATH='" + prefix + "/bin':$PATH; prog=t; . '" + prefix +
                                   "/share/perpetua/scripts/common.sh'; tools_dir '" + prefix + "/share/perpetua'");
  CHECK(where.out == fs::canonical(prefix + "/bin").string() + "\n");

  // An outside program: configure, build and run it against the prefix only.
  const std::string consumer = tmp / "consumer";
  const ProcessResult configure =
      RunProcess({"cmake", "-S", SourcePath("tests/install/consumer"), "-B", consumer, "-G", "Ninja",
                  "-DCMAKE_PREFIX_PATH=" + prefix, "-DCMAKE_BUILD_TYPE=Release"});
  INFO(configure.out, configure.err);
  REQUIRE(configure.exit_code == 0);
  const ProcessResult build = RunProcess({"cmake", "--build", consumer});
  INFO(build.out, build.err);
  REQUIRE(build.exit_code == 0);
  const ProcessResult run = RunProcess({consumer + "/consumer", tmp / "data"});
  INFO(run.err);
  CHECK(run.exit_code == 0);
  CHECK(run.out == "episodes 1 steps 3 last_reward 1 version 0.1.0\n");
  // What it wrote is an ordinary dataset to the installed tools.
  CHECK(RunProcess({prefix + "/bin/rl-data", "inspect", "--quick", tmp / "data"}).exit_code == 0);
  // A bad argument is one line and exit 2.
  const ProcessResult usage = RunProcess({consumer + "/consumer"});
  CHECK(usage.exit_code == 2);
}

TEST_CASE("bash completion offers the verbs, then the verb's flags, then files") {
  const std::string setup = "PATH='" + std::string(PERPETUA_BIN_DIR) + "':$PATH; . '" +
                            SourcePath("scripts/completion.bash") + "'; ";
  const auto complete = [&](const std::string& words) {
    return Bash(setup + "COMP_WORDS=(" + words + "); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _perpetua_complete; " +
                "echo \"${COMPREPLY[*]}\"")
        .out;
  };
  CHECK(complete("rl-train ''") == "q sac q-targets inspect\n");
  CHECK(complete("rl-data r") == "recover\n");
  CHECK(complete("rl-train q --network.key") == "--network.keypoints\n");
  CHECK(complete("rl-collect --cell.randomize.object") ==
        "--cell.randomize.object-colors\n");
  CHECK(complete("rl-collect --no-cell.randomize.object") == "--no-cell.randomize.object-colors\n");
  // After the verb, a word without a dash is a file.
  TempDir tmp;
  WriteFile(tmp / "shards.txt", "");
  CHECK(complete("rl-train q '" + (tmp / "sha") + "'") == tmp / "shards.txt\n");
  // Every tool is registered.
  const std::string registered = Bash(setup + "complete -p").out;
  for (const std::string& tool : kTools) CHECK(registered.find(" " + tool + "\n") != std::string::npos);
}

TEST_CASE("cpack builds a .deb with the tools, man pages, completion and the run packages as dependencies") {
  TempDir tmp;
  const ProcessResult pack =
      RunProcess({"cpack", "-G", "DEB", "--config", BuildDir() + "/CPackConfig.cmake", "-B", tmp.path()});
  INFO(pack.out, pack.err);
  REQUIRE(pack.exit_code == 0);
  const std::vector<std::string> debs = ListFiles(tmp.path(), ".deb");
  REQUIRE(debs.size() == 1);
  const std::string deb = tmp / debs.front();
  MESSAGE("the .deb: " << fs::file_size(deb) / 1000000.0 << " MB");

  const ProcessResult depends = RunProcess({"dpkg-deb", "--field", deb, "Depends"});
  REQUIRE(depends.exit_code == 0);
  std::string expected;
  for (const std::string& name : RunPackages()) expected += (expected.empty() ? "" : ", ") + name;
  CHECK(!RunPackages().empty());
  CHECK(depends.out == expected + "\n");
  CHECK(RunProcess({"dpkg-deb", "--field", deb, "Package"}).out == "perpetua\n");

  const std::string contents = RunProcess({"dpkg-deb", "--contents", deb}).out;
  std::vector<std::string> expected_paths = {"./usr/include/perpetua/data/dataset_writer.h",
                                             "./usr/share/perpetua/scripts/loop.sh"};
  for (const std::string& tool : kTools) {
    expected_paths.push_back("./usr/bin/" + tool);
    expected_paths.push_back("./usr/share/man/man1/" + tool + ".1.gz");
    expected_paths.push_back("./usr/share/bash-completion/completions/" + tool);
  }
  for (const std::string& path : expected_paths) {
    INFO(path);
    CHECK(contents.find(path + "\n") != std::string::npos);
  }
  CHECK(std::regex_search(contents, std::regex(R"(\./usr/lib/[^ ]*cmake/Perpetua/PerpetuaConfig\.cmake\n)")));
  CHECK(std::regex_search(contents, std::regex(R"(\./usr/lib/[^ ]*libperpetua_core\.a\n)")));
}

}  // namespace
}  // namespace perpetua::testing
