// File-system helpers for writes that must survive a crash at any instant.
// All failures throw Error(kIoError) naming the path and the OS reason.
#pragma once

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

// Reads a whole file. Throws Error(code) with "<path>: <reason>" if it cannot.
std::string ReadFileOrFail(const std::string& path, ExitCode code);

// A name fragment unique across processes and machines writing into one
// shared directory: "<host>-<pid>-<unix ns>-<random hex>".
std::string UniqueToken();

// True if `path` names an existing regular file / directory.
bool IsRegularFile(const std::string& path);
bool IsDirectory(const std::string& path);

}  // namespace perpetua
