#include "framework/data/row_reader.h"

#include "tests/data/data_test_support.h"

#include <gtest/gtest.h>

namespace ptlab::data {
namespace {
using testing::error_of;
using testing::TempDir;

TEST(RowReader, OpensTheReaderOfEachFormat) {
  TempDir dir;
  const std::vector<std::pair<Format, std::string>> files = {
      {Format::kTsv, "a\tb\n1\t2\n"},          {Format::kCsv, "a,b\n1,2\n"},
      {Format::kPrefixLabel, "1 text\n"},      {Format::kJsonLines, "{\"a\": 1}\n"},
      {Format::kJson, "[{\"a\": 1}]"},         {Format::kText, "a line\n"}};
  for (const auto& [format, text] : files) {
    SCOPED_TRACE(format_name(format));
    auto reader = open_row_reader(SourceConfig::with_defaults(dir.write("f." + format_name(format), text), format));
    RawRow row;
    ASSERT_TRUE(reader->next(row));
    EXPECT_EQ(row.index, 0);
    const bool has_header = format == Format::kTsv || format == Format::kCsv;
    EXPECT_EQ(row.source.line, has_header ? 2 : 1);
    EXPECT_FALSE(reader->next(row));
    EXPECT_FALSE(reader->file_was_empty());
  }
  auto empty = open_row_reader(SourceConfig::with_defaults(dir.write("e.jsonl", ""), Format::kJsonLines));
  RawRow row;
  EXPECT_FALSE(empty->next(row));
  EXPECT_TRUE(empty->file_was_empty());
}

TEST(RowReader, MissingFileOrDirectoryNamesTheConfig) {
  TempDir dir;
  auto src = SourceConfig::with_defaults(dir.path() + "/nope.tsv", Format::kTsv);
  src.config_where = "task.data.splits.dev (configs/task/x.yaml)";
  const std::string msg = error_of([&] { open_row_reader(src); });
  EXPECT_CONTAINS(msg, "data file '" + src.path + "' not found for task.data.splits.dev (configs/task/x.yaml)");
  EXPECT_CONTAINS(msg, "PTLAB_SHARED");
  src.path = dir.path();
  EXPECT_CONTAINS(error_of([&] { open_row_reader(src); }), "is a directory, not a file");
}

TEST(RowReader, JsonValuesAsFieldText) {
  EXPECT_EQ(json_scalar_text(nlohmann::json("text")), "text");
  EXPECT_EQ(json_scalar_text(nlohmann::json(true)), "true");
  EXPECT_EQ(json_scalar_text(nlohmann::json(42)), "42");
  EXPECT_EQ(json_scalar_text(nlohmann::json(0.5)), "0.5");
  EXPECT_EQ(json_scalar_text(nlohmann::json(nullptr)), "");
  EXPECT_EQ(json_scalar_text(nlohmann::json::parse("[1,\"a\"]")), "[1,\"a\"]");
}

}  // namespace
}  // namespace ptlab::data
