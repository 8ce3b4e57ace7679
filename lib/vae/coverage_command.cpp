#include "vae/coverage_command.h"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/array.h"
#include "data/dataset_reader.h"
#include "sim/png.h"
#include "vae/skew.h"

namespace perpetua {
namespace {

// The cell of value(s) `v` (1 or 2 numbers), or -1 when `v` is not a state of that form.
int Cell(const nlohmann::json& v, const CoverageConfig& c) {
  const auto bin = [&](double x) {
    const double u = (x - c.range[0]) / (c.range[1] - c.range[0]);
    return std::clamp(static_cast<int>(std::floor(u * c.bins)), 0, c.bins - 1);
  };
  if (v.is_number()) return bin(v.get<double>());
  if (v.is_array() && v.size() == 2 && v[0].is_number() && v[1].is_number()) {
    return bin(v[1].get<double>()) * c.bins + bin(v[0].get<double>());
  }
  return -1;
}

}  // namespace

void CoverageConfig::Validate(bool inputs) const {
  if (inputs && data.empty()) Fail(ExitCode::kUsage, "--data is required");
  if (range.size() != 2 || !(range[0] < range[1]) || !std::isfinite(range[0]) || !std::isfinite(range[1])) {
    Fail(ExitCode::kUsage, "--range must be low,high with low < high");
  }
  if (bins < 2 || bins > 1000) Fail(ExitCode::kUsage, "--bins must be in 2..1000");
  if (windows < 1 || windows > 1000) Fail(ExitCode::kUsage, "--windows must be in 1..1000");
  if (state.empty()) Fail(ExitCode::kUsage, "--state must name a true-state key");
}

ExitCode RunCoverage(const CoverageConfig& config) {
  config.Validate();
  DatasetReader reader(config.data);
  const size_t episodes = reader.num_episodes();
  // Per episode: its histogram (cells fixed by the first state seen: bins or bins^2).
  std::vector<std::vector<int64_t>> per_episode(episodes);
  int cells = 0;
  int64_t observations = 0;
  for (size_t e = 0; e < episodes; ++e) {
    const Episode episode = reader.ReadEpisode(e);
    const nlohmann::json extra = nlohmann::json::parse(episode.metadata.extra_json, nullptr, false);
    if (extra.is_discarded() || !extra.contains("true_state") || !extra["true_state"].is_object()) continue;
    const nlohmann::json& states = extra["true_state"];  // key -> one value per observation
    if (!states.contains(config.state) || !states[config.state].is_array()) continue;
    for (const nlohmann::json& value : states[config.state]) {
      if (cells == 0) cells = value.is_array() ? config.bins * config.bins : config.bins;
      const int cell = Cell(value, config);
      if (cell < 0 || cell >= cells) continue;
      if (per_episode[e].empty()) per_episode[e].assign(static_cast<size_t>(cells), 0);
      ++per_episode[e][static_cast<size_t>(cell)];
      ++observations;
    }
  }
  if (observations == 0) {
    Fail(ExitCode::kBadData, config.data.front() + ": no observation records the true state '" + config.state +
                                 "' (extra_json.true_state; door records door_angle, push puck)");
  }
  const auto sum = [&](size_t first, size_t last) {
    std::vector<int64_t> histogram(static_cast<size_t>(cells), 0);
    for (size_t e = first; e < last; ++e) {
      for (size_t i = 0; i < per_episode[e].size(); ++i) histogram[i] += per_episode[e][i];
    }
    return histogram;
  };
  const std::vector<int64_t> all = sum(0, episodes);
  nlohmann::json report = {{"state", config.state},
                           {"range", config.range},
                           {"bins", config.bins},
                           {"episodes", episodes},
                           {"observations", observations},
                           {"histogram", all},
                           {"entropy", HistogramEntropy(all)},
                           {"max_entropy", std::log(static_cast<double>(cells))}};
  const size_t windows = std::min<size_t>(static_cast<size_t>(config.windows), episodes);
  nlohmann::json rows = nlohmann::json::array();
  std::vector<std::vector<int64_t>> histograms;
  for (size_t w = 0; w < windows; ++w) {
    const size_t first = episodes * w / windows, last = episodes * (w + 1) / windows;
    histograms.push_back(sum(first, last));
    rows.push_back({{"first_episode", first},
                    {"last_episode", last - 1},
                    {"histogram", histograms.back()},
                    {"entropy", HistogramEntropy(histograms.back())}});
  }
  report["windows"] = rows;
  if (!config.png.empty()) {
    // One row of cells per window, white for its largest bin, black for none.
    Array image = Array::Zeros(DType::kUint8, {static_cast<int64_t>(histograms.size()), cells, 3});
    for (size_t w = 0; w < histograms.size(); ++w) {
      const int64_t most = std::max<int64_t>(1, *std::max_element(histograms[w].begin(), histograms[w].end()));
      for (int c = 0; c < cells; ++c) {
        const auto shade = static_cast<uint8_t>(255 * histograms[w][static_cast<size_t>(c)] / most);
        for (int k = 0; k < 3; ++k) image.u8[(w * cells + c) * 3 + k] = shade;
      }
    }
    sim::WritePng(config.png, image, std::max(1, 240 / std::max(cells, 1)));
  }
  std::cout << report.dump() << std::endl;
  return ExitCode::kOk;
}

}  // namespace perpetua
