#include "framework/data/rng.h"

#include "framework/core/error.h"

namespace ptlab::data {
namespace {

uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

uint64_t Rng::next() { return mix(state_ += 0x9E3779B97F4A7C15ull); }

uint64_t Rng::below(uint64_t n) {
  PTLAB_ASSERT(n > 0, "Rng::below(0)");
  // Values below 2^64 mod n would make the low residues more likely: reject them.
  const uint64_t threshold = (0 - n) % n;
  for (;;) {
    const uint64_t r = next();
    if (r >= threshold) return r % n;
  }
}

uint64_t derive_seed(uint64_t seed, uint64_t stream) {
  return mix(mix(seed + 0x9E3779B97F4A7C15ull) ^ (stream * 0xD1B54A32D192ED03ull + 0x8CB92BA72F3D8DD7ull));
}

uint64_t hash_name(std::string_view text) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001B3ull;
  }
  return h;
}

}  // namespace ptlab::data
