// The corrupt-input corpus in CI: a deterministic subset (every 12th input of
// each family, about a twelfth of the runs of bench/corpus_bench.cpp) through
// the real tools. Required: no crash, no hang, no exit 1, and every failure
// is one error line with a documented exit code.
#include <doctest/doctest.h>

#include <cstdio>
#include <map>

#include "corpus/corpus.h"
#include "support/test_support.h"

namespace perpetua {
namespace {

TEST_CASE("a subset of the corrupt-input corpus: no crash, hang or exit 1 in any tool") {
  testing::TempDir dir;
  const corpus::Seeds seeds = corpus::MakeSeeds(dir.path(), PERPETUA_BIN_DIR);
  corpus::Options options;
  options.stride = 12;
  const std::vector<corpus::Case> cases = corpus::BuildCorpus(seeds, options);
  std::map<std::string, int> per_family;
  for (const auto& c : cases) ++per_family[c.family];
  CHECK(per_family.size() == corpus::Families().size());
  CHECK(cases.size() >= 45);  // of the 500+ inputs of the full corpus
  const std::vector<corpus::Outcome> outcomes = corpus::RunCorpus(cases, /*jobs=*/2, /*timeout_s=*/60);
  std::fputs(corpus::Table(outcomes).c_str(), stderr);
  int refused = 0;
  for (const auto& o : outcomes) {
    CAPTURE(o.family);
    CAPTURE(o.input);
    CAPTURE(o.command);
    CAPTURE(o.err);
    CHECK(corpus::Violation(o) == "");
    refused += o.exit_code != 0;
  }
  CHECK(refused > static_cast<int>(outcomes.size()) / 2);  // the corpus does hit the checks
}

}  // namespace
}  // namespace perpetua
