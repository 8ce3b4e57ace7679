// rl-goals coverage: how evenly the robot's states spread over a cell's range,
// from the true state recorded with every observation (extra_json.true_state,
// env/env.h), which no learner sees. Skew-Fit's measure: the entropy of the
// histogram of the states reached, over all the data and over consecutive
// windows of its episodes (in the order the data lists them: shards by name,
// which is their creation order within a collector), so the spread can be
// followed as training goes on.
//
// Output (stdout, JSON): {"state", "range", "bins", "episodes",
// "observations", "histogram", "entropy" (nats), "max_entropy" (log of the
// number of cells), "windows": [{"first_episode", "last_episode",
// "histogram", "entropy"}]}. A scalar state (door_angle) is binned over
// --range in --bins bins; an [x, y] state (the push puck) in bins x bins cells
// over --range on both axes. Values outside the range go to the end bins.
// --png FILE: the windows' histograms as rows of a heat map (each row scaled
// to its largest bin; time runs down), for a person to look at.
// Torch-free.
#pragma once

#include <string>
#include <vector>

#include "common/config.h"
#include "common/error.h"

namespace perpetua {

struct CoverageConfig {
  std::vector<std::string> data;
  std::string state = "door_angle";
  std::vector<double> range = {0.0, 1.2};
  int bins = 12;
  int windows = 4;
  std::string png;
  void Visit(ConfigVisitor& v) {
    v.Field("data", data, "dataset directories or shards", FieldKind::kRequired);
    v.Field("state", state, "the true-state key to histogram: door_angle (door) or puck (push)");
    v.Field("range", range, "low,high of the histogram (both axes for an [x, y] state)");
    v.Field("bins", bins, "bins (per axis for an [x, y] state)");
    v.Field("windows", windows, "consecutive windows of episodes with a histogram each");
    v.Field("png", png, "also draw the windows' histograms as a heat map PNG here");
  }
  // Error(kUsage) naming the flag; with `inputs` false (--print-config) a missing --data is not an error.
  void Validate(bool inputs = true) const;
};

// Error(kBadData) when no observation of the data records the state.
ExitCode RunCoverage(const CoverageConfig& config);

}  // namespace perpetua
