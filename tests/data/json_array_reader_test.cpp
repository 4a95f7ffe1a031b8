#include "framework/data/json_array_reader.h"

#include "tests/data/data_test_support.h"

#include <gtest/gtest.h>

namespace ptlab::data {
namespace {
using testing::error_of;
using testing::read_all;
using testing::row_error_of;
using testing::TempDir;

SourceConfig json_source(const TempDir& dir, const std::string& text) {
  return SourceConfig::with_defaults(dir.write("a.json", text), Format::kJson);
}

TEST(JsonArrayReader, ElementsWithPointersAndLines) {
  TempDir dir;
  const std::string text =
      "[\n"
      "  {\"instruction\": \"say ]\\\" and }\", \"input\": \"\", \"output\": \"ok\"},\n"
      "  {\"instruction\": \"nested\",\n"
      "   \"meta\": {\"a\": [1, {\"b\": \"[\"}]}, \"output\": \"line1\\nline2\"}\n"
      "]\n";
  const auto rows = read_all(json_source(dir, text));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].json["instruction"], "say ]\" and }");
  EXPECT_EQ(rows[0].source.pointer, "/0");
  EXPECT_EQ(rows[0].source.line, 2);
  EXPECT_EQ(rows[1].json["meta"]["a"][1]["b"], "[");
  EXPECT_EQ(rows[1].json["output"], "line1\nline2");
  EXPECT_EQ(rows[1].source.pointer, "/1");
  EXPECT_EQ(rows[1].source.line, 3);
  EXPECT_EQ(rows[1].source.describe(), rows[1].source.file + ":3 (/1)");
}

TEST(JsonArrayReader, EmptyArrayAndCompactLayout) {
  TempDir dir;
  EXPECT_TRUE(read_all(json_source(dir, "[]")).empty());
  const auto rows = read_all(json_source(dir, "[{\"a\":1},{\"a\":2}]"));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].json["a"], 2);
}

TEST(JsonArrayReader, BadElementIsARowErrorAndReadingGoesOn) {
  TempDir dir;
  const auto src = json_source(dir, "[\n{\"a\": 1},\n{\"a\": tru},\n\"text\",\n{\"a\": 3}\n]");
  auto reader = open_row_reader(src);
  RawRow row;
  ASSERT_TRUE(reader->next(row));
  EXPECT_CONTAINS(row_error_of([&] { reader->next(row); }), src.path + ":3 (/1): malformed JSON element (near line 3)");
  EXPECT_CONTAINS(row_error_of([&] { reader->next(row); }), src.path + ":4 (/2): expected a JSON object, got a JSON string");
  ASSERT_TRUE(reader->next(row));
  EXPECT_EQ(row.json["a"], 3);
  EXPECT_FALSE(reader->next(row));
}

TEST(JsonArrayReader, StructuralErrors) {
  TempDir dir;
  EXPECT_CONTAINS(error_of([&] { read_all(json_source(dir, "{\"a\": 1}\n")); }),
                  "line 1: expected a JSON array of objects ('['), got '{'; for one object per line use format: jsonl");
  EXPECT_CONTAINS(error_of([&] { read_all(json_source(dir, "[{\"a\": 1},\n{\"a\": \"unfinished\n")); }),
                  "line 2: the file ends inside element /1 of the JSON array (in a string)");
  EXPECT_CONTAINS(error_of([&] { read_all(json_source(dir, "[{\"a\": 1},]")); }), "a trailing ',' before ']'");
  EXPECT_CONTAINS(error_of([&] { read_all(json_source(dir, "[{\"a\": 1},,{}]")); }), "an empty element");
  EXPECT_CONTAINS(error_of([&] { read_all(json_source(dir, "[{\"a\": 1}] x")); }), "unexpected 'x' after the end of the JSON array");
  EXPECT_CONTAINS(error_of([&] { read_all(json_source(dir, "[{\"a\": 1},\n")); }), "the JSON array is never closed");
}

}  // namespace
}  // namespace ptlab::data
