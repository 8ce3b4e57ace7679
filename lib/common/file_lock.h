// An exclusive advisory lock on a file (flock): the one lock type for
// "someone is using this" across processes (a training run's output
// directory, a dataset writer's staging folder, recovery of a dead writer's).
//
// The kernel releases the lock when its holder's descriptor closes, and so
// when the process dies, SIGKILL included: a lock that can be taken always
// means its previous holder is gone. Locks are per open file description, so
// two FileLocks in one process exclude each other too.
#pragma once

#include <string>

namespace perpetua {

class FileLock {
 public:
  FileLock() = default;  // holds nothing
  ~FileLock();           // releases
  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  // Opens `path` (creating it, mode 0644, when `create`) and tries to lock it
  // without waiting. The result holds() the lock, or does not when someone
  // else holds it or (without `create`) the file cannot be opened. Throws
  // Error(kIoError) "<path>: cannot open: <reason>" when `create` is set and
  // the file cannot be created or opened.
  static FileLock TryLock(const std::string& path, bool create);

  bool held() const { return fd_ >= 0; }
  // Releases the lock now (idempotent).
  void Release();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace perpetua
