// Training metrics beside the checkpoints: one JSON object per line in
// DIR/metrics.jsonl and one row per line in DIR/metrics.csv (columns fixed by
// the first row written; a resumed run appends to both). Every row is flushed
// as written, so a killed run keeps its metrics up to the last row. Whole
// numbers (steps, counts) are written as integers, others with full precision
// in JSON and 7 significant digits in the CSV. Torch-free.
#pragma once

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace perpetua {

class MetricsLog {
 public:
  using Row = std::vector<std::pair<std::string, double>>;

  // Opens (appending) DIR/metrics.jsonl and DIR/metrics.csv. Throws Error(kIoError).
  explicit MetricsLog(const std::string& dir);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  // Appends a row. CSV columns come from the first row (a later row's
  // unknown names go to the JSON line only). Throws Error(kIoError).
  void Write(const Row& row);

  const std::string& jsonl_path() const { return jsonl_path_; }
  const std::string& csv_path() const { return csv_path_; }

 private:
  std::string jsonl_path_, csv_path_;
  std::FILE* jsonl_ = nullptr;
  std::FILE* csv_ = nullptr;
  std::vector<std::string> columns_;
};

}  // namespace perpetua
