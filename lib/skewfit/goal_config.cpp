#include "skewfit/goal_config.h"

#include <cmath>

#include "common/error.h"
#include "common/flag_check.h"

namespace perpetua {

void GoalRelabelConfig::Validate(const std::string& prefix) const {
  const auto share = [](double x) { return x >= 0 && x <= 1; };
  RequireFlag(share(rollout_fraction), prefix, "rollout_fraction", "must be in [0, 1]");
  RequireFlag(share(sampled_fraction), prefix, "sampled_fraction", "must be in [0, 1]");
  RequireFlag(rollout_fraction + sampled_fraction <= 1 + 1e-9, prefix, "sampled_fraction",
              "plus --" + prefix + ".rollout-fraction must be at most 1 (the rest are hindsight goals)");
  RequireFlag(sampled_from == "prior" || sampled_from == "data", prefix, "sampled_from",
              "must be prior or data, not '" + sampled_from + "'");
  RequireFlag(!goal_key.empty(), prefix, "goal_key", "must name an observation");
  RequireFlag(fit_every >= 0, prefix, "fit_every", "must be >= 0 (0: the VAE stays as loaded)");
  RequireFlag(alpha >= -1 && alpha <= 0, prefix, "alpha", "must be in [-1, 0] (0: RIG, negative: Skew-Fit)");
  RequireFlag(vae_lr > 0 && std::isfinite(vae_lr), prefix, "vae_lr", "must be positive");
  RequireFlag(skew_warmup >= 0, prefix, "skew_warmup", "must be >= 0");
  RequireFlag(skew_pool > 0, prefix, "skew_pool", "must be positive");
  RequireFlag(skew_min_ess >= 0 && skew_min_ess <= 1, prefix, "skew_min_ess", "must be in [0, 1]");
  RequireFlag(skew_refresh > 0, prefix, "skew_refresh", "must be positive");
}

std::string GoalSettings::vae_path() const { return goals.rfind("vae:", 0) == 0 ? goals.substr(4) : std::string(); }

void GoalSettings::Validate() const {
  if (!enabled()) return;
  if (vae_path().empty()) {
    Fail(ExitCode::kUsage, "--goals must be vae:CKPT (an rl-goals fit checkpoint), not '" + goals + "'");
  }
  goal.Validate("goal");
}

}  // namespace perpetua
