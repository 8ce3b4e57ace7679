// Writes one episode into a dataset with the installed DatasetWriter, reads it
// back with DatasetReader and prints what it read:
//   consumer DIR  ->  "episodes 1 steps 3 last_reward 1 version X.Y.Z"
#include <cstdio>
#include <exception>
#include <string>

#include "data/dataset_reader.h"
#include "data/dataset_writer.h"
#include "perpetua/version.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer DIR\n");
    return 2;
  }
  using namespace perpetua;
  try {
    Episode episode;
    episode.observations["proprio"] = Array::Zeros(DType::kFloat32, {4, 2});
    episode.actions = Array::Zeros(DType::kFloat32, {3, 2});
    episode.rewards = {0.0f, 0.0f, 1.0f};
    episode.terminated = {0, 0, 1};
    episode.truncated = {0, 0, 0};
    episode.metadata.success = true;
    WriterOptions options;
    options.tool_name = "consumer";
    {
      DatasetWriter writer(argv[1], options);
      writer.Add(episode);
      writer.Close();
    }
    DatasetReader reader({argv[1]});
    const Episode back = reader.ReadEpisode(0);
    std::printf("episodes %zu steps %lld last_reward %g version %s\n", reader.num_episodes(),
                static_cast<long long>(reader.num_transitions()), back.rewards.back(), PERPETUA_VERSION);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
  }
  return 0;
}
