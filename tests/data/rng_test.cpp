#include "framework/data/rng.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

namespace ptlab::data {
namespace {

TEST(Rng, MatchesTheSplitMix64Reference) {
  // Reference outputs of SplitMix64 from state 0 (Vigna's splitmix64.c): the stream must never change,
  // it defines every few-shot set and data order.
  Rng rng(0);
  EXPECT_EQ(rng.next(), 0xE220A8397B1DCDAFull);
  EXPECT_EQ(rng.next(), 0x6E789E6AA1B965F4ull);
  EXPECT_EQ(rng.next(), 0x06C45D188009454Full);
}

TEST(Rng, SameSeedSameStreamOtherSeedOtherStream) {
  Rng a(42), b(42), c(43);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.next();
    EXPECT_EQ(x, b.next());
    differs = differs || x != c.next();
  }
  EXPECT_TRUE(differs);
}

TEST(Rng, BelowIsInRangeAndRoughlyUniform) {
  Rng rng(7);
  std::vector<int> counts(6, 0);
  for (int i = 0; i < 60000; ++i) {
    const uint64_t v = rng.below(6);
    ASSERT_LT(v, 6u);
    ++counts[v];
  }
  for (int c : counts) EXPECT_NEAR(c, 10000, 500);
  EXPECT_EQ(rng.below(1), 0u);
  // A bound near 2^64 exercises the rejection path without bias errors.
  const uint64_t big = (uint64_t(1) << 63) + 12345;
  for (int i = 0; i < 100; ++i) EXPECT_LT(rng.below(big), big);
}

TEST(Rng, DerivedSeedsAndNamesSeparateStreams) {
  EXPECT_NE(derive_seed(1, 0), derive_seed(1, 1));
  EXPECT_NE(derive_seed(1, 0), derive_seed(2, 0));
  EXPECT_EQ(derive_seed(5, 9), derive_seed(5, 9));
  EXPECT_EQ(hash_name(""), 0xCBF29CE484222325ull);  // FNV-1a offset basis
  EXPECT_EQ(hash_name("a"), 0xAF63DC4C8601EC8Cull);  // FNV-1a reference value
}

TEST(Rng, ShuffleIsAPermutationAndDeterministic) {
  std::vector<int> v(50), w;
  std::iota(v.begin(), v.end(), 0);
  w = v;
  Rng r1(3), r2(3);
  shuffle(v, r1);
  shuffle(w, r2);
  EXPECT_EQ(v, w);
  std::vector<int> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int> expect(50);
  std::iota(expect.begin(), expect.end(), 0);
  EXPECT_EQ(sorted, expect);
  EXPECT_NE(v, expect);
}

}  // namespace
}  // namespace ptlab::data
