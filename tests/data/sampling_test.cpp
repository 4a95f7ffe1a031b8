#include "framework/data/sampling.h"

#include "tests/data/data_test_support.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

namespace ptlab::data {
namespace {
using testing::error_of;

std::vector<Example> labeled_rows(const std::vector<std::pair<std::string, int>>& per_class) {
  std::vector<Example> rows;
  // Interleave the classes so class membership is not contiguous in the file.
  int left = 1;
  for (int round = 0; left > 0; ++round) {
    left = 0;
    for (const auto& [name, count] : per_class) {
      if (round >= count) continue;
      ++left;
      Example e;
      e.label = e.label_name = name;
      e.text_a = name + std::to_string(round);
      rows.push_back(e);
    }
  }
  return rows;
}

TEST(FewShot, KPerClassInClassOrderDeterministic) {
  const auto rows = labeled_rows({{"neg", 40}, {"pos", 60}, {"neu", 10}});
  const std::vector<std::string> classes = {"pos", "neg", "neu"};
  const auto a = few_shot_indices(rows, 8, 13, classes, "train");
  ASSERT_EQ(a.size(), 24u);
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(rows[a[i]].label_name, classes[i / 8]) << i;
  for (std::size_t c = 0; c < 3; ++c)
    EXPECT_TRUE(std::is_sorted(a.begin() + 8 * c, a.begin() + 8 * (c + 1)));  // file order within a class
  EXPECT_EQ(std::set<int64_t>(a.begin(), a.end()).size(), a.size());  // no duplicates
  EXPECT_EQ(few_shot_indices(rows, 8, 13, classes, "train"), a);
  EXPECT_NE(few_shot_indices(rows, 8, 21, classes, "train"), a);
  // A class's picks do not depend on the other classes (own stream per class name).
  const auto only_pos = few_shot_indices(labeled_rows({{"neg", 40}, {"pos", 60}}), 8, 13, {"pos"}, "train");
  std::vector<std::string> texts_a, texts_b;
  for (int i = 0; i < 8; ++i) texts_a.push_back(rows[a[i]].text_a);
  const auto rows2 = labeled_rows({{"neg", 40}, {"pos", 60}});
  for (int64_t i : only_pos) texts_b.push_back(rows2[i].text_a);
  EXPECT_EQ(texts_a, texts_b);
}

TEST(FewShot, ClassesDefaultToSortedNamesAndUnlabeledToK) {
  const auto rows = labeled_rows({{"b", 5}, {"a", 5}});
  const auto picked = few_shot_indices(rows, 2, 0, {}, "train");
  ASSERT_EQ(picked.size(), 4u);
  EXPECT_EQ(rows[picked[0]].label_name, "a");
  EXPECT_EQ(rows[picked[3]].label_name, "b");
  std::vector<Example> unlabeled(30);
  const auto k = few_shot_indices(unlabeled, 7, 1, {}, "train");
  EXPECT_EQ(k.size(), 7u);
  EXPECT_EQ(std::set<int64_t>(k.begin(), k.end()).size(), 7u);
}

TEST(FewShot, TooFewRowsInAClassIsAnError) {
  const auto rows = labeled_rows({{"neg", 40}, {"pos", 3}});
  EXPECT_CONTAINS(error_of([&] { few_shot_indices(rows, 16, 13, {"neg", "pos"}, "split train ('t.tsv')"); }),
                  "few_shot.k=16 but class 'pos' has only 3 rows in split train ('t.tsv')");
  EXPECT_CONTAINS(error_of([&] { few_shot_indices(rows, 1, 13, {"neg", "pos", "neutral"}, "train"); }),
                  "class 'neutral' has only 0 rows");
}

TEST(Shards, PartitionWithSizesWithinOne) {
  for (ShardMode mode : {ShardMode::kStrided, ShardMode::kContiguous}) {
    for (int64_t n : {0, 1, 7, 64, 1001}) {
      for (int world : {1, 2, 3, 8, 13}) {
        std::vector<int> seen(std::size_t(n), 0);
        std::size_t smallest = SIZE_MAX, largest = 0;
        for (int rank = 0; rank < world; ++rank) {
          const Shard shard{rank, world, mode};
          const auto idx = shard_indices(n, shard);
          smallest = std::min(smallest, idx.size());
          largest = std::max(largest, idx.size());
          for (int64_t i : idx) {
            ++seen[std::size_t(i)];
            EXPECT_TRUE(in_shard(i, n, shard));
          }
        }
        EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](int c) { return c == 1; }))
            << "n=" << n << " world=" << world << " mode=" << int(mode);
        EXPECT_LE(largest - smallest, 1u) << "n=" << n << " world=" << world;
      }
    }
  }
  EXPECT_EQ(shard_indices(10, Shard{1, 3, ShardMode::kStrided}), (std::vector<int64_t>{1, 4, 7}));
  EXPECT_EQ(shard_indices(10, Shard{1, 3, ShardMode::kContiguous}), (std::vector<int64_t>{3, 4, 5}));
  EXPECT_CONTAINS(error_of([] { shard_indices(10, Shard{3, 3}); }), "invalid shard: rank 3 of world size 3");
}

TEST(EpochOrder, DeterministicPermutationDifferentPerEpochAndSeed) {
  const auto e0 = epoch_order(100, 5, 0);
  EXPECT_EQ(e0, epoch_order(100, 5, 0));
  EXPECT_NE(e0, epoch_order(100, 5, 1));
  EXPECT_NE(e0, epoch_order(100, 6, 0));
  auto sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 100; ++i) EXPECT_EQ(sorted[std::size_t(i)], i);
  // Ranks together visit every row once per epoch.
  std::vector<int> seen(100, 0);
  for (int r = 0; r < 3; ++r)
    for (int64_t i : epoch_shard(100, 5, 2, Shard{r, 3})) ++seen[std::size_t(i)];
  EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](int c) { return c == 1; }));
}

TEST(SplitOff, SeededDisjointAndComplete) {
  const auto a = split_off(50, 5, 0);
  EXPECT_EQ(a.held_out.size(), 5u);
  EXPECT_EQ(a.kept.size(), 45u);
  EXPECT_TRUE(std::is_sorted(a.held_out.begin(), a.held_out.end()));
  std::set<int64_t> all(a.kept.begin(), a.kept.end());
  all.insert(a.held_out.begin(), a.held_out.end());
  EXPECT_EQ(all.size(), 50u);
  EXPECT_EQ(split_off(50, 5, 0).held_out, a.held_out);
  EXPECT_NE(split_off(50, 5, 1).held_out, a.held_out);
  EXPECT_EQ(held_out_count(5452, 0.1), 545);
  EXPECT_EQ(held_out_count(3, 0.01), 1);
  EXPECT_EQ(held_out_count(2, 0.9), 1);
  EXPECT_EQ(held_out_count(1, 0.5), 0);
}

}  // namespace
}  // namespace ptlab::data
