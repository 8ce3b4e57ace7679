// The Q-network's size as loaders compute it before building one.
#include <doctest/doctest.h>

#include "qtopt/q_network.h"

namespace perpetua {
namespace {

TEST_CASE("ParameterCount agrees with the built network and saturates on absurd sizes") {
  QInputSpec spec;
  spec.image_keys = {"image"};
  spec.height = 24;
  spec.width = 20;
  spec.proprio_keys = {"proprio"};
  spec.proprio_sizes = {3};
  spec.proprio_dim = 3;
  spec.action_low = {-1, -1};
  spec.action_high = {1, 1};
  for (const std::vector<int>& head : {std::vector<int>{}, std::vector<int>{8, 4}}) {
    QNetworkConfig config;
    config.encoder_channels = {8, 16};
    config.head_channels = head;
    config.hidden = 12;
    QNetwork network(config, spec);
    CHECK(QNetworkImpl::ParameterCount(config, spec) == static_cast<uint64_t>(CountParameters(*network)));
  }
  QNetworkConfig huge;
  huge.encoder_channels = {1 << 30, 1 << 30, 1 << 30};
  huge.hidden = 1 << 30;
  spec.height = spec.width = int64_t{1} << 40;
  CHECK(QNetworkImpl::ParameterCount(huge, spec) == UINT64_MAX);
}

}  // namespace
}  // namespace perpetua
