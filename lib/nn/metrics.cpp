#include "nn/metrics.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/fs.h"

namespace perpetua {
namespace {

std::FILE* OpenAppend(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "a");
  if (!f) Fail(ExitCode::kIoError, path + ": cannot open for appending: " + std::strerror(errno));
  return f;
}

void Put(std::FILE* f, const std::string& text, const std::string& path) {
  if (std::fwrite(text.data(), 1, text.size(), f) != text.size() || std::fflush(f) != 0) {
    Fail(ExitCode::kIoError, path + ": write failed: " + std::strerror(errno));
  }
}

std::string Number(double v) {
  if (!std::isfinite(v)) return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
  std::ostringstream s;
  s.precision(7);
  s << v;
  return s.str();
}

}  // namespace

MetricsLog::MetricsLog(const std::string& dir)
    : jsonl_path_(dir + "/metrics.jsonl"), csv_path_(dir + "/metrics.csv") {
  // An existing CSV fixes the columns (resume appends under the same header).
  if (IsRegularFile(csv_path_)) {
    std::ifstream in(csv_path_);
    std::string header;
    std::getline(in, header);
    std::stringstream cells(header);
    for (std::string cell; std::getline(cells, cell, ',');) columns_.push_back(cell);
  }
  jsonl_ = OpenAppend(jsonl_path_);
  csv_ = OpenAppend(csv_path_);
}

MetricsLog::~MetricsLog() {
  if (jsonl_) std::fclose(jsonl_);
  if (csv_) std::fclose(csv_);
}

void MetricsLog::Write(const Row& row) {
  nlohmann::json line = nlohmann::json::object();
  for (const auto& [name, value] : row) {
    if (!std::isfinite(value)) {
      line[name] = Number(value);
    } else if (value == std::floor(value) && std::fabs(value) < 1e15) {
      line[name] = static_cast<int64_t>(value);  // counts and steps read as integers
    } else {
      line[name] = value;
    }
  }
  Put(jsonl_, line.dump() + "\n", jsonl_path_);
  std::string csv;
  if (columns_.empty()) {
    for (const auto& item : row) {
      columns_.push_back(item.first);
      csv += (csv.empty() ? "" : ",") + item.first;
    }
    csv += "\n";
  }
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (i) csv += ",";
    for (const auto& [name, value] : row) {
      if (name == columns_[i]) {
        csv += Number(value);
        break;
      }
    }
  }
  Put(csv_, csv + "\n", csv_path_);
}

}  // namespace perpetua
