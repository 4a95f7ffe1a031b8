#include "framework/data/line_reader.h"

#include "tests/data/data_test_support.h"

#include <gtest/gtest.h>

namespace ptlab::data {
namespace {
using testing::error_of;
using testing::TempDir;

std::vector<std::string> lines_of(const std::string& path, FileEncoding enc = FileEncoding::kUtf8) {
  LineReader r(path, enc);
  std::vector<std::string> out;
  std::string line;
  while (r.next(line)) out.push_back(line);
  return out;
}

TEST(LineReader, SplitsLinesAndStripsTerminators) {
  TempDir dir;
  EXPECT_EQ(lines_of(dir.write("a.txt", "one\r\ntwo\n\nthree")),
            (std::vector<std::string>{"one", "two", "", "three"}));
  EXPECT_EQ(lines_of(dir.write("b.txt", "x\n")), (std::vector<std::string>{"x"}));
  EXPECT_TRUE(lines_of(dir.write("c.txt", "")).empty());
  // A UTF-8 byte-order mark is dropped from the first line only.
  EXPECT_EQ(lines_of(dir.write("d.txt", "\xEF\xBB\xBFhead\nx\n")), (std::vector<std::string>{"head", "x"}));
}

TEST(LineReader, TracksLineNumbersAndOffsets) {
  TempDir dir;
  LineReader r(dir.write("a.txt", "ab\ncde\r\nf"), FileEncoding::kUtf8);
  std::string line;
  ASSERT_TRUE(r.next(line));
  EXPECT_EQ(r.line_number(), 1);
  EXPECT_EQ(r.line_offset(), 0);
  ASSERT_TRUE(r.next(line));
  EXPECT_EQ(r.line_number(), 2);
  EXPECT_EQ(r.line_offset(), 3);
  ASSERT_TRUE(r.next(line));
  EXPECT_EQ(line, "f");
  EXPECT_EQ(r.line_offset(), 8);
  EXPECT_FALSE(r.next(line));
  EXPECT_FALSE(r.file_is_empty());
}

TEST(LineReader, LinesLongerThanTheReadBlock) {
  TempDir dir;
  const std::string big(3 * (1 << 20) + 17, 'x');
  const auto lines = lines_of(dir.write("big.txt", "a\n" + big + "\nb\n"));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1], big);
  EXPECT_EQ(lines[2], "b");
}

TEST(LineReader, InvalidUtf8NamesFileLineAndByteOffset) {
  TempDir dir;
  const std::string path = dir.write("bad.tsv", "ok line\nsister\xA0" "city\n");
  const std::string msg = error_of([&] { lines_of(path); });
  EXPECT_CONTAINS(msg, "invalid UTF-8 in '" + path + "' line 2");
  EXPECT_CONTAINS(msg, "byte offset 14");  // 8 bytes of line 1 + "sister"
  EXPECT_CONTAINS(msg, "offset 6 in the line");
  EXPECT_CONTAINS(msg, "0xA0");
  EXPECT_CONTAINS(msg, "encoding: latin-1");
}

TEST(LineReader, Latin1IsConvertedToUtf8) {
  TempDir dir;
  const auto lines = lines_of(dir.write("l1.txt", "caf\xE9\nsister\xA0" "city\n"), FileEncoding::kLatin1);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "caf\xC3\xA9");          // é
  EXPECT_EQ(lines[1], "sister\xC2\xA0" "city");  // no-break space
}

TEST(LineReader, MissingFileAndEncodingNames) {
  EXPECT_CONTAINS(error_of([] { LineReader r("/nonexistent/x.tsv", FileEncoding::kUtf8); }),
                  "cannot open data file '/nonexistent/x.tsv'");
  EXPECT_EQ(parse_encoding("UTF8", "k"), FileEncoding::kUtf8);
  EXPECT_EQ(parse_encoding("ISO-8859-1", "k"), FileEncoding::kLatin1);
  EXPECT_CONTAINS(error_of([] { parse_encoding("latin", "task.data.splits.train.encoding"); }),
                  "task.data.splits.train.encoding: unknown encoding 'latin' (did you mean latin-1?)");
}

}  // namespace
}  // namespace ptlab::data
