#include "framework/data/line_formats.h"

#include "tests/data/data_test_support.h"

#include <gtest/gtest.h>

namespace ptlab::data {
namespace {
using testing::read_all;
using testing::row_error_of;
using testing::TempDir;

TEST(PrefixLabelReader, LabelThenText) {
  TempDir dir;
  auto src = SourceConfig::with_defaults(dir.write("stsa", "1 a stirring , funny film \n\n0\tdull .\nNUM:dist How far ?\n"),
                                         Format::kPrefixLabel);
  auto reader = open_row_reader(src);
  EXPECT_EQ(reader->column_names(), (std::vector<std::string>{"label", "text"}));
  const auto rows = read_all(src);
  ASSERT_EQ(rows.size(), 3u);  // the blank line is skipped
  EXPECT_EQ(rows[0].columns, (std::vector<std::string>{"1", "a stirring , funny film"}));
  EXPECT_EQ(rows[1].columns, (std::vector<std::string>{"0", "dull ."}));
  EXPECT_EQ(rows[1].source.line, 3);
  EXPECT_EQ(rows[1].index, 1);
  EXPECT_EQ(rows[2].columns[0], "NUM:dist");
}

TEST(PrefixLabelReader, LineWithoutTextIsARowError) {
  TempDir dir;
  const std::string path = dir.write("stsa", "1 fine\n0\n1 ok\n");
  auto reader = open_row_reader(SourceConfig::with_defaults(path, Format::kPrefixLabel));
  RawRow row;
  ASSERT_TRUE(reader->next(row));
  EXPECT_CONTAINS(row_error_of([&] { reader->next(row); }), path + ":2: expected '<label> <text>', got only '0'");
  ASSERT_TRUE(reader->next(row));
  EXPECT_EQ(row.columns[1], "ok");
}

TEST(TextLineReader, OneRowPerNonBlankLine) {
  TempDir dir;
  const auto rows = read_all(SourceConfig::with_defaults(dir.write("c.txt", "First sentence.\n  \nSecond one.\n"), Format::kText));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].columns, (std::vector<std::string>{"Second one."}));
  EXPECT_EQ(rows[1].source.line, 3);
}

TEST(JsonLinesReader, ObjectsPerLine) {
  TempDir dir;
  const auto rows = read_all(SourceConfig::with_defaults(
      dir.write("a.jsonl", "{\"q\": \"is it\", \"label\": true, \"idx\": 3}\n\n{\"q\": \"caf\\u00e9\", \"label\": false}\n"),
      Format::kJsonLines));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].json["q"], "is it");
  EXPECT_EQ(json_scalar_text(rows[0].json["label"]), "true");
  EXPECT_EQ(json_scalar_text(rows[0].json["idx"]), "3");
  EXPECT_EQ(rows[1].json["q"], "caf\xC3\xA9");
  EXPECT_EQ(rows[1].source.line, 3);
}

TEST(JsonLinesReader, MalformedLineIsARowErrorWithLineAndColumn) {
  TempDir dir;
  const std::string path = dir.write("a.jsonl", "{\"a\": 1}\n{\"a\": 1,, }\n[1, 2]\n{\"a\": 2}\n");
  auto reader = open_row_reader(SourceConfig::with_defaults(path, Format::kJsonLines));
  RawRow row;
  ASSERT_TRUE(reader->next(row));
  const std::string msg = row_error_of([&] { reader->next(row); });
  EXPECT_CONTAINS(msg, path + ":2: malformed JSON at column 9");
  EXPECT_EQ(msg.find("[json.exception"), std::string::npos) << msg;
  EXPECT_CONTAINS(row_error_of([&] { reader->next(row); }), path + ":3: expected a JSON object per line, got a JSON array");
  ASSERT_TRUE(reader->next(row));
  EXPECT_EQ(row.json["a"], 2);
  EXPECT_EQ(row.index, 3);
}

}  // namespace
}  // namespace ptlab::data
