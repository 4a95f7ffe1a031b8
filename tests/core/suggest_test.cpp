#include "framework/core/suggest.h"

#include <gtest/gtest.h>

namespace ptlab {

TEST(Suggest, EditDistance) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("prefix_tuning", "prefix_tunning"), 1u);
}

TEST(Suggest, ClosestNamesFindsTyposAndSubstrings) {
  std::vector<std::string> names = {"prompt_tuning", "prefix_tuning", "p_tuning_v2", "full_finetune"};
  auto best = closest_names("prefix_tunig", names);
  ASSERT_FALSE(best.empty());
  EXPECT_EQ(best[0], "prefix_tuning");
  EXPECT_TRUE(closest_names("zzzzzzzz", names).empty());
  EXPECT_EQ(closest_names("prefix", names).at(0), "prefix_tuning");
}

TEST(Suggest, DidYouMeanFormats) {
  EXPECT_EQ(did_you_mean("lrr", {"lr", "seed"}), " (did you mean lr?)");
  EXPECT_EQ(did_you_mean("prefix_tunin", {"prefix_tuning"}, "method="), " (did you mean method=prefix_tuning?)");
  EXPECT_EQ(did_you_mean("qqqqqq", {"lr"}), "");
}

}  // namespace ptlab
