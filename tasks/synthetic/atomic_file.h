// AtomicFile: writes a file under a temporary name ("<path>.tmp") and renames it into place on commit(),
// hashing (FNV-1a 64) and counting bytes as it writes. A write that is interrupted leaves at most a
// ".tmp" file, never a truncated file under the real name. Write failures are Errors naming the file and
// the system's reason.
#pragma once

#include "tasks/synthetic/fnv1a.h"

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace ptlab::tasks::synthetic {

class AtomicFile {
 public:
  /// Opens `path`.tmp for writing (the folder must exist).
  explicit AtomicFile(std::string path);
  ~AtomicFile();  // without commit(): closes and removes the temporary file
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(std::string_view bytes);

  /// Flushes, closes and renames the file into place.
  void commit();

  const std::string& path() const { return path_; }
  uint64_t bytes() const { return bytes_; }
  /// FNV-1a 64 of everything written, as 16 hex digits.
  std::string hash() const { return hash_.hex(); }

 private:
  std::string path_;
  std::string temp_;
  std::FILE* file_ = nullptr;
  Fnv1a64 hash_;
  uint64_t bytes_ = 0;
};

/// Writes `bytes` to `path` through an AtomicFile; returns the FNV-1a 64 hex of the bytes.
std::string write_file_atomically(const std::string& path, std::string_view bytes);

}  // namespace ptlab::tasks::synthetic
