#include "vae/vae_config.h"

#include <cmath>

#include "common/error.h"
#include "common/flag_check.h"

namespace perpetua {

nlohmann::json VaeNetworkConfig::ToJson() const {
  return {{"image_size", image_size},
          {"channels", channels},
          {"kernels", kernels},
          {"strides", strides},
          {"latent_dim", latent_dim}};
}

VaeNetworkConfig VaeNetworkConfig::FromJson(const nlohmann::json& json, const std::string& source) {
  VaeNetworkConfig c;
  try {
    c.image_size = json.at("image_size").get<int>();
    c.channels = json.at("channels").get<std::vector<int>>();
    c.kernels = json.at("kernels").get<std::vector<int>>();
    c.strides = json.at("strides").get<std::vector<int>>();
    c.latent_dim = json.at("latent_dim").get<int>();
    c.Validate("network");
  } catch (const nlohmann::json::exception&) {
    Fail(ExitCode::kBadData, source + ": malformed VAE layers");
  } catch (const Error& e) {
    Fail(ExitCode::kBadData, source + ": " + e.what());
  }
  return c;
}

std::vector<int> VaeNetworkConfig::FeatureSides() const {
  std::vector<int> sides;
  int side = image_size;
  for (size_t i = 0; i < kernels.size(); ++i) sides.push_back(side = (side - kernels[i]) / strides[i] + 1);
  return sides;
}

void VaeNetworkConfig::Validate(const std::string& prefix) const {
  RequireFlag(image_size >= 8 && image_size <= 512, prefix, "image_size", "must be in 8..512");
  RequireFlag(!channels.empty() && channels.size() <= 6, prefix, "channels", "must list 1 to 6 layers");
  RequireFlag(kernels.size() == channels.size(), prefix, "kernels", "must give one kernel size per channels entry");
  RequireFlag(strides.size() == channels.size(), prefix, "strides", "must give one stride per channels entry");
  for (int c : channels) RequireFlag(c > 0 && c <= 1024, prefix, "channels", "must be in 1..1024");
  for (int k : kernels) RequireFlag(k > 0 && k <= 15, prefix, "kernels", "must be in 1..15");
  for (int s : strides) RequireFlag(s > 0 && s <= 8, prefix, "strides", "must be in 1..8");
  RequireFlag(latent_dim > 0 && latent_dim <= 1024, prefix, "latent_dim", "must be in 1..1024");
  int side = image_size;
  for (size_t i = 0; i < kernels.size(); ++i) {
    RequireFlag(side >= kernels[i], prefix, "image_size",
                "is too small for the convs: layer " + std::to_string(i + 1) + " sees " + std::to_string(side) +
                    " pixels, less than its kernel " + std::to_string(kernels[i]));
    side = (side - kernels[i]) / strides[i] + 1;
  }
}

void VaeConfig::Validate(const std::string& prefix) const {
  network.Validate(prefix + ".network");
  RequireFlag(!image_key.empty(), prefix, "image_key", "must name an image observation");
  RequireFlag(decoder == "gaussian" || decoder == "bernoulli", prefix, "decoder",
              "must be gaussian or bernoulli, not '" + decoder + "'");
  RequireFlag(beta >= 0 && std::isfinite(beta), prefix, "beta", "must be >= 0");
  RequireFlag(lr > 0 && std::isfinite(lr), prefix, "lr", "must be positive");
  RequireFlag(alpha >= -1.0 && alpha <= 0.0, prefix, "alpha",
              "must be in [-1, 0] (0: RIG; > 0 would skew toward common images)");
  RequireFlag(skew_pool > 0, prefix, "skew_pool", "must be positive");
  RequireFlag(skew_refresh > 0, prefix, "skew_refresh", "must be positive");
  RequireFlag(skew_min_ess >= 0 && skew_min_ess <= 1, prefix, "skew_min_ess", "must be in [0, 1]");
  RequireFlag(skew_warmup >= 0, prefix, "skew_warmup", "must be >= 0");
  RequireFlag(density_samples > 0 && density_samples <= 1000, prefix, "density_samples", "must be in 1..1000");
}

}  // namespace perpetua
