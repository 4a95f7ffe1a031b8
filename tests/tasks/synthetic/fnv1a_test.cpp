#include "tasks/synthetic/fnv1a.h"

#include <gtest/gtest.h>

namespace ptlab::tasks::synthetic {

TEST(Fnv1a64, MatchesPublishedValues) {
  // Reference values of the FNV-1a 64-bit hash (Fowler/Noll/Vo test vectors).
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ull);
}

TEST(Fnv1a64, IncrementalEqualsOneShotAndHexIs16Digits) {
  Fnv1a64 h;
  h.update("foo");
  h.update("");
  h.update("bar");
  EXPECT_EQ(h.value(), fnv1a64("foobar"));
  EXPECT_EQ(h.hex(), "85944171f73967e8");
  EXPECT_EQ(Fnv1a64().hex(), "cbf29ce484222325");
}

}  // namespace ptlab::tasks::synthetic
