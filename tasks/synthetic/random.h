// A portable, seeded pseudo-random generator for the synthetic language.
//
// The synthetic data must be byte-identical for the same seed on every machine and standard library, so
// we cannot use std::uniform_int_distribution & co. (their algorithms are implementation-defined). This is
// xoshiro256** (Blackman & Vigna, 2018) seeded through SplitMix64, with integer draws by modulo of the
// full 64-bit output (bias < n / 2^64, irrelevant for the small n used here) and doubles from the top 53
// bits. Written here rather than taken from a library: it is 40 lines and its output is part of the data
// format, which must not change with a dependency's version.
#pragma once

#include <cstdint>
#include <string_view>

namespace ptlab::tasks::synthetic {

/// SplitMix64 step: advances `state` and returns the next output. Also a good 64-bit mixer.
inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// A seed for the named sub-stream of `seed` ("corpus", "topic/train", ...): streams are independent, so
/// changing the size of one output never changes another.
uint64_t derive_seed(uint64_t seed, std::string_view stream);

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t s = seed;
    for (auto& word : state_) word = splitmix64(s);
  }

  /// The next 64 random bits.
  uint64_t next() {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  /// Uniform integer in [0, n); n must be > 0.
  uint32_t below(uint32_t n) { return static_cast<uint32_t>(next() % n); }

  /// Uniform double in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  /// True with probability p.
  bool chance(double p) { return uniform() < p; }

  /// A uniformly chosen element of a non-empty container.
  template <class Container>
  const auto& pick(const Container& items) {
    return items[below(static_cast<uint32_t>(items.size()))];
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t state_[4];
};

}  // namespace ptlab::tasks::synthetic
