#include "common/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace perpetua {
namespace {

[[noreturn]] void FailIo(const std::string& path, const std::string& what, int err) {
  Fail(ExitCode::kIoError, path + ": " + what + ": " + std::strerror(err));
}

std::string DirectoryOf(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

}  // namespace

void FsyncPath(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) FailIo(path, "cannot open for fsync", errno);
  if (::fsync(fd) != 0 && errno != EINVAL) {
    const int err = errno;
    ::close(fd);
    FailIo(path, "fsync failed", err);
  }
  ::close(fd);
}

void RenameDurably(const std::string& from, const std::string& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0) FailIo(to, "cannot rename " + from, errno);
  FsyncPath(DirectoryOf(to));
}

void WriteFileAtomic(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp-" + UniqueToken();
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) FailIo(tmp, "cannot create", errno);
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      FailIo(path, "write failed", err);
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    FailIo(path, "fsync failed", err);
  }
  ::close(fd);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    FailIo(path, "cannot rename into place", err);
  }
  FsyncPath(DirectoryOf(path));
}

void EnsureWritableDirectory(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) Fail(ExitCode::kIoError, dir + ": cannot create directory: " + ec.message());
  if (!IsDirectory(dir)) Fail(ExitCode::kIoError, dir + ": not a directory");
  if (::access(dir.c_str(), W_OK | X_OK) != 0) FailIo(dir, "directory not writable", errno);
}

std::string ReadFileOrFail(const std::string& path, ExitCode code) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail(code, path + ": cannot read: " + std::strerror(errno));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string UniqueToken() {
  char host[256] = {0};
  if (::gethostname(host, sizeof(host) - 1) != 0) std::strcpy(host, "host");
  for (char* c = host; *c; ++c) {
    if (!std::isalnum(static_cast<unsigned char>(*c)) && *c != '-') *c = '-';
  }
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  std::random_device device;
  const uint64_t random = (static_cast<uint64_t>(device()) << 32) ^ device();
  std::ostringstream out;
  out << host << '-' << ::getpid() << '-' << ns << '-' << std::hex << (random & 0xffffffffffULL);
  return out.str();
}

bool IsRegularFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace perpetua
