#include "framework/data/delimited_reader.h"

#include "tests/data/data_test_support.h"

#include <gtest/gtest.h>

namespace ptlab::data {
namespace {
using testing::error_of;
using testing::read_all;
using testing::row_error_of;
using testing::TempDir;

TEST(DelimitedReader, TsvWithHeaderKeepsBareQuotes) {
  TempDir dir;
  const auto src = SourceConfig::with_defaults(dir.write("a.tsv", "sentence\tlabel\nsay \"hi\" now\t1\n\"open\t0\r\n"),
                                               Format::kTsv);
  auto reader = open_row_reader(src);
  EXPECT_EQ(reader->column_names(), (std::vector<std::string>{"sentence", "label"}));
  RawRow row;
  ASSERT_TRUE(reader->next(row));
  EXPECT_EQ(row.columns, (std::vector<std::string>{"say \"hi\" now", "1"}));
  EXPECT_EQ(row.source.line, 2);
  EXPECT_EQ(row.index, 0);
  ASSERT_TRUE(reader->next(row));
  EXPECT_EQ(row.columns, (std::vector<std::string>{"\"open", "0"}));
  EXPECT_EQ(row.index, 1);
  EXPECT_FALSE(reader->next(row));
}

TEST(DelimitedReader, CsvQuotingPerRfc4180) {
  TempDir dir;
  const std::string text =
      "id,text,label\n"
      "1,\"a, b\",x\n"
      "2,\"she said \"\"no\"\"\",y\n"
      "3,\"first line\nsecond line\",z\n"
      "4,,\"\"\n"
      "5,plain 5\" screen,w\n";
  const auto rows = read_all(SourceConfig::with_defaults(dir.write("a.csv", text), Format::kCsv));
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0].columns[1], "a, b");
  EXPECT_EQ(rows[1].columns[1], "she said \"no\"");
  EXPECT_EQ(rows[2].columns[1], "first line\nsecond line");
  EXPECT_EQ(rows[2].source.line, 4);  // where the record starts
  EXPECT_EQ(rows[3].source.line, 6);  // the embedded newline took line 5
  EXPECT_EQ(rows[3].columns, (std::vector<std::string>{"4", "", ""}));
  EXPECT_EQ(rows[4].columns[1], "plain 5\" screen");  // a quote inside an unquoted field is text
}

TEST(DelimitedReader, HeaderlessWithColumnsAndOtherDelimiter) {
  TempDir dir;
  auto src = SourceConfig::with_defaults(dir.write("a.csv", "x;1\ny;2\n"), Format::kCsv);
  src.delimiter = ';';
  src.header = false;
  src.columns = {"text", "label"};
  auto reader = open_row_reader(src);
  EXPECT_EQ(reader->column_names(), src.columns);
  RawRow row;
  ASSERT_TRUE(reader->next(row));
  EXPECT_EQ(row.columns, (std::vector<std::string>{"x", "1"}));
  EXPECT_EQ(row.source.line, 1);
}

TEST(DelimitedReader, UnterminatedQuoteIsAnErrorNamingTheLine) {
  TempDir dir;
  const std::string path = dir.write("bad.csv", "a,b\n1,2\n3,\"never closed\n4,5\n");
  const std::string msg = error_of([&] { read_all(SourceConfig::with_defaults(path, Format::kCsv)); });
  EXPECT_CONTAINS(msg, "'" + path + "' line 3: unterminated quoted field");
  EXPECT_CONTAINS(msg, "column 3");
  // Not skippable: the rest of the file was swallowed.
  try {
    read_all(SourceConfig::with_defaults(path, Format::kCsv));
  } catch (const RowError&) {
    ADD_FAILURE() << "an unterminated quote must not be a RowError";
  } catch (const Error&) {
  }
}

TEST(DelimitedReader, TextAfterClosingQuoteIsARowErrorAndReadingGoesOn) {
  TempDir dir;
  const std::string path = dir.write("bad.csv", "a,b\n\"x\"y,1\n\"multi\nline\"junk,2\nok,3\n");
  auto reader = open_row_reader(SourceConfig::with_defaults(path, Format::kCsv));
  RawRow row;
  EXPECT_CONTAINS(row_error_of([&] { reader->next(row); }), path + "' line 2: unexpected 'y' after the closing quote of field 1");
  EXPECT_CONTAINS(row_error_of([&] { reader->next(row); }), "line 3: unexpected 'j'");
  ASSERT_TRUE(reader->next(row));
  EXPECT_EQ(row.columns, (std::vector<std::string>{"ok", "3"}));
  EXPECT_EQ(row.index, 2);  // the bad rows kept their indices
}

TEST(DelimitedReader, WrongFieldCountIsARowError) {
  TempDir dir;
  const std::string path = dir.write("a.tsv", "sentence\tlabel\ngood\t1\nstray\ttab\t0\nfine\t0\n");
  auto reader = open_row_reader(SourceConfig::with_defaults(path, Format::kTsv));
  RawRow row;
  ASSERT_TRUE(reader->next(row));
  const std::string msg = row_error_of([&] { reader->next(row); });
  EXPECT_CONTAINS(msg, path + ":3: the row has 3 fields, the header has 2 (sentence, label)");
  ASSERT_TRUE(reader->next(row));
  EXPECT_EQ(row.columns[0], "fine");
}

TEST(DelimitedReader, HeaderProblems) {
  TempDir dir;
  auto src = SourceConfig::with_defaults(dir.write("dup.tsv", "a\ta\n1\t2\n"), Format::kTsv);
  EXPECT_CONTAINS(error_of([&] { open_row_reader(src); }), "line 1: the header names column 'a' twice");
  src = SourceConfig::with_defaults(dir.write("h.tsv", "a\tb\n"), Format::kTsv);
  src.columns = {"x", "y"};
  src.config_where = "task.data.splits.train";
  EXPECT_CONTAINS(error_of([&] { open_row_reader(src); }), "task.data.splits.train: columns: names the columns of a file "
                                                          "without a header");
}

}  // namespace
}  // namespace ptlab::data
