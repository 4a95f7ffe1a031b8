#include "framework/data/source_config.h"

#include "tests/data/data_test_support.h"

#include <gtest/gtest.h>

namespace ptlab::data {
namespace {
using testing::error_of;

TEST(SourceConfig, FormatsByNameAndExtension) {
  EXPECT_EQ(parse_format("prefix_label", "k"), Format::kPrefixLabel);
  EXPECT_EQ(format_name(Format::kJsonLines), "jsonl");
  EXPECT_EQ(format_from_extension("/a/b/train.tsv", "k"), Format::kTsv);
  EXPECT_EQ(format_from_extension("x.csv", "k"), Format::kCsv);
  EXPECT_EQ(format_from_extension("x.jsonl", "k"), Format::kJsonLines);
  EXPECT_EQ(format_from_extension("x.json", "k"), Format::kJson);
  EXPECT_EQ(format_from_extension("x.txt", "k"), Format::kText);
  EXPECT_CONTAINS(error_of([] { format_from_extension("stsa.binary.train", "task.data.splits.train.path"); }),
                  "task.data.splits.train.path: cannot tell the format of 'stsa.binary.train'");
  EXPECT_CONTAINS(error_of([] { parse_format("jsonlines", "f"); }), "unknown format 'jsonlines' (did you mean jsonl");
}

TEST(SourceConfig, DefaultsPerFormat) {
  const auto csv = SourceConfig::with_defaults("a.csv", Format::kCsv);
  EXPECT_EQ(csv.delimiter, ',');
  EXPECT_EQ(csv.quote, '"');
  EXPECT_TRUE(csv.header);
  const auto tsv = SourceConfig::with_defaults("a.tsv", Format::kTsv);
  EXPECT_EQ(tsv.delimiter, '\t');
  EXPECT_EQ(tsv.quote, 0);  // GLUE tsv files hold bare quotes
}

}  // namespace
}  // namespace ptlab::data
