// scripts/slurm_train.sh: Slurm's task variables become torchrun's, and two
// tasks started as srun would start them train one data-parallel run.
// (No Slurm here: `scontrol` is a stand-in that expands the node list.)
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>

#include "support/free_port.h"
#include "support/test_support.h"

namespace perpetua {
namespace {

namespace fs = std::filesystem;
using testing::ChildProcess;
using testing::ProcessResult;
using testing::RunProcess;
using testing::SourcePath;
using testing::ToolPath;

const std::string kBinEnv = "PERPETUA_BIN=" + fs::path(ToolPath("rl-train")).parent_path().string();

// A folder holding an `scontrol` that prints node1..node4 for `show hostnames`.
std::string FakeScontrol(const testing::TempDir& tmp) {
  const std::string dir = tmp / "slurm-bin";
  fs::create_directories(dir);
  testing::WriteFile(dir + "/scontrol", "#!/bin/sh\n[ \"$1 $2\" = \"show hostnames\" ] || exit 1\n"
                                        "printf 'node1\\nnode2\\nnode3\\nnode4\\n'\n");
  chmod((dir + "/scontrol").c_str(), 0755);
  return dir;
}

TEST_CASE("slurm_train.sh maps Slurm's task variables to torchrun's") {
  testing::TempDir tmp;
  const std::string path = "PATH=" + FakeScontrol(tmp) + ":/usr/bin:/bin";
  const std::vector<std::string> task = {"/usr/bin/env", "-i", path, "SLURM_JOB_ID=1234", "SLURM_PROCID=3",
                                         "SLURM_NTASKS=8", "SLURM_LOCALID=1", "SLURM_TASKS_PER_NODE=2(x4)",
                                         "SLURM_JOB_NODELIST=node[1-4]"};
  std::vector<std::string> argv = task;
  argv.insert(argv.end(), {"bash", SourcePath("scripts/slurm_train.sh"), "--print-env"});
  ProcessResult r = RunProcess(argv);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out ==
        "MASTER_ADDR=node1\nMASTER_PORT=29734\nRANK=3\nWORLD_SIZE=8\nLOCAL_RANK=1\nLOCAL_WORLD_SIZE=2\n");

  // What the job already sets is kept.
  argv = task;
  argv.insert(argv.end(), {"MASTER_ADDR=10.1.1.1", "MASTER_PORT=4000", "SLURM_NTASKS_PER_NODE=4", "bash",
                           SourcePath("scripts/slurm_train.sh"), "--print-env"});
  r = RunProcess(argv);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("MASTER_ADDR=10.1.1.1\nMASTER_PORT=4000\n") == 0);
  CHECK(r.out.find("LOCAL_WORLD_SIZE=4\n") != std::string::npos);

  // Outside Slurm, or a task without its variables: one line, exit 2.
  r = RunProcess({"/usr/bin/env", "-i", path, "bash", SourcePath("scripts/slurm_train.sh"), "sac"});
  CHECK(r.exit_code == 2);
  CHECK(r.err == "slurm_train.sh: error: run it with sbatch (or srun inside an allocation); $SLURM_JOB_ID is not set\n");
  r = RunProcess({"/usr/bin/env", "-i", path, "SLURM_JOB_ID=1", "SLURM_NTASKS=2", "SLURM_LOCALID=0", "bash",
                  SourcePath("scripts/slurm_train.sh"), "--print-env"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("$SLURM_PROCID is not set") != std::string::npos);
}

TEST_CASE("slurm_train.sh: two tasks train one data-parallel run") {
  testing::TempDir tmp;
  const auto collect = RunProcess({ToolPath("rl-collect"), "--env", "pendulum", "--cell.max-episode-steps", "20",
                                   "--policy", "random", "--episodes", "2", "--threads", "1", "--out", tmp / "data"});
  REQUIRE(collect.exit_code == 0);
  const std::string port = "MASTER_PORT=" + std::to_string(testing::FreePort());
  std::vector<std::unique_ptr<ChildProcess>> tasks;
  for (int r = 0; r < 2; ++r) {
    tasks.push_back(std::make_unique<ChildProcess>(std::vector<std::string>{
        "/usr/bin/env", kBinEnv, "PERPETUA_SLURM_TASK=1", "SLURM_JOB_ID=77", "SLURM_PROCID=" + std::to_string(r),
        "SLURM_NTASKS=2", "SLURM_LOCALID=" + std::to_string(r), "SLURM_NTASKS_PER_NODE=2", "MASTER_ADDR=127.0.0.1",
        port, "bash", SourcePath("scripts/slurm_train.sh"), "sac", "--data", tmp / "data", "--out", tmp / "run",
        "--steps", "4", "--batch-size", "8", "--threads", "1", "--sac.network.hidden", "8"}));
  }
  const ProcessResult rank0 = tasks[0]->Wait(), rank1 = tasks[1]->Wait();
  INFO(rank0.err << rank1.err);
  CHECK(rank0.exit_code == 0);
  CHECK(rank1.exit_code == 0);
  CHECK(rank0.out == tmp / "run/latest.ckpt\n");
  CHECK(rank1.err.find("rank 1 of 2 (gloo, rendezvous 127.0.0.1:") != std::string::npos);
}

}  // namespace
}  // namespace perpetua
