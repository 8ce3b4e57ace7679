// The full corrupt-input corpus (tests/corpus/corpus.h): 500+ damaged shards,
// checkpoints, configs and non-files, each through every tool that reads its
// kind. Prints the counts by family and by outcome (exit code, crash, hang),
// then every violation of the promise (crash, hang, exit 1, undocumented
// code, a failure that is not one error line). Exit status 1 if any.
//
//   build/bin/bench_corpus [--jobs N] [--timeout S] [--stride K] [--keep DIR] [--bin DIR] [--family F]
// --bin runs the tools of another build (e.g. one from before the fixes);
// the seeds are always made with this build's tools.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "corpus/corpus.h"

int main(int argc, char** argv) {
  using namespace perpetua::corpus;
  int jobs = 2;
  double timeout_s = 60;
  Options options;
  std::string keep, tools_dir, only_family;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--jobs") jobs = std::atoi(argv[i + 1]);
    if (flag == "--timeout") timeout_s = std::atof(argv[i + 1]);
    if (flag == "--stride") options.stride = std::atoi(argv[i + 1]);
    if (flag == "--keep") keep = argv[i + 1];
    if (flag == "--bin") tools_dir = argv[i + 1];
    if (flag == "--family") only_family = argv[i + 1];
  }
  const std::string bin_dir = std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
  char scratch[] = "/tmp/perpetua-corpus-XXXXXX";
  const std::string root = keep.empty() ? std::string(::mkdtemp(scratch)) : keep;
  std::filesystem::create_directories(root);
  const auto t0 = std::chrono::steady_clock::now();
  Seeds seeds = MakeSeeds(root, bin_dir);
  if (!tools_dir.empty()) seeds.bin_dir = tools_dir;
  // Families interleaved, so that the counts printed along the way cover all of them.
  std::map<std::string, std::vector<Case>> by_family;
  for (Case& c : BuildCorpus(seeds, options)) {
    if (only_family.empty() || c.family == only_family) by_family[c.family].push_back(std::move(c));
  }
  size_t total = 0;
  for (const auto& f : by_family) total += f.second.size();
  std::vector<Case> cases;
  for (size_t i = 0; cases.size() < total; ++i) {
    for (auto& f : by_family) {
      if (i < f.second.size()) cases.push_back(std::move(f.second[i]));
    }
  }
  const auto t1 = std::chrono::steady_clock::now();
  size_t runs = 0;
  for (const Case& c : cases) runs += c.commands.size();
  std::fprintf(stderr, "corpus: %zu inputs, %zu runs (seeds and mutations in %.0f s); running %d at a time\n",
               cases.size(), runs, std::chrono::duration<double>(t1 - t0).count(), jobs);
  std::vector<Outcome> so_far;
  const auto outcomes = RunCorpus(cases, jobs, timeout_s, [&](const Outcome& o) {
    so_far.push_back(o);
    if (so_far.size() % 200 == 0) {
      std::fprintf(stderr, "after %zu/%zu runs:\n%s", so_far.size(), runs, Table(so_far).c_str());
    }
  });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  std::printf("%s", Table(outcomes).c_str());
  int violations = 0;
  double slowest = 0;
  for (const Outcome& o : outcomes) {
    slowest = std::max(slowest, o.seconds);
    const std::string why = Violation(o);
    if (why.empty()) continue;
    ++violations;
    std::printf("VIOLATION %s: %s / %s / %s\n  %s\n", why.c_str(), o.family.c_str(), o.input.c_str(),
                o.command.c_str(), o.err.substr(o.err.size() > 300 ? o.err.size() - 300 : 0).c_str());
  }
  std::printf("%d violations (crash, hang, exit 1, undocumented code, not one error line) in %zu runs; "
              "%.0f s, slowest run %.1f s\n", violations, outcomes.size(), seconds, slowest);
  if (keep.empty()) std::filesystem::remove_all(root);
  return violations == 0 ? 0 : 1;
}
