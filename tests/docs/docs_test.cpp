// The docs cannot drift from the tools: every tool command and YAML block in
// README.md and docs/*.md goes through the real tools' parsers
// (tests/docs/check_docs.py), and the checker itself catches a renamed flag,
// an unknown verb, a script flag that does not exist and a rejected config.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <string>

#include "support/test_support.h"

namespace perpetua {
namespace {
using testing::ProcessResult;
using testing::RunProcess;

std::string BinDir() {
  const std::string tool = testing::ToolPath("rl-collect");
  return tool.substr(0, tool.find_last_of('/'));
}

ProcessResult Check(const std::string& root) {
  return RunProcess({"/usr/bin/python3", testing::SourcePath("tests/docs/check_docs.py"), root, BinDir()});
}

TEST_CASE("every command line and config block in README.md and docs/*.md is accepted by the tools") {
  const ProcessResult r = Check(testing::SourcePath("."));
  INFO(r.out, r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find(" 0 problems") != std::string::npos);
  MESSAGE(r.out);
}

TEST_CASE("the docs checker finds drift") {
  testing::TempDir tmp;
  ::mkdir((tmp / "docs").c_str(), 0755);
  ::mkdir((tmp / "scripts").c_str(), 0755);
  testing::WriteFile(tmp / "scripts/loop.sh", "echo 'usage: loop.sh --minutes N --train-arg ARG'\n");
  testing::WriteFile(tmp / "README.md",
                     "```sh\n"
                     "rl-collect --policy random --episodes 3 --out data   # fine\n"
                     "rl-collect --policy random --episode 3 --out data\n"
                     "$ rl-train qq --data data\n"
                     "rl-collect --policy random ... | rl-train q --data data \\\n"
                     "    --online - --checkpoint-evry 5\n"
                     "scripts/loop.sh --minutes 5 --hours 1 --train-arg --threads=1\n"
                     "```\n");
  testing::WriteFile(tmp / "docs/a.md", "```yaml\nenv: grasp\nnot_a_key: 3\n```\n");
  testing::WriteFile(tmp / "docs/b.md",
                     "# B\n\n## Seeing the clock (stop 26)\n\n"
                     "[fine](a.md) [fine](#seeing-the-clock-stop-26) [gone](c.md) [no anchor](a.md#figures)\n");
  {
    std::string readme = testing::ReadFile(tmp / "README.md");
    readme += "\n## Measured figures\n\n| what | measured | target | source |\n|---|---|---|---|\n"
              "| a | 1 | | [docs/b.md](docs/b.md#b) |\n| b | 2 | | `bench_b` |\n\n## After\n\n| x | 3 |\n";
    testing::WriteFile(tmp / "README.md", readme);
  }
  const ProcessResult r = Check(tmp.path());
  INFO(r.out, r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("README.md:3: `rl-collect --policy random --episode 3 --out data`") != std::string::npos);
  CHECK(r.out.find("README.md:4: `rl-train qq --data data`") != std::string::npos);
  CHECK(r.out.find("README.md:5: `rl-train q --data data --online - --checkpoint-evry 5`") != std::string::npos);
  CHECK(r.out.find("README.md:7: scripts/loop.sh has no flag --hours") != std::string::npos);
  CHECK(r.out.find("--threads") == std::string::npos);  // rl-train's, passed on by --train-arg
  CHECK(r.out.find("docs/a.md:2: no tool accepts this YAML block") != std::string::npos);
  CHECK(r.out.find("docs/b.md:5: link to c.md: no such file") != std::string::npos);
  CHECK(r.out.find("docs/b.md:5: link to a.md#figures: no heading with that anchor") != std::string::npos);
  CHECK(r.out.find("README.md:15: a measured figure without a link to its source") != std::string::npos);
  CHECK(r.out.find("README.md:14:") == std::string::npos);  // links its doc
  CHECK(r.out.find("README.md:19:") == std::string::npos);  // not in the figures table
  CHECK(r.out.find("1 commands with '...' placeholders skipped; 8 problems") != std::string::npos);
}

}  // namespace
}  // namespace perpetua
