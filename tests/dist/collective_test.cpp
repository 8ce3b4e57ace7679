// The c10d collective in one process: two ranks as two threads on loopback
// (Gloo over TCP, a real TCPStore), so each operation can be checked against
// the numbers each rank gave. The process-level tests are in
// data_parallel_test.cpp.
#include "dist/collective.h"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <future>
#include <thread>

#include "support/expect_error.h"
#include "support/free_port.h"

namespace perpetua {
namespace {
using testing::ExpectError;

DistPlan Plan(int rank, int world, int port, double timeout_s = 20.0) {
  return LoopbackPlan(rank, world, port, timeout_s);
}

// Runs body(rank) for each of `world` ranks on its own thread; rethrows the first error.
void Ranks(int world, const std::function<void(int)>& body) {
  std::vector<std::future<void>> ranks;
  for (int r = 0; r < world; ++r) ranks.push_back(std::async(std::launch::async, body, r));
  for (auto& r : ranks) r.get();
}

TEST_CASE("dist collective: gradients are averaged in buckets, figures and flags agree") {
  const int port = testing::FreePort();
  Ranks(2, [&](int rank) {
    auto c = Collective::Connect(Plan(rank, 2, port), "same settings\n");
    CHECK(c->rank() == rank);
    // A small tensor, an undefined one, and one of 8M floats (32 MB: a bucket of its own).
    torch::Tensor small = torch::full({3, 2}, rank == 0 ? 1.0f : 3.0f);
    torch::Tensor big = torch::full({8 << 20}, rank == 0 ? -2.0f : 4.0f);
    torch::Tensor after = torch::arange(5, torch::kFloat32) * (rank + 1);
    c->AverageGradients({small, torch::Tensor(), big, after});
    CHECK(small.eq(2.0f).all().item<bool>());
    CHECK(big.eq(1.0f).all().item<bool>());
    CHECK(torch::allclose(after, torch::arange(5, torch::kFloat32) * 1.5));
    torch::Tensor flat = torch::full({7}, static_cast<float>(rank));
    c->AverageGradients({flat});
    CHECK(flat.eq(0.5f).all().item<bool>());
    CHECK(c->Mean(rank == 0 ? 1.0 : 2.0) == doctest::Approx(1.5));
    CHECK(c->AnyOf(rank == 1));
    CHECK_FALSE(c->AnyOf(false));
    c->CheckReplicas({torch::ones({4}), torch::zeros({2})}, 10);
    CHECK(c->seconds() > 0.0);
  });
}

TEST_CASE("dist collective: replicas that differ are caught on every rank") {
  const int port = testing::FreePort();
  Ranks(2, [&](int rank) {
    auto c = Collective::Connect(Plan(rank, 2, port), "s\n");
    torch::Tensor weights = torch::ones({4});
    if (rank == 1) weights[2] = 1.0f + 1e-6f;
    ExpectError([&] { c->CheckReplicas({weights}, 300); }, ExitCode::kInternal, "replicas diverged at step 300");
  });
}

TEST_CASE("dist collective: settings that differ are refused on every rank, naming the difference") {
  const int port = testing::FreePort();
  Ranks(2, [&](int rank) {
    const std::string settings = rank == 0 ? "seed: 0\nbatch_size: 64\n" : "seed: 0\nbatch_size: 32\n";
    const std::string message =
        ExpectError([&] { Collective::Connect(Plan(rank, 2, port), settings); }, ExitCode::kUsage,
                    "rank 1's settings differ from rank 0's: ");
    CHECK(message.find(rank == 0 ? "'batch_size: 32' on rank 1, 'batch_size: 64' here"
                                 : "'batch_size: 32' here, 'batch_size: 64' on rank 0") != std::string::npos);
  });
}

TEST_CASE("dist collective: a rank that never comes, a port in use, a rank that dies") {
  // Nobody else arrives: rank 0 gives up after the timeout.
  const std::string alone =
      ExpectError([&] { Collective::Connect(Plan(0, 2, testing::FreePort(), 1.0), "s\n"); }, ExitCode::kPeerLost,
                  "rendezvous 127.0.0.1:");
  CHECK(alone.find("are all 2 ranks started?") != std::string::npos);

  // Rank 0 cannot serve the rendezvous on a port another socket holds.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_ANY);
  address.sin_port = 0;
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  REQUIRE(listen(fd, 1) == 0);
  socklen_t length = sizeof(address);
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  ExpectError([&] { Collective::Connect(Plan(0, 2, ntohs(address.sin_port), 2.0), "s\n"); }, ExitCode::kUsage,
              "the port is in use");
  close(fd);

  // Rank 1 leaves after the rendezvous: rank 0's next all-reduce fails
  // within the timeout instead of hanging.
  const int port = testing::FreePort();
  Ranks(2, [&](int rank) {
    auto c = Collective::Connect(Plan(rank, 2, port, 3.0), "s\n");
    if (rank == 1) {
      c.reset();
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const auto start = std::chrono::steady_clock::now();
    torch::Tensor g = torch::ones({4});
    ExpectError([&] { c->AverageGradients({g}); }, ExitCode::kPeerLost, "rank 0, averaging gradients");
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(30));
  });
}

}  // namespace
}  // namespace perpetua
