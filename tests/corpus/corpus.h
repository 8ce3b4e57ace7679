// The corrupt-input corpus (issue 12): valid inputs made by the real tools,
// mutated deterministically (fixed seeds) into hundreds of damaged ones,
// each run through every tool that reads its kind, as a child process under
// a timeout. The promise it checks: no crash (signal), no hang (timeout), no
// exit 1; a failure is one "<tool>: error: ..." line with a documented code.
//
// Families (each a row of Families(); add a row to add a family, e.g. the
// staged episodes of dataset recovery):
//   shard       bytes (flips, truncations), HDF5 structure (missing/extra
//               groups and datasets), attributes, dtypes, shapes, sizes
//               (huge claimed counts), NaNs, links (soft, hard, external)
//               -> rl-data inspect, rl-data recover, rl-train q --data, rl-train q --online -
//   checkpoint  bytes, and crafted metadata behind a valid hash (deep JSON,
//               wrong types, huge lengths, missing parts)
//               -> rl-eval --policy, rl-collect --policy, rl-train q --init, --resume
//   config      YAML: garbage, deep nesting, non-scalar keys, huge, wrong types
//               -> every tool's --config (with --print-config)
//   non-file    FIFO, directory, device, symlink loop, dangling symlink, empty
//               file, in the place of a shard, a checkpoint and a config
// The CI test runs a deterministic subset (every `stride`-th input of each
// family); bench/corpus_bench.cpp runs them all.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace perpetua::corpus {

// Valid inputs made by the real tools (MakeSeeds).
struct Seeds {
  std::string bin_dir;     // where the rl-* binaries are
  std::string root;        // the corpus's scratch directory
  std::string data_dir;    // a dataset directory with one shard
  std::string shard;       // that shard (rl-collect, grasp cell, 16 px, 2 episodes)
  std::string checkpoint;  // latest.ckpt of rl-train q on data_dir (resumable)
  std::map<std::string, std::string> configs;  // "rl-train q" -> its --print-config YAML
};

// One command reading an input.
struct Command {
  std::string label;               // "rl-data inspect"
  std::vector<std::string> argv;   // argv[0] is the binary's path
  std::string stdin_text;          // fed on stdin ("" = empty stdin)
};

// One damaged input and every command that reads it.
struct Case {
  std::string family;  // "shard", ...
  std::string name;    // "attr/schema_version=1.5"
  std::vector<Command> commands;
};

struct Options {
  int stride = 1;            // keep every stride-th input of each family (1 = all)
  uint64_t seed = 12;        // fixed: the corpus is the same in every run
};

// A family: builds its cases in `dir` (a fresh directory) from the seeds.
struct Family {
  std::string name;
  std::function<std::vector<Case>(const Seeds&, const std::string& dir, const Options&)> build;
};
std::vector<Family> Families();

// A checkpoint in the container format of nn/checkpoint.h with this metadata
// text (any bytes: deep, wrong types, not JSON) and blobs, and a valid
// integrity hash, so that readers get past the hash.
std::string RawCheckpoint(const std::string& metadata_text, const std::map<std::string, std::string>& blobs);

// Makes the valid inputs under `root` with the tools in `bin_dir` (about 30 s
// on 2 cores). Throws std::runtime_error if a tool fails on valid input.
Seeds MakeSeeds(const std::string& root, const std::string& bin_dir);

// Every family's cases (after the stride), in a fixed order.
std::vector<Case> BuildCorpus(const Seeds& seeds, const Options& options);

// The outcome of one command on one input.
struct Outcome {
  std::string family, input, command;
  int exit_code = -1;      // -1 when killed by a signal or timed out
  int signal = 0;          // terminating signal, 0 if it exited
  bool timed_out = false;  // ran past the timeout (killed)
  double seconds = 0;
  std::string err;         // its stderr (tail)
};

// Runs every command of `cases`, `jobs` at a time, each under `timeout_s`.
// `progress` (may be null) is called after each command.
std::vector<Outcome> RunCorpus(const std::vector<Case>& cases, int jobs, double timeout_s,
                               const std::function<void(const Outcome&)>& progress = nullptr);

// "" if the outcome keeps the promise, else why not: "crash (signal 11)",
// "hang", "exit 1", "undocumented exit code 9", "failure without exactly one error line".
std::string Violation(const Outcome& outcome);

// A table of counts: one row per family, one column per outcome (exit code,
// "crash", "hang"), with totals.
std::string Table(const std::vector<Outcome>& outcomes);

}  // namespace perpetua::corpus
