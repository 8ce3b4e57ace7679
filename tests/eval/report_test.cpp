// Summaries, per-object tables, paired comparisons and their JSON.
#include "eval/report.h"

#include <doctest/doctest.h>

namespace perpetua {
namespace {

std::vector<EpisodeOutcome> Outcomes(const std::vector<int>& successes, const std::string& id) {
  std::vector<EpisodeOutcome> outcomes;
  for (size_t i = 0; i < successes.size(); ++i) {
    EpisodeOutcome o;
    o.index = int64_t(i);
    o.seed = 1000 + i;
    o.success = successes[i] != 0;
    o.total_return = o.success ? 1.0 : -0.2;
    o.length = o.success ? 5 : 20;
    o.object_ids = {int64_t(i % 2), int64_t(i % 2), 7};  // a duplicate counts once
    o.policy_id = id;
    outcomes.push_back(o);
  }
  return outcomes;
}

TEST_CASE("interrupted episodes are counted apart and left out of every rate") {
  auto outcomes = Outcomes({1, 0, 1, 0}, "random");
  outcomes[1].interrupted = true;  // a robot e-stop: not a failure of the policy
  const EvalSummary s = Summarize(outcomes);
  CHECK(s.interrupted == 1);
  CHECK(s.overall.episodes == 3);
  CHECK(s.overall.successes == 2);
  CHECK(s.per_object.at(1).episodes == 1);  // index 1 (interrupted) and 3 had object 1
  CHECK(s.mean_length == doctest::Approx((5 + 5 + 20) / 3.0));
  CHECK(ToJson(s)["interrupted"] == 1);
  CHECK(ToJson(outcomes[1])["interrupted"] == true);
  CHECK(FormatSummary(s).find("1 interrupted episode(s) (robot e-stop or a person) not counted") != std::string::npos);
  // All interrupted: no rate, no division by zero.
  for (auto& o : outcomes) o.interrupted = true;
  const EvalSummary none = Summarize(outcomes);
  CHECK(none.overall.episodes == 0);
  CHECK(none.mean_return == 0.0);
}

TEST_CASE("each failure keeps its reason: the cell's, a blow-up, the time limit, or ended") {
  auto Result = [](bool success, bool truncated, const nlohmann::json& last) {
    RolloutResult r;
    r.episode.metadata.success = success;
    r.episode.truncated = {0, uint8_t(truncated)};
    r.final_info = last;
    return r;
  };
  CHECK(OutcomeOf(Result(true, false, {{"success", true}})).failure.empty());
  CHECK(OutcomeOf(Result(false, false, {{"failure", "closed-beside"}})).failure == "closed-beside");
  CHECK(OutcomeOf(Result(false, true, nlohmann::json::object())).failure == "time-limit");
  CHECK(OutcomeOf(Result(false, false, nlohmann::json::object())).failure == "ended");
  CHECK(OutcomeOf(Result(false, false, {{"failure", 3}})).failure == "ended");  // not a reason
  // A blow-up names itself whatever else the cell said.
  CHECK(OutcomeOf(Result(false, true, {{"unstable", {{"step", 4}}}, {"failure", "slipped"}})).failure == "unstable");
  RolloutResult interrupted = Result(false, true, nlohmann::json::object());
  interrupted.episode.metadata.interrupted = true;
  CHECK(OutcomeOf(interrupted).failure.empty());

  auto outcomes = Outcomes({1, 0, 0, 0, 0}, "a");
  outcomes[1].failure = "closed-beside";
  outcomes[2].failure = "closed-beside";
  outcomes[3].failure = "time-limit";
  outcomes[4].interrupted = true;  // not a failure: not counted
  const EvalSummary s = Summarize(outcomes);
  CHECK(s.failures == std::map<std::string, int64_t>{{"closed-beside", 2}, {"time-limit", 1}});
  CHECK(ToJson(s)["failures"]["closed-beside"] == 2);
  CHECK(ToJson(outcomes[3])["failure"] == "time-limit");
  CHECK(FormatSummary(s).find("failures: 2 closed-beside, 1 time-limit\n") != std::string::npos);
  // No failures, no line.
  CHECK(FormatSummary(Summarize(Outcomes({1, 1}, "a"))).find("failures:") == std::string::npos);
}

TEST_CASE("summary with rate interval means and per-object rows") {
  const auto outcomes = Outcomes({1, 0, 1, 1, 0, 0, 1, 1}, "scripted:grasp");
  const EvalSummary s = Summarize(outcomes);
  CHECK(s.policy_id == "scripted:grasp");
  CHECK(s.overall.episodes == 8);
  CHECK(s.overall.successes == 5);
  CHECK(s.overall.rate == doctest::Approx(0.625));
  CHECK(s.overall.interval.low == doctest::Approx(WilsonInterval(5, 8).low));
  CHECK(s.mean_return == doctest::Approx((5 * 1.0 - 3 * 0.2) / 8));
  CHECK(s.mean_length == doctest::Approx((5 * 5 + 3 * 20) / 8.0));
  REQUIRE(s.per_object.size() == 3);
  CHECK(s.per_object.at(0).episodes == 4);  // even indices: 1, 1, 0, 1
  CHECK(s.per_object.at(0).successes == 3);
  CHECK(s.per_object.at(1).successes == 2);
  CHECK(s.per_object.at(7).episodes == 8);
  const nlohmann::json json = ToJson(s);
  CHECK(json["success_rate"] == 0.625);
  CHECK(json["wilson95"].size() == 2);
  CHECK(json["per_object"][2]["object_id"] == 7);
  const std::string table = FormatSummary(s);
  CHECK(table.find("success 5/8 =  62.5%") != std::string::npos);
}

TEST_CASE("paired comparison says better worse or indistinguishable") {
  // A succeeds on 30 episodes where B fails, B on 2 where A fails.
  std::vector<int> a(60, 0), b(60, 0);
  for (int i = 0; i < 30; ++i) a[i] = 1;
  for (int i = 30; i < 32; ++i) b[i] = 1;
  for (int i = 40; i < 50; ++i) a[i] = b[i] = 1;
  const auto oa = Outcomes(a, "A"), ob = Outcomes(b, "B");
  const PairedComparison better = ComparePaired(oa, ob, 1, 2000);
  CHECK(better.both == 10);
  CHECK(better.only_a == 30);
  CHECK(better.only_b == 2);
  CHECK(better.neither == 18);
  CHECK(better.verdict == "better");
  CHECK(better.mcnemar.p_exact == doctest::Approx(McNemarExact(30, 2).p_exact));
  CHECK(better.bootstrap.difference == doctest::Approx(28.0 / 60));
  CHECK(ComparePaired(ob, oa, 1, 2000).verdict == "worse");
  CHECK(ComparePaired(oa, oa, 1, 2000).verdict == "indistinguishable");
  // 5 against 3 discordant: not enough evidence.
  std::vector<int> c(20, 0), d(20, 0);
  for (int i = 0; i < 5; ++i) c[i] = 1;
  for (int i = 5; i < 8; ++i) d[i] = 1;
  const PairedComparison close = ComparePaired(Outcomes(c, "C"), Outcomes(d, "D"), 1, 2000);
  CHECK(close.verdict == "indistinguishable");
  const nlohmann::json json = ToJson(close);
  CHECK(json["verdict"] == "indistinguishable");
  CHECK(json["only_a_succeeded"] == 5);
  CHECK(FormatComparison(close, "c.ckpt", "d.ckpt").find("A (c.ckpt) is indistinguishable from B (d.ckpt)") !=
        std::string::npos);
  // 8 differing episodes could have called a difference: no note about the sample.
  CHECK(FormatComparison(close, "c", "d").find("evaluate more episodes") == std::string::npos);
  // 4 against 0: +100% of what differs, yet the test cannot call it; the table says why.
  CHECK(MinDiscordantPairs(0.05) == 5);
  CHECK(McNemarExact(5, 0).p_mid < 0.05);
  CHECK_FALSE(McNemarExact(4, 0).p_mid < 0.05);
  const std::vector<int> four = {1, 1, 1, 1}, none = {0, 0, 0, 0};
  const PairedComparison small = ComparePaired(Outcomes(four, "A"), Outcomes(none, "B"), 1, 2000);
  CHECK(small.verdict == "indistinguishable");
  CHECK(FormatComparison(small, "a", "b").find("at alpha 0.05: only 4 episodes differ, and the test needs at least 5 "
                                               "to call a difference (evaluate more episodes)") != std::string::npos);
}

}  // namespace
}  // namespace perpetua

namespace perpetua {
namespace {

TEST_CASE("the stderr table folds many objects into a pointer to the JSON") {
  std::vector<EpisodeOutcome> outcomes;
  for (int i = 0; i < 40; ++i) {
    EpisodeOutcome o;
    o.index = i;
    o.object_ids = {1000 + i};
    o.object_families = {i % 2 ? "box" : "tee"};
    outcomes.push_back(o);
  }
  const EvalSummary s = Summarize(outcomes);
  CHECK(s.per_object.size() == 40);
  CHECK(s.per_family.size() == 2);
  CHECK(s.per_family.at("box").episodes == 20);
  const std::string table = FormatSummary(s);
  CHECK(table.find("40 objects: per-object rows are in the JSON report") != std::string::npos);
  CHECK(table.find("  box  ") != std::string::npos);
  CHECK(ToJson(s)["per_object"].size() == 40);
}

}  // namespace
}  // namespace perpetua
