// FNV-1a, 64-bit: the hash of every file in the synthetic data's manifest, of stream names (seeds) and of
// sentences (duplicate detection).
//
// Written here because it is a few lines whose output is part of the manifest format; a cryptographic
// hash would be overkill for detecting a truncated or edited file and would add a dependency.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ptlab::tasks::synthetic {

/// Incremental FNV-1a 64: feed bytes with update(), read value() at any time.
class Fnv1a64 {
 public:
  void update(const void* data, std::size_t size) {
    const auto* p = static_cast<const unsigned char*>(data);
    uint64_t h = hash_;
    for (std::size_t i = 0; i < size; ++i) {
      h ^= p[i];
      h *= 0x100000001B3ull;
    }
    hash_ = h;
  }
  void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }

  uint64_t value() const { return hash_; }

  /// value() as 16 lowercase hex digits.
  std::string hex() const;

 private:
  uint64_t hash_ = 0xCBF29CE484222325ull;
};

/// FNV-1a 64 of `bytes`.
inline uint64_t fnv1a64(std::string_view bytes) {
  Fnv1a64 h;
  h.update(bytes);
  return h.value();
}

}  // namespace ptlab::tasks::synthetic
