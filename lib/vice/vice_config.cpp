#include "vice/vice_config.h"

#include <cmath>

#include "common/error.h"
#include "common/flag_check.h"

namespace perpetua {

nlohmann::json ViceNetworkConfig::ToJson() const {
  return {{"conv_channels", conv_channels}, {"hidden", hidden}};
}

ViceNetworkConfig ViceNetworkConfig::FromJson(const nlohmann::json& json, const std::string& source) {
  ViceNetworkConfig c;
  try {
    c.conv_channels = json.at("conv_channels").get<std::vector<int>>();
    c.hidden = json.at("hidden").get<int>();
    c.Validate("network");
  } catch (const nlohmann::json::exception&) {
    Fail(ExitCode::kBadData, source + ": malformed classifier layers");
  } catch (const Error& e) {
    Fail(ExitCode::kBadData, source + ": " + e.what());
  }
  return c;
}

void ViceNetworkConfig::Validate(const std::string& prefix) const {
  RequireFlag(!conv_channels.empty() && conv_channels.size() <= 4, prefix, "conv_channels", "must list 1 to 4 layers");
  for (int c : conv_channels) RequireFlag(c > 0 && c <= 1024, prefix, "conv_channels", "must be in 1..1024");
  RequireFlag(hidden > 0 && hidden <= 65536, prefix, "hidden", "must be in 1..65536");
}

void ViceClassifierConfig::Validate(const std::string& prefix) const {
  network.Validate(prefix + ".network");
  RequireFlag(lr > 0 && std::isfinite(lr), prefix, "lr", "must be positive");
  RequireFlag(positives > 0, prefix, "positives", "must be positive");
  RequireFlag(negatives > 0, prefix, "negatives", "must be positive");
  RequireFlag(mixup_alpha >= 0 && std::isfinite(mixup_alpha), prefix, "mixup_alpha", "must be >= 0 (0: no mixup)");
  RequireFlag(augment_shift >= 0 && augment_shift <= 16, prefix, "augment_shift", "must be in 0..16");
  RequireFlag(holdout >= 0 && holdout < 1, prefix, "holdout", "must be in [0, 1)");
}

void ViceConfig::Validate() const {
  classifier.Validate("vice.classifier");
  RequireFlag(train_every > 0, "vice", "train_every", "must be positive");
  RequireFlag(query_every >= 0, "vice", "query_every", "must be >= 0 (0: no questions)");
  RequireFlag(max_queries >= 0, "vice", "max_queries", "must be >= 0 (0: no limit)");
  RequireFlag(oracle.empty() || oracle == "cell", "vice", "oracle", "must be cell or empty (a person answers)");
  RequireFlag(oracle.empty() || query_every > 0, "vice", "oracle", "answers questions: set --vice.query-every too");
}

void RewardSettings::Validate() const {
  if (reward != "env" && reward != "vice") {
    Fail(ExitCode::kUsage, "--reward must be env or vice, not '" + reward + "'");
  }
  if (reward == "vice") {
    if (vice.examples.empty()) Fail(ExitCode::kUsage, "--reward vice needs --vice.examples DIR");
    vice.Validate();
  }
}

}  // namespace perpetua
