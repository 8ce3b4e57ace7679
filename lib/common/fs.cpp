#include "common/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>

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

namespace {

const char* FileKind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a plain file";
}

}  // namespace

RegularFile RegularFile::Open(const std::string& path, ExitCode code, uint64_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int err = errno;
    Fail(code, path + ": cannot open: " + (err == ELOOP ? "too many levels of symbolic links" : std::strerror(err)));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    Fail(code, path + ": cannot stat: " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    Fail(code, path + ": not a regular file (" + FileKind(st.st_mode) + ")");
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes) {
    ::close(fd);
    Fail(code, path + ": is " + std::to_string(size) + " bytes, more than the limit of " +
                   std::to_string(max_bytes));
  }
  // Regular files never block; later reads need no special handling.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return RegularFile(fd, path, size, code);
}

RegularFile::RegularFile(RegularFile&& other) noexcept
    : fd_(other.fd_), path_(std::move(other.path_)), size_(other.size_), code_(other.code_) {
  other.fd_ = -1;
}

RegularFile& RegularFile::operator=(RegularFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    path_ = std::move(other.path_);
    size_ = other.size_;
    code_ = other.code_;
    other.fd_ = -1;
  }
  return *this;
}

RegularFile::~RegularFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::string RegularFile::ReadAt(uint64_t offset, uint64_t n) const {
  if (n > size_ || offset > size_ - n) {
    Fail(code_, path_ + ": ends before byte " + std::to_string(offset + n) + " (" +
                    std::to_string(size_) + " bytes)");
  }
  std::string bytes(static_cast<size_t>(n), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t got = ::pread(fd_, bytes.data() + done, bytes.size() - done,
                                static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) Fail(code_, path_ + ": cannot read: " + std::strerror(errno));
    if (got == 0) Fail(code_, path_ + ": shrank while being read");
    done += static_cast<size_t>(got);
  }
  return bytes;
}

std::string RegularFile::ProcPath() const { return "/proc/self/fd/" + std::to_string(fd_); }

std::string ReadFileOrFail(const std::string& path, ExitCode code, uint64_t max_bytes) {
  return RegularFile::Open(path, code, max_bytes).ReadAll();
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

FileStamp StampOf(const std::string& path) {
  struct stat st {};
  FileStamp stamp;
  if (::stat(path.c_str(), &st) == 0) {
    stamp.device = uint64_t(st.st_dev);
    stamp.inode = uint64_t(st.st_ino);
    stamp.size = int64_t(st.st_size);
    stamp.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  }
  return stamp;
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
