#include "common/step_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/error.h"

namespace perpetua {
namespace {
constexpr int kDigits = 20;
}  // namespace

StepFileWriter::StepFileWriter(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) Fail(ExitCode::kIoError, path + ": cannot open for writing: " + std::strerror(errno));
}

StepFileWriter::~StepFileWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void StepFileWriter::Publish(int64_t step) {
  char text[kDigits + 2];
  std::snprintf(text, sizeof text, "%020lld\n", static_cast<long long>(step));
  if (::pwrite(fd_, text, kDigits + 1, 0) != kDigits + 1) {
    Fail(ExitCode::kIoError, path_ + ": cannot write the step: " + std::strerror(errno));
  }
}

std::optional<int64_t> ReadStepFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char text[kDigits + 2] = {};
  const ssize_t n = ::pread(fd, text, kDigits + 2, 0);
  ::close(fd);
  if (n != kDigits + 1 || text[kDigits] != '\n') return std::nullopt;
  int64_t step = 0;
  for (int i = 0; i < kDigits; ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    if (step > (INT64_MAX - 9) / 10) return std::nullopt;
    step = step * 10 + (text[i] - '0');
  }
  return step;
}

}  // namespace perpetua
