#include "vae/vae_config.h"

#include <cmath>

#include "common/cli.h"
#include "common/error.h"

namespace perpetua {
namespace {

void Require(bool ok, const std::string& prefix, const std::string& name, const std::string& what) {
  if (!ok) Fail(ExitCode::kUsage, FlagName(prefix.empty() ? name : prefix + "." + name) + " " + what);
}

}  // namespace

nlohmann::json VaeNetworkConfig::ToJson() const {
  return {{"image_size", image_size}, {"channels", channels},       {"kernels", kernels},
          {"strides", strides},       {"latent_dim", latent_dim}};
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
  Require(image_size >= 8 && image_size <= 512, prefix, "image_size", "must be in 8..512");
  Require(!channels.empty() && channels.size() <= 6, prefix, "channels", "must list 1 to 6 layers");
  Require(kernels.size() == channels.size(), prefix, "kernels", "must give one kernel size per channels entry");
  Require(strides.size() == channels.size(), prefix, "strides", "must give one stride per channels entry");
  for (int c : channels) Require(c > 0 && c <= 1024, prefix, "channels", "must be in 1..1024");
  for (int k : kernels) Require(k > 0 && k <= 15, prefix, "kernels", "must be in 1..15");
  for (int s : strides) Require(s > 0 && s <= 8, prefix, "strides", "must be in 1..8");
  Require(latent_dim > 0 && latent_dim <= 1024, prefix, "latent_dim", "must be in 1..1024");
  int side = image_size;
  for (size_t i = 0; i < kernels.size(); ++i) {
    Require(side >= kernels[i], prefix, "image_size",
            "is too small for the convs: layer " + std::to_string(i + 1) + " sees " + std::to_string(side) +
                " pixels, less than its kernel " + std::to_string(kernels[i]));
    side = (side - kernels[i]) / strides[i] + 1;
  }
}

void VaeConfig::Validate(const std::string& prefix) const {
  network.Validate(prefix + ".network");
  Require(!image_key.empty(), prefix, "image_key", "must name an image observation");
  Require(beta >= 0 && std::isfinite(beta), prefix, "beta", "must be >= 0");
  Require(lr > 0 && std::isfinite(lr), prefix, "lr", "must be positive");
  Require(alpha >= -1.0 && alpha <= 0.0, prefix, "alpha", "must be in [-1, 0] (0: RIG; > 0 would skew toward common images)");
  Require(skew_pool > 0, prefix, "skew_pool", "must be positive");
  Require(skew_refresh > 0, prefix, "skew_refresh", "must be positive");
  Require(skew_warmup >= 0, prefix, "skew_warmup", "must be >= 0");
  Require(density_samples > 0 && density_samples <= 1000, prefix, "density_samples", "must be in 1..1000");
}

}  // namespace perpetua
