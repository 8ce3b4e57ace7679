#include "sac/sac_config.h"

#include <cmath>

#include "common/error.h"

namespace perpetua {
namespace {

std::string Flag(const std::string& prefix, const std::string& name) {
  std::string flag = "--" + (prefix.empty() ? "" : prefix + ".") + name;
  for (char& c : flag) c = c == '_' ? '-' : c;
  return flag;
}

void Require(bool ok, const std::string& prefix, const std::string& name, const std::string& what) {
  if (!ok) Fail(ExitCode::kUsage, Flag(prefix, name) + " " + what);
}

bool Positive(double x) { return x > 0.0 && std::isfinite(x); }

}  // namespace

nlohmann::json SacNetworkConfig::ToJson() const {
  return {{"hidden", hidden},           {"encoder_channels", encoder_channels},
          {"encoder_strides", encoder_strides}, {"feature_dim", feature_dim},
          {"log_std_min", log_std_min}, {"log_std_max", log_std_max}};
}

SacNetworkConfig SacNetworkConfig::FromJson(const nlohmann::json& json, const std::string& source) {
  SacNetworkConfig c;
  try {
    c.hidden = json.at("hidden").get<std::vector<int>>();
    c.encoder_channels = json.at("encoder_channels").get<std::vector<int>>();
    c.encoder_strides = json.at("encoder_strides").get<std::vector<int>>();
    c.feature_dim = json.at("feature_dim").get<int>();
    c.log_std_min = json.at("log_std_min").get<double>();
    c.log_std_max = json.at("log_std_max").get<double>();
    c.Validate("network");
  } catch (const nlohmann::json::exception&) {
    Fail(ExitCode::kBadData, source + ": malformed SAC network sizes");
  } catch (const Error& e) {
    Fail(ExitCode::kBadData, source + ": " + e.what());
  }
  return c;
}

void SacNetworkConfig::Validate(const std::string& prefix) const {
  Require(!hidden.empty(), prefix, "hidden", "must list at least one layer");
  for (int h : hidden) Require(h > 0, prefix, "hidden", "must be positive");
  Require(encoder_channels.size() == encoder_strides.size() && !encoder_channels.empty(), prefix,
          "encoder_strides", "must give one stride per encoder channel entry");
  for (int c : encoder_channels) Require(c > 0, prefix, "encoder_channels", "must be positive");
  for (int s : encoder_strides) Require(s > 0, prefix, "encoder_strides", "must be positive");
  Require(feature_dim > 0, prefix, "feature_dim", "must be positive");
  Require(std::isfinite(log_std_min) && std::isfinite(log_std_max) && log_std_min < log_std_max, prefix,
          "log_std_min", "must be finite and below log-std-max");
}

void SacConfig::Validate(const std::string& prefix) const {
  network.Validate(Flag(prefix, "network").substr(2));
  Require(Positive(actor_lr), prefix, "actor_lr", "must be positive");
  Require(Positive(critic_lr), prefix, "critic_lr", "must be positive");
  Require(Positive(alpha_lr), prefix, "alpha_lr", "must be positive");
  Require(Positive(adam_eps), prefix, "adam_eps", "must be positive");
  Require(batch_size >= 1, prefix, "batch_size", "must be >= 1");
  Require(gamma >= 0.0 && gamma <= 1.0, prefix, "gamma", "must be in [0, 1]");
  Require(tau > 0.0 && tau <= 1.0, prefix, "tau", "must be in (0, 1]");
  Require(Positive(initial_alpha), prefix, "initial_alpha", "must be positive");
  Require(std::isfinite(target_entropy), prefix, "target_entropy", "must be finite");
  Require(warmup_steps >= 0, prefix, "warmup_steps", "must be >= 0");
  Require(policy_every >= 1, prefix, "policy_every", "must be >= 1");
  Require(Positive(updates_per_step), prefix, "updates_per_step", "must be positive");
  Require(augment_shift >= 0, prefix, "augment_shift", "must be >= 0");
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
