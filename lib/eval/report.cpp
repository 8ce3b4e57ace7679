#include "eval/report.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <sstream>

#include "common/error.h"

namespace perpetua {

EpisodeOutcome OutcomeOf(const RolloutResult& result) {
  EpisodeOutcome outcome;
  outcome.index = result.index;
  outcome.seed = result.episode.metadata.seed;
  outcome.success = result.episode.metadata.success;
  outcome.total_return = result.total_return;
  outcome.length = result.episode.num_steps();
  outcome.object_ids = result.episode.metadata.object_ids;
  outcome.object_families.assign(outcome.object_ids.size(), "");
  const nlohmann::json& info = result.reset_info;
  if (info.is_object() && info.contains("objects") && info["objects"].is_array()) {
    for (const auto& object : info["objects"]) {
      if (!object.is_object() || !object.contains("id") || !object.contains("family")) continue;
      for (size_t i = 0; i < outcome.object_ids.size(); ++i) {
        if (object["id"] == outcome.object_ids[i] && object["family"].is_string()) {
          outcome.object_families[i] = object["family"].get<std::string>();
        }
      }
    }
  }
  if (info.is_object() && info.contains("goal_region") && info["goal_region"].is_string()) {
    outcome.goal_region = info["goal_region"].get<std::string>();
  }
  outcome.policy_id = result.episode.metadata.policy_id;
  outcome.interrupted = result.episode.metadata.interrupted;
  outcome.unstable = result.final_info.is_object() && result.final_info.contains("unstable");
  if (!outcome.success && !outcome.interrupted) {
    const nlohmann::json& last = result.final_info;
    const std::vector<uint8_t>& truncated = result.episode.truncated;
    if (outcome.unstable) {
      outcome.failure = "unstable";
    } else if (last.is_object() && last.contains("failure") && last["failure"].is_string() &&
               !last["failure"].get<std::string>().empty()) {
      outcome.failure = last["failure"].get<std::string>();
    } else if (!truncated.empty() && truncated.back()) {
      outcome.failure = "time-limit";
    } else {
      outcome.failure = "ended";
    }
  }
  return outcome;
}

RateSummary SummarizeRate(int64_t successes, int64_t episodes) {
  RateSummary rate;
  rate.episodes = episodes;
  rate.successes = successes;
  if (episodes > 0) {
    rate.rate = double(successes) / double(episodes);
    rate.interval = WilsonInterval(successes, episodes);
  } else {
    rate.interval = {0.0, 1.0};
  }
  return rate;
}

EvalSummary Summarize(const std::vector<EpisodeOutcome>& outcomes) {
  PERPETUA_CHECK(!outcomes.empty());
  EvalSummary summary;
  summary.policy_id = outcomes.front().policy_id;
  int64_t successes = 0;
  double returns = 0.0, lengths = 0.0;
  std::map<int64_t, std::pair<int64_t, int64_t>> objects;  // id -> (successes, episodes)
  std::map<std::string, std::pair<int64_t, int64_t>> families, regions;
  int64_t counted = 0;
  for (const EpisodeOutcome& o : outcomes) {
    // An interrupted episode says nothing about the policy: kept apart from failures.
    if (o.interrupted) {
      ++summary.interrupted;
      continue;
    }
    ++counted;
    if (o.unstable) summary.unstable_seeds.push_back(o.seed);
    successes += o.success;
    if (!o.success) ++summary.failures[o.failure.empty() ? "ended" : o.failure];
    returns += o.total_return;
    lengths += double(o.length);
    // An object listed twice in one episode counts once.
    for (int64_t id : std::set<int64_t>(o.object_ids.begin(), o.object_ids.end())) {
      objects[id].first += o.success;
      objects[id].second += 1;
    }
    std::set<std::string> present;
    for (size_t i = 0; i < o.object_ids.size(); ++i) {
      const std::string family = i < o.object_families.size() ? o.object_families[i] : "";
      if (!family.empty()) summary.object_family[o.object_ids[i]] = family;
      if (!family.empty()) present.insert(family);
    }
    for (const std::string& family : present) {
      families[family].first += o.success;
      families[family].second += 1;
    }
    if (!o.goal_region.empty()) {
      regions[o.goal_region].first += o.success;
      regions[o.goal_region].second += 1;
    }
  }
  const double n = double(std::max<int64_t>(1, counted));
  summary.overall = SummarizeRate(successes, counted);
  summary.mean_return = returns / n;
  summary.mean_length = lengths / n;
  for (const auto& [id, counts] : objects) {
    summary.per_object[id] = SummarizeRate(counts.first, counts.second);
    summary.object_family.emplace(id, "");
  }
  for (const auto& [family, counts] : families) {
    summary.per_family[family] = SummarizeRate(counts.first, counts.second);
  }
  for (const auto& [region, counts] : regions) {
    summary.per_goal_region[region] = SummarizeRate(counts.first, counts.second);
  }
  return summary;
}

PairedComparison ComparePaired(const std::vector<EpisodeOutcome>& a,
                               const std::vector<EpisodeOutcome>& b, uint64_t seed,
                               int bootstrap_resamples, double alpha) {
  PERPETUA_CHECK(!a.empty() && a.size() == b.size());
  PairedComparison comparison;
  comparison.alpha = alpha;
  comparison.pairs = int64_t(a.size());
  std::vector<uint8_t> success_a, success_b;
  for (size_t i = 0; i < a.size(); ++i) {
    PERPETUA_CHECK_MSG(a[i].index == b[i].index && a[i].seed == b[i].seed,
                       "compared outcomes are not paired episode by episode");
    success_a.push_back(a[i].success);
    success_b.push_back(b[i].success);
    if (a[i].success && b[i].success) ++comparison.both;
    if (a[i].success && !b[i].success) ++comparison.only_a;
    if (!a[i].success && b[i].success) ++comparison.only_b;
    if (!a[i].success && !b[i].success) ++comparison.neither;
  }
  comparison.mcnemar = McNemarExact(comparison.only_a, comparison.only_b);
  comparison.bootstrap = PairedBootstrap(success_a, success_b, bootstrap_resamples, seed);
  if (comparison.mcnemar.p_mid < alpha) {
    comparison.verdict = comparison.only_a > comparison.only_b ? "better" : "worse";
  } else {
    comparison.verdict = "indistinguishable";
  }
  return comparison;
}

nlohmann::json ToJson(const RateSummary& rate) {
  return {{"episodes", rate.episodes},
          {"successes", rate.successes},
          {"success_rate", rate.rate},
          {"wilson95", {rate.interval.low, rate.interval.high}}};
}

nlohmann::json ToJson(const EvalSummary& summary) {
  nlohmann::json json = ToJson(summary.overall);
  json["policy_id"] = summary.policy_id;
  json["interrupted"] = summary.interrupted;
  json["unstable"] = summary.unstable_seeds.size();
  json["unstable_seeds"] = summary.unstable_seeds;
  json["mean_return"] = summary.mean_return;
  json["mean_length"] = summary.mean_length;
  nlohmann::json objects = nlohmann::json::array();
  for (const auto& [id, rate] : summary.per_object) {
    nlohmann::json row = ToJson(rate);
    row["object_id"] = id;
    row["family"] = summary.object_family.at(id);
    objects.push_back(row);
  }
  json["per_object"] = objects;
  nlohmann::json families = nlohmann::json::array();
  for (const auto& [family, rate] : summary.per_family) {
    nlohmann::json row = ToJson(rate);
    row["family"] = family;
    families.push_back(row);
  }
  json["per_family"] = families;
  nlohmann::json regions = nlohmann::json::array();
  for (const auto& [region, rate] : summary.per_goal_region) {
    nlohmann::json row = ToJson(rate);
    row["region"] = region;
    regions.push_back(row);
  }
  json["per_goal_region"] = regions;
  json["failures"] = summary.failures;
  return json;
}

nlohmann::json ToJson(const PairedComparison& c) {
  return {{"pairs", c.pairs},
          {"both_succeeded", c.both},
          {"only_a_succeeded", c.only_a},
          {"only_b_succeeded", c.only_b},
          {"neither_succeeded", c.neither},
          {"difference", c.bootstrap.difference},
          {"difference_bootstrap95", {c.bootstrap.interval.low, c.bootstrap.interval.high}},
          {"bootstrap_p", c.bootstrap.p_two_sided},
          {"mcnemar_p_exact", c.mcnemar.p_exact},
          {"mcnemar_p_mid", c.mcnemar.p_mid},
          {"alpha", c.alpha},
          {"verdict", c.verdict}};
}

nlohmann::json ToJson(const EpisodeOutcome& o) {
  return {{"index", o.index},   {"seed", o.seed},     {"success", o.success},
          {"return", o.total_return}, {"length", o.length}, {"object_ids", o.object_ids},
          {"object_families", o.object_families}, {"goal_region", o.goal_region}, {"policy_id", o.policy_id},
          {"interrupted", o.interrupted}, {"unstable", o.unstable}, {"failure", o.failure}};
}

namespace {
std::string Format(const char* format, double a, double b = 0, double c = 0) {
  char buffer[128];
  std::snprintf(buffer, sizeof buffer, format, a, b, c);
  return buffer;
}
std::string RateCells(const RateSummary& r) {
  return Format("%5.1f%%  [%5.1f%%, %5.1f%%]", 100 * r.rate, 100 * r.interval.low,
                100 * r.interval.high);
}
}  // namespace

std::string FormatSummary(const EvalSummary& s) {
  // Held-out sets have many objects, each met a few times: beyond this many
  // the per-family table is the readable one.
  constexpr size_t kMaxObjectRows = 30;
  std::ostringstream out;
  out << "policy " << (s.label.empty() ? s.policy_id : s.label) << ": success " << s.overall.successes << "/" << s.overall.episodes
      << " = " << RateCells(s.overall) << " (95% Wilson)\n";
  if (s.interrupted > 0) {
    out << s.interrupted << " interrupted episode(s) (robot e-stop or a person) not counted\n";
  }
  if (!s.unstable_seeds.empty()) {
    out << s.unstable_seeds.size() << " episode(s) ended by a physics blow-up, counted as failures (seeds";
    for (size_t i = 0; i < s.unstable_seeds.size() && i < 10; ++i) out << " " << s.unstable_seeds[i];
    out << (s.unstable_seeds.size() > 10 ? " ...)\n" : ")\n");
  }
  out << "mean return " << Format("%.3f", s.mean_return) << ", mean length "
      << Format("%.1f", s.mean_length) << " steps\n";
  if (!s.failures.empty()) {
    out << "failures:";
    const char* separator = " ";
    for (const auto& [reason, count] : s.failures) {
      out << separator << count << " " << reason;
      separator = ", ";
    }
    out << "\n";
  }
  if (s.per_object.size() > kMaxObjectRows) {
    out << "  " << s.per_object.size() << " objects: per-object rows are in the JSON report (per_object)\n";
  } else if (!s.per_object.empty()) {
    out << "  object  family        episodes  success  rate    95% interval\n";
    for (const auto& [id, r] : s.per_object) {
      char family[16];
      std::snprintf(family, sizeof family, "%-12.12s", s.object_family.at(id).c_str());
      out << Format("  %6.0f  ", double(id)) << family
          << Format("  %8.0f  %7.0f  ", double(r.episodes), double(r.successes)) << RateCells(r) << "\n";
    }
  }
  if (!s.per_family.empty()) {
    out << "  family        episodes  success  rate    95% interval\n";
    for (const auto& [name, r] : s.per_family) {
      char family[16];
      std::snprintf(family, sizeof family, "%-12.12s", name.c_str());
      out << "  " << family << Format("  %8.0f  %7.0f  ", double(r.episodes), double(r.successes))
          << RateCells(r) << "\n";
    }
  }
  if (!s.per_goal_region.empty()) {
    out << "  goal region     episodes  success  rate    95% interval\n";
    for (const auto& [name, r] : s.per_goal_region) {
      char region[16];
      std::snprintf(region, sizeof region, "%-14.14s", name.c_str());
      out << "  " << region << Format("%8.0f  %7.0f  ", double(r.episodes), double(r.successes)) << RateCells(r)
          << "\n";
    }
  }
  return out.str();
}

int64_t MinDiscordantPairs(double alpha) {
  int64_t n = 1;
  while (n < 64 && !(McNemarExact(n, 0).p_mid < alpha)) ++n;
  return n;
}

std::string FormatComparison(const PairedComparison& c, const std::string& name_a,
                             const std::string& name_b) {
  std::ostringstream out;
  out << "paired on " << c.pairs << " episodes: both " << c.both << ", only A " << c.only_a
      << ", only B " << c.only_b << ", neither " << c.neither << "\n";
  out << "A - B = " << Format("%+.1f%% [%+.1f%%, %+.1f%%]", 100 * c.bootstrap.difference,
                              100 * c.bootstrap.interval.low, 100 * c.bootstrap.interval.high)
      << " (paired bootstrap 95%); McNemar mid-p " << Format("%.4g", c.mcnemar.p_mid)
      << ", exact p " << Format("%.4g", c.mcnemar.p_exact) << "\n";
  out << "A (" << name_a << ") is " << c.verdict
      << (c.verdict == "indistinguishable" ? " from" : " than") << " B (" << name_b << ") at alpha "
      << Format("%g", c.alpha);
  const int64_t needed = MinDiscordantPairs(c.alpha);
  if (c.verdict == "indistinguishable" && c.only_a + c.only_b < needed) {
    out << ": only " << c.only_a + c.only_b << " episodes differ, and the test needs at least " << needed
        << " to call a difference (evaluate more episodes)";
  }
  out << "\n";
  return out.str();
}

}  // namespace perpetua
