#include "sac/sac_config.h"

#include <cmath>

#include "common/error.h"
#include "common/flag_check.h"

namespace perpetua {
namespace {

bool Positive(double x) { return x > 0.0 && std::isfinite(x); }

}  // namespace

nlohmann::json SacNetworkConfig::ToJson() const {
  return {{"hidden", hidden},
          {"encoder_channels", encoder_channels},
          {"encoder_strides", encoder_strides},
          {"feature_dim", feature_dim},
          {"keypoints", keypoints},
          {"log_std_min", log_std_min},
          {"log_std_max", log_std_max},
          {"discrete_terminate", discrete_terminate}};
}

SacNetworkConfig SacNetworkConfig::FromJson(const nlohmann::json& json, const std::string& source) {
  SacNetworkConfig c;
  try {
    c.hidden = json.at("hidden").get<std::vector<int>>();
    c.encoder_channels = json.at("encoder_channels").get<std::vector<int>>();
    c.encoder_strides = json.at("encoder_strides").get<std::vector<int>>();
    c.feature_dim = json.at("feature_dim").get<int>();
    c.keypoints = json.value("keypoints", 0);  // absent before it existed
    c.log_std_min = json.at("log_std_min").get<double>();
    c.log_std_max = json.at("log_std_max").get<double>();
    c.discrete_terminate = json.value("discrete_terminate", false);  // absent before it existed
    c.Validate("network");
  } catch (const nlohmann::json::exception&) {
    Fail(ExitCode::kBadData, source + ": malformed SAC network sizes");
  } catch (const Error& e) {
    Fail(ExitCode::kBadData, source + ": " + e.what());
  }
  return c;
}

void SacNetworkConfig::Validate(const std::string& prefix) const {
  RequireFlag(!hidden.empty(), prefix, "hidden", "must list at least one layer");
  for (int h : hidden) RequireFlag(h > 0, prefix, "hidden", "must be positive");
  RequireFlag(encoder_channels.size() == encoder_strides.size() && !encoder_channels.empty(), prefix,
          "encoder_strides", "must give one stride per encoder channel entry");
  for (int c : encoder_channels) RequireFlag(c > 0, prefix, "encoder_channels", "must be positive");
  for (int s : encoder_strides) RequireFlag(s > 0, prefix, "encoder_strides", "must be positive");
  RequireFlag(feature_dim > 0, prefix, "feature_dim", "must be positive");
  RequireFlag(keypoints >= 0, prefix, "keypoints", "must be 0 (off) or positive");
  RequireFlag(std::isfinite(log_std_min) && std::isfinite(log_std_max) && log_std_min < log_std_max, prefix,
          "log_std_min", "must be finite and below log-std-max");
}

void SacConfig::Validate(const std::string& prefix) const {
  network.Validate(prefix.empty() ? "network" : prefix + ".network");
  RequireFlag(Positive(actor_lr), prefix, "actor_lr", "must be positive");
  RequireFlag(Positive(critic_lr), prefix, "critic_lr", "must be positive");
  RequireFlag(Positive(alpha_lr), prefix, "alpha_lr", "must be positive");
  RequireFlag(Positive(adam_eps), prefix, "adam_eps", "must be positive");
  RequireFlag(batch_size >= 1, prefix, "batch_size", "must be >= 1");
  RequireFlag(gamma >= 0.0 && gamma <= 1.0, prefix, "gamma", "must be in [0, 1]");
  RequireFlag(tau > 0.0 && tau <= 1.0, prefix, "tau", "must be in (0, 1]");
  RequireFlag(Positive(initial_alpha), prefix, "initial_alpha", "must be positive");
  RequireFlag(std::isfinite(target_entropy), prefix, "target_entropy", "must be finite");
  RequireFlag(warmup_steps >= 0, prefix, "warmup_steps", "must be >= 0");
  RequireFlag(policy_every >= 1, prefix, "policy_every", "must be >= 1");
  RequireFlag(Positive(updates_per_step), prefix, "updates_per_step", "must be positive");
  RequireFlag(augment_shift >= 0, prefix, "augment_shift", "must be >= 0");
  RequireFlag(n_step >= 1 && n_step <= kMaxNStep, prefix, "n_step", "must be in [1, " + std::to_string(kMaxNStep) + "]");
  RequireFlag(bc_weight >= 0.0 && std::isfinite(bc_weight), prefix, "bc_weight", "must be finite and >= 0");
  RequireFlag(bc_steps >= 0, prefix, "bc_steps", "must be >= 0");
  RequireFlag(bc_rows == "all" || bc_rows == "positive-return", prefix, "bc_rows",
              "must be all or positive-return, got '" + bc_rows + "'");
  RequireFlag(cql_weight >= 0.0 && std::isfinite(cql_weight), prefix, "cql_weight", "must be finite and >= 0");
  RequireFlag(cql_steps >= 0, prefix, "cql_steps", "must be >= 0");
  RequireFlag(cql_actions >= 1 && cql_actions <= 64, prefix, "cql_actions", "must be in 1..64");
  RequireFlag(policy_average >= 0.0 && policy_average <= 1.0, prefix, "policy_average", "must be in [0, 1]");
  const std::string network_prefix = prefix.empty() ? "network" : prefix + ".network";
  RequireFlag(!network.discrete_terminate || cql_weight == 0.0, network_prefix, "discrete_terminate",
              "does not combine with the conservative penalty");
}

SacConfig RlToolsPendulumConfig() {
  SacConfig c;
  c.network.hidden = {64, 64};
  c.actor_lr = c.critic_lr = c.alpha_lr = 1e-3;
  c.adam_eps = 1e-7;
  c.batch_size = 100;
  c.warmup_steps = 100;
  c.policy_every = 1;
  c.initial_alpha = 0.5;
  return c;
}

}  // namespace perpetua
