#include "tasks/synthetic/random.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace ptlab::tasks::synthetic {

TEST(SplitMix64, MatchesReferenceSequence) {
  // The first outputs of SplitMix64 from state 0 (Vigna's reference implementation).
  uint64_t state = 0;
  EXPECT_EQ(splitmix64(state), 0xe220a8397b1dcdafull);
  EXPECT_EQ(splitmix64(state), 0x6e789e6aa1b965f4ull);
  EXPECT_EQ(splitmix64(state), 0x06c45d188009454full);
}

TEST(Rng, SameSeedSameStreamDifferentSeedDifferentStream) {
  Rng a(42), b(42), c(43);
  std::vector<uint64_t> va, vb, vc;
  for (int i = 0; i < 100; ++i) {
    va.push_back(a.next());
    vb.push_back(b.next());
    vc.push_back(c.next());
  }
  EXPECT_EQ(va, vb);
  EXPECT_NE(va, vc);
}

TEST(Rng, OutputIsPinned) {
  // The data format depends on these bits: if this fails, every generated file changes (bump
  // kGeneratorVersion). Values from an independent implementation of xoshiro256** (Blackman & Vigna)
  // with its state filled by SplitMix64 from `seed`.
  Rng r(0);
  EXPECT_EQ(r.next(), 0x99ec5f36cb75f2b4ull);
  EXPECT_EQ(r.next(), 0xbf6e1f784956452aull);
  EXPECT_EQ(r.next(), 0x1a5f849d4933e6e0ull);
}

TEST(Rng, BelowAndUniformStayInRangeAndCoverIt) {
  Rng r(7);
  std::vector<int> counts(10, 0);
  for (int i = 0; i < 100000; ++i) {
    uint32_t k = r.below(10);
    ASSERT_LT(k, 10u);
    ++counts[k];
    double u = r.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
  for (int c : counts) {
    EXPECT_GT(c, 9500);
    EXPECT_LT(c, 10500);
  }
}

TEST(Rng, DeriveSeedSeparatesStreams) {
  std::set<uint64_t> seeds{derive_seed(1, "corpus"), derive_seed(1, "task/topic"), derive_seed(2, "corpus"),
                           derive_seed(1, "task/sentiment2")};
  EXPECT_EQ(seeds.size(), 4u);
  EXPECT_EQ(derive_seed(1, "corpus"), derive_seed(1, "corpus"));
}

}  // namespace ptlab::tasks::synthetic
