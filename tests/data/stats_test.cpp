#include "framework/data/stats.h"

#include "framework/text/tokenizer.h"
#include "tests/data/data_test_support.h"

#include <gtest/gtest.h>

namespace ptlab::data {
namespace {

Example row(const std::string& a, const std::string& label = "", const std::string& b = "") {
  Example e;
  e.text_a = a;
  e.text_b = b;
  e.label = e.label_name = label;
  return e;
}

TEST(LengthStats, NearestRankPercentiles) {
  std::vector<int64_t> v;
  for (int64_t i = 100; i >= 1; --i) v.push_back(i);  // 1..100 in reverse
  const LengthStats s = length_stats(v);
  EXPECT_EQ(s.count, 100);
  EXPECT_DOUBLE_EQ(s.mean, 50.5);
  EXPECT_EQ(s.min, 1);
  EXPECT_EQ(s.p50, 50);
  EXPECT_EQ(s.p90, 90);
  EXPECT_EQ(s.p99, 99);
  EXPECT_EQ(s.max, 100);
  const LengthStats one = length_stats({7});
  EXPECT_EQ(one.p50, 7);
  EXPECT_EQ(one.p99, 7);
  EXPECT_EQ(length_stats({}).count, 0);
}

TEST(SplitStats, LabelsInOrderWithZerosAndWordLengths) {
  const std::vector<Example> rows = {row("a b c", "pos"), row("a  b", "neg", "c d"), row("x", "pos"), row("y z")};
  const SplitStats s = compute_stats("train", rows, {"neg", "pos", "neutral"});
  EXPECT_EQ(s.rows, 4);
  EXPECT_EQ(s.unlabeled, 1);
  ASSERT_EQ(s.label_counts.size(), 3u);
  EXPECT_EQ(s.label_counts[0], (std::pair<std::string, int64_t>{"neg", 1}));
  EXPECT_EQ(s.label_counts[1], (std::pair<std::string, int64_t>{"pos", 2}));
  EXPECT_EQ(s.label_counts[2], (std::pair<std::string, int64_t>{"neutral", 0}));
  EXPECT_EQ(s.length_unit, "words");
  EXPECT_EQ(s.input.max, 4);  // "a  b" + "c d"
  EXPECT_EQ(s.input.min, 1);
  EXPECT_EQ(s.target.count, 0);
  const std::string text = format_stats(s);
  EXPECT_CONTAINS(text, "train: 4 rows (1 unlabeled)");
  EXPECT_CONTAINS(text, "    pos      ");
  EXPECT_CONTAINS(text, " 2   50.0%\n");
  EXPECT_CONTAINS(text, "input length (words): mean 2.5  min 1  p50 2");
}

TEST(SplitStats, TargetsAndTokenRows) {
  Example gen = row("Translate", "", "hello there");
  gen.target = "bonjour a tous";
  Example pos;
  pos.tokens = {"The", "jury", "said"};
  pos.tags = {"at", "nn", "vbd"};
  const SplitStats s = compute_stats("train", {gen, pos}, {});
  EXPECT_EQ(s.input.max, 3);
  EXPECT_EQ(s.target.count, 1);
  EXPECT_EQ(s.target.max, 3);
  EXPECT_EQ(format_stats(s).find("labels"), std::string::npos);
}

TEST(SplitStats, TokenLengthsWithARealTokenizer) {
  PTLAB_REQUIRE_SHARED_DATA("models/tokenizers/gpt2");
  const auto tok = text::load_tokenizer(testing::shared_path("models/tokenizers/gpt2"));
  const std::vector<Example> rows = {row("Hello world", "a"), row("unbelievably", "a")};
  const SplitStats s = compute_stats("dev", rows, {"a"}, tok.get());
  EXPECT_EQ(s.length_unit, "tokens");
  EXPECT_EQ(s.input.min, int64_t(tok->encode("Hello world", false).size()));
  EXPECT_EQ(s.input.max, int64_t(tok->encode("unbelievably", false).size()));
  EXPECT_NE(s.input.max, 1);  // GPT-2 splits it; a word count would say 1
}

}  // namespace
}  // namespace ptlab::data
