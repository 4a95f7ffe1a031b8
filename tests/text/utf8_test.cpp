#include "framework/text/utf8.h"

#include "framework/core/error.h"
#include "tests/text/text_test_support.h"

#include <gtest/gtest.h>

namespace ptlab::text {
namespace {

using testing::error_of;

TEST(Utf8, FindsTheFirstIllFormedByte) {
  EXPECT_EQ(find_invalid_utf8(""), std::string_view::npos);
  EXPECT_EQ(find_invalid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x8D\x95"), std::string_view::npos);  // é € 🍕
  EXPECT_EQ(find_invalid_utf8("ab\xFF"), 2u);            // never a lead byte
  EXPECT_EQ(find_invalid_utf8("a\xC0\x80"), 1u);         // overlong NUL
  EXPECT_EQ(find_invalid_utf8("xy\xED\xA0\x80"), 2u);    // UTF-16 surrogate U+D800
  EXPECT_EQ(find_invalid_utf8("\xF4\x90\x80\x80"), 0u);  // above U+10FFFF
  EXPECT_EQ(find_invalid_utf8("ok\xE2\x82"), 2u);        // truncated at the end
  EXPECT_EQ(find_invalid_utf8("ok\x80"), 2u);            // stray continuation byte
}

TEST(Utf8, CheckNamesWhatAndTheByteOffset) {
  EXPECT_NO_THROW(check_utf8("fine", "x"));
  std::string message = error_of([] { check_utf8("hello \xE9t\xE9", "line 3 of data.tsv"); });
  EXPECT_NE(message.find("line 3 of data.tsv"), std::string::npos) << message;
  EXPECT_NE(message.find("byte offset 6"), std::string::npos) << message;
  EXPECT_NE(message.find("0xE9"), std::string::npos) << message;
}

TEST(Utf8, DecodesAndEncodesCodePoints) {
  std::string s = "A\xC3\xA9\xE2\x82\xAC\xF0\x9F\x8D\x95";  // A é € 🍕
  std::size_t pos = 0;
  EXPECT_EQ(next_code_point(s, pos), U'A');
  EXPECT_EQ(next_code_point(s, pos), U'\u00E9');
  EXPECT_EQ(next_code_point(s, pos), U'\u20AC');
  EXPECT_EQ(next_code_point(s, pos), U'\U0001F355');
  EXPECT_EQ(pos, s.size());
  std::string out;
  for (char32_t cp : {U'A', U'\u00E9', U'\u20AC', U'\U0001F355'}) append_utf8(out, cp);
  EXPECT_EQ(out, s);
  EXPECT_EQ(count_code_points(s), 4u);
  EXPECT_EQ(utf8_length(0xF0), 4u);
  EXPECT_EQ(utf8_length('a'), 1u);
}

TEST(Utf8, LossyDecodingReplacesMaximalSubparts) {
  // The same results as Python's bytes.decode("utf-8", "replace").
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(decode_utf8_lossy("ok"), "ok");
  EXPECT_EQ(decode_utf8_lossy("\xE2\x82"
                              "A"),
            fffd + "A");                                             // truncated 3-byte sequence: one U+FFFD
  EXPECT_EQ(decode_utf8_lossy("\xF0\x80\x80"), fffd + fffd + fffd);  // F0 80 is ill-formed from the 2nd byte
  EXPECT_EQ(decode_utf8_lossy("\xED\xA0\x80"), fffd + fffd + fffd);  // surrogate
  EXPECT_EQ(decode_utf8_lossy("a\xFF"
                              "b"),
            "a" + fffd + "b");
  EXPECT_EQ(decode_utf8_lossy("\xF0\x9F\x8D"), fffd);  // emoji cut short
}

}  // namespace
}  // namespace ptlab::text
