// The Q-network's size as loaders compute it before building one.
// The torch headers come first: they define glog's CHECK, which doctest's must replace.
#include "qtopt/q_network.h"

#include <doctest/doctest.h>

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

TEST_CASE("every terminating action is one action to the Q-network; the others stay distinct") {
  EnvSpec env;
  env.observations = {{"image", DType::kUint8, {16, 16, 3}}, {"proprio", DType::kFloat32, {2}}};
  env.action.low = {-1, -1, -1};
  env.action.high = {1, 1, 1};
  env.action.names = {"dx", "terminate", "gripper"};
  const QInputSpec spec = QInputSpec::FromEnvSpec(env, "test");
  CHECK(spec.terminate_index == 1);
  // The index travels with the checkpoint's spec; older specs without it have none.
  CHECK(QInputSpec::FromJson(spec.ToJson(), "json").terminate_index == 1);
  nlohmann::json old = spec.ToJson();
  old.erase("terminate_index");
  const QInputSpec without = QInputSpec::FromJson(old, "old");
  CHECK(without.terminate_index == -1);
  CHECK(without.Difference(spec) == "terminate action none vs component 1");
  old["terminate_index"] = 3;
  CHECK_THROWS_WITH(QInputSpec::FromJson(old, "bad"), "bad: checkpoint input spec is inconsistent");

  torch::manual_seed(1);
  QNetworkConfig config;
  config.encoder_channels = {4, 4};
  config.hidden = 8;
  QNetwork network(config, spec);
  const torch::Tensor image = torch::randint(0, 255, {4, 16, 16, 3}, torch::kUInt8);
  const torch::Tensor proprio = torch::randn({4, 2});
  // Rows 0-1 terminate with different other components; rows 2-3 do not.
  const torch::Tensor action = torch::tensor({0.7f, 0.3f, -0.9f, -0.2f, 1.0f, 0.5f, 0.7f, -0.3f, -0.9f,
                                              -0.2f, -0.01f, 0.5f}).view({4, 3});
  const torch::Tensor same_image = image.select(0, 0).unsqueeze(0).expand({4, 16, 16, 3});
  const torch::Tensor same_proprio = proprio.select(0, 0).unsqueeze(0).expand({4, 2});
  const torch::Tensor q = network->forward(same_image, same_proprio, action);
  CHECK(q[0].item<float>() == q[1].item<float>());
  CHECK(q[2].item<float>() != q[3].item<float>());
  const torch::Tensor canonical = network->CanonicalActions(action);
  CHECK(torch::equal(canonical.select(0, 0), torch::tensor({0.0f, 1.0f, 0.0f})));
  CHECK(torch::equal(canonical.slice(0, 2), action.slice(0, 2)));
  // Without a terminate component nothing is rewritten.
  QNetwork plain(config, without);
  CHECK(torch::equal(plain->CanonicalActions(action), action));
}

}  // namespace
}  // namespace perpetua
