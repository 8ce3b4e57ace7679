// File-system helpers for writes that must survive a crash at any instant.
// All failures throw Error(kIoError) naming the path and the OS reason.
#pragma once

#include <cstdint>
#include <string>

#include "common/error.h"

namespace perpetua {

// Writes `bytes` to `path` atomically: a temporary file in the same
// directory, fsync, rename over `path`, fsync of the directory. Readers see
// the old content or the new, never a mix; a crash leaves at most a stray
// "*.tmp-*" file that readers ignore.
void WriteFileAtomic(const std::string& path, const std::string& bytes);

// Renames `from` to `to` (same file system) and fsyncs the directory of `to`.
void RenameDurably(const std::string& from, const std::string& to);

// fsyncs a file or a directory by path.
void FsyncPath(const std::string& path);

// Creates `dir` and its parents if missing; checks that it is a writable directory.
void EnsureWritableDirectory(const std::string& dir);

// The one way every reader opens a file it is given (shards, checkpoints,
// configs, ...). Opens `path` read-only with O_NONBLOCK, so that a FIFO or a
// device never blocks the open, then checks the *opened* descriptor (fstat,
// no race with a renamed path): anything but a regular file (FIFO, socket,
// device, directory) and a file larger than `max_bytes` are refused with
// Error(code, "<path>: not a regular file (a FIFO)" / "<path>: is N bytes,
// more than the limit of M"). A missing or unreadable file is Error(code)
// with the OS reason. Move-only; closes the descriptor on destruction.
class RegularFile {
 public:
  static constexpr uint64_t kNoLimit = ~uint64_t{0};
  static RegularFile Open(const std::string& path, ExitCode code, uint64_t max_bytes = kNoLimit);
  RegularFile(RegularFile&& other) noexcept;
  RegularFile& operator=(RegularFile&& other) noexcept;
  RegularFile(const RegularFile&) = delete;
  RegularFile& operator=(const RegularFile&) = delete;
  ~RegularFile();

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }  // bytes, from fstat at open
  // Reads `n` bytes at `offset`; Error(code) if the file ends before (it shrank).
  std::string ReadAt(uint64_t offset, uint64_t n) const;
  // Reads the whole file (size() bytes).
  std::string ReadAll() const { return ReadAt(0, size_); }
  // A path that names this very descriptor ("/proc/self/fd/N"), for libraries
  // that open by name (HDF5): they open the file that was checked.
  std::string ProcPath() const;

 private:
  RegularFile(int fd, std::string path, uint64_t size, ExitCode code)
      : fd_(fd), path_(std::move(path)), size_(size), code_(code) {}
  int fd_ = -1;
  std::string path_;
  uint64_t size_ = 0;
  ExitCode code_ = ExitCode::kBadData;
};

// Reads a whole regular file (RegularFile above). Throws Error(code) with
// "<path>: <reason>" if it cannot, or if it is not a regular file of at most
// `max_bytes`.
std::string ReadFileOrFail(const std::string& path, ExitCode code,
                           uint64_t max_bytes = RegularFile::kNoLimit);

// A name fragment unique across processes and machines writing into one
// shared directory: "<host>-<pid>-<unix ns>-<random hex>".
std::string UniqueToken();

// True if `path` names an existing regular file / directory.
bool IsRegularFile(const std::string& path);
bool IsDirectory(const std::string& path);

// What tells one version of a file from the next: a replacement (atomic
// rename) changes the inode, a rewrite the size or mtime. All zero (-1 for
// size and mtime) when the path does not exist. Follows symlinks.
struct FileStamp {
  uint64_t device = 0, inode = 0;
  int64_t size = -1, mtime_ns = -1;
  bool operator==(const FileStamp& o) const {
    return device == o.device && inode == o.inode && size == o.size && mtime_ns == o.mtime_ns;
  }
  bool operator!=(const FileStamp& o) const { return !(*this == o); }
};
FileStamp StampOf(const std::string& path);

}  // namespace perpetua
