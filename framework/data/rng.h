// Rng: the portable, seeded pseudo-random generator behind every data-order decision (few-shot picks,
// train/dev splits, epoch shuffles).
//
// Data order must be identical on every machine, compiler and standard library — a run resumed on
// another cluster, or rank 3 of 64, must see exactly the rows rank 3 saw before. std::mt19937 is portable
// but std::uniform_int_distribution and std::shuffle are not (their algorithms are implementation-
// defined), so we implement the whole chain here: SplitMix64 (Steele, Lea & Flood 2014; passes BigCrush)
// for the 64-bit stream, and unbiased bounded integers by rejection. Written by hand rather than taken
// from a library because its output is part of the experiment's definition and must never change with a
// dependency's version. Not for cryptography.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace ptlab::data {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  /// The next 64 random bits.
  uint64_t next();
  /// A uniform integer in [0, n), without modulo bias; n must be > 0.
  uint64_t below(uint64_t n);

 private:
  uint64_t state_;
};

/// A seed for an independent sub-stream of `seed` (e.g. one per epoch or per class): a SplitMix64
/// finalizer over both, so nearby seeds and streams give unrelated sequences.
uint64_t derive_seed(uint64_t seed, uint64_t stream);
/// 64-bit FNV-1a of `text`, to derive per-name streams (a class name, a split name).
uint64_t hash_name(std::string_view text);

/// Fisher–Yates shuffle of `items` driven by `rng`.
template <class T>
void shuffle(std::vector<T>& items, Rng& rng) {
  for (std::size_t i = items.size(); i > 1; --i) {
    const std::size_t j = std::size_t(rng.below(i));
    std::swap(items[i - 1], items[j]);
  }
}

}  // namespace ptlab::data
