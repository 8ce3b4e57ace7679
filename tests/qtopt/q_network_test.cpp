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

TEST_CASE("every terminating action is one action to the Q-network - the others stay distinct") {
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

QInputSpec KeypointSpec() {
  EnvSpec env;
  env.observations = {{"image", DType::kUint8, {16, 16, 3}}, {"proprio", DType::kFloat32, {2}}};
  env.action.low = {-1, -1, -1};
  env.action.high = {1, 1, 1};
  env.action.names = {"dx", "terminate", "gripper"};
  return QInputSpec::FromEnvSpec(env, "test");
}

TEST_CASE("the default layout's Scores, a block of states at a time through oneDNN, equal Head of each pair") {
  // Blocks of max(1, 512 / N) states: 9 states of 64 actions are a block of
  // 8 and one of 1, 5 of 200 are 2, 2 and 1, 40 of 64 are five blocks; 1
  // state of 64 is acting. With a head convolution Scores takes the
  // unblocked path. At 1 and 2 threads.
  const QInputSpec spec = KeypointSpec();
  const int threads_before = torch::get_num_threads();
  for (const int threads : {1, 2}) {
    torch::set_num_threads(threads);
    for (const std::vector<int>& head_channels : {std::vector<int>{}, std::vector<int>{6}}) {
      QNetworkConfig config;
      config.encoder_channels = {4, 8};
      config.head_channels = head_channels;
      config.hidden = 16;
      torch::manual_seed(3);
      QNetwork network(config, spec);
      for (const auto& [states, n] : std::vector<std::pair<int64_t, int64_t>>{{9, 64}, {5, 200}, {40, 64}, {1, 64}}) {
        INFO(threads << " threads, " << states << " states x " << n << " actions, " << head_channels.size()
                     << " head convs");
        const torch::Tensor image = torch::randint(0, 255, {states, 16, 16, 3}, torch::kUInt8);
        const torch::Tensor proprio = torch::randn({states, 2});
        const torch::Tensor actions = torch::rand({states, n, 3}) * 2 - 1;
        torch::Tensor scores, head;
        {
          c10::InferenceMode guard;
          const torch::Tensor embedding = network->Embed(image);
          scores = network->Scores(embedding, proprio, actions);
          head = network->Head(embedding.repeat_interleave(n, 0), proprio.repeat_interleave(n, 0),
                               actions.reshape({states * n, 3}));
        }
        REQUIRE(scores.sizes() == torch::IntArrayRef({states, n}));
        CHECK(torch::allclose(scores.reshape({-1}), head, 1e-4, 1e-5));
        // Each state's scores do not depend on the other states in its block.
        torch::Tensor alone;
        {
          c10::InferenceMode guard;
          alone = network->Scores(network->Embed(image.slice(0, states - 1)), proprio.slice(0, states - 1),
                                  actions.slice(0, states - 1));
        }
        CHECK(torch::allclose(alone, scores.slice(0, states - 1), 1e-5, 1e-6));
      }
    }
  }
  torch::set_num_threads(threads_before);
}

TEST_CASE("the keypoint layout: sizes, one terminate action, Scores as Head, and its config checks") {
  const QInputSpec spec = KeypointSpec();
  QNetworkConfig config;
  config.encoder_channels = {4, 8};
  config.hidden = 16;
  config.keypoints = 5;
  torch::manual_seed(2);
  QNetwork network(config, spec);
  CHECK(QNetworkImpl::ParameterCount(config, spec) == static_cast<uint64_t>(CountParameters(*network)));

  const torch::Tensor image = torch::randint(0, 255, {3, 16, 16, 3}, torch::kUInt8);
  const torch::Tensor proprio = torch::randn({3, 2});
  const torch::Tensor embedding = network->Embed(image);
  REQUIRE(embedding.sizes() == torch::IntArrayRef({3, 10}));
  CHECK(embedding.abs().max().item<float>() <= 1.0f);

  // Scores of N actions per state equal Head of each (state, action) pair.
  const int64_t n = 6;
  const torch::Tensor actions = torch::rand({3, n, 3}) * 2 - 1;
  torch::Tensor scores;
  {
    c10::InferenceMode guard;
    scores = network->Scores(embedding, proprio, actions);
  }
  const torch::Tensor head = network->Head(embedding.repeat_interleave(n, 0), proprio.repeat_interleave(n, 0),
                                           actions.reshape({3 * n, 3}));
  CHECK(torch::allclose(scores.reshape({-1}), head, 1e-4, 1e-5));

  // Terminating actions are one action here too.
  const torch::Tensor two = torch::tensor({0.7f, 0.3f, -0.9f, -0.2f, 1.0f, 0.5f}).view({2, 3});
  const torch::Tensor q = network->forward(image.slice(0, 0, 1).expand({2, 16, 16, 3}),
                                           proprio.slice(0, 0, 1).expand({2, 2}), two);
  CHECK(q[0].item<float>() == q[1].item<float>());

  // The image reaches the logit through the keypoints (gradients flow to the encoder).
  network->forward(image, proprio, actions.select(1, 0)).sum().backward();
  for (const auto& p : network->named_parameters()) {
    INFO(p.key());
    CHECK(p.value().grad().defined());
  }

  // Config: saved and read back; a checkpoint from before keypoints reads as 0; bad values are usage errors.
  CHECK(QNetworkConfig::FromJson(config.ToJson(), "ckpt").keypoints == 5);
  nlohmann::json old = config.ToJson();
  old.erase("keypoints");
  CHECK(QNetworkConfig::FromJson(old, "ckpt").keypoints == 0);
  QNetworkConfig bad = config;
  bad.keypoints = -1;
  CHECK_THROWS_WITH(bad.Validate("network"), "--network.keypoints must be 0 (off) or positive, got -1");
  bad.keypoints = 4;
  bad.head_channels = {8};
  CHECK_THROWS_WITH(bad.Validate("network"),
                    "--network.keypoints and --network.head-channels exclude each other (keypoints have no map "
                    "to convolve)");
}

}  // namespace
}  // namespace perpetua
