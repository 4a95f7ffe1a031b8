#include "tasks/synthetic/atomic_file.h"

#include "framework/core/error.h"

#include <cerrno>
#include <cstring>

namespace ptlab::tasks::synthetic {

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)), temp_(path_ + ".tmp") {
  file_ = std::fopen(temp_.c_str(), "wb");
  PTLAB_CHECK(file_ != nullptr, "cannot write '{}': {}", temp_, std::strerror(errno));
  std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
}

AtomicFile::~AtomicFile() {
  if (file_ != nullptr) {
    std::fclose(file_);
    std::remove(temp_.c_str());
  }
}

void AtomicFile::write(std::string_view bytes) {
  PTLAB_ASSERT(file_ != nullptr, "write to committed file {}", path_);
  if (bytes.empty()) return;
  PTLAB_CHECK(std::fwrite(bytes.data(), 1, bytes.size(), file_) == bytes.size(), "cannot write '{}': {}", temp_,
              std::strerror(errno));
  hash_.update(bytes);
  bytes_ += bytes.size();
}

void AtomicFile::commit() {
  PTLAB_ASSERT(file_ != nullptr, "file {} committed twice", path_);
  const bool flushed = std::fflush(file_) == 0;
  const int flush_errno = errno;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!flushed || !closed) {
    std::remove(temp_.c_str());
    PTLAB_FAIL("cannot write '{}': {}", temp_, std::strerror(flushed ? errno : flush_errno));
  }
  if (std::rename(temp_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    std::remove(temp_.c_str());
    PTLAB_FAIL("cannot rename '{}' to '{}': {}", temp_, path_, std::strerror(err));
  }
}

std::string write_file_atomically(const std::string& path, std::string_view bytes) {
  AtomicFile file(path);
  file.write(bytes);
  file.commit();
  return file.hash();
}

}  // namespace ptlab::tasks::synthetic
