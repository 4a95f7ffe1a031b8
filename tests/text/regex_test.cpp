#include "framework/text/regex.h"

#include "framework/core/error.h"
#include "framework/text/pre_tokenizer.h"
#include "tests/text/text_test_support.h"

#include <gtest/gtest.h>

namespace ptlab::text {
namespace {

std::vector<std::string> matches(const Regex& re, std::string_view text) {
  std::vector<Span> spans;
  re.find_all(text, spans);
  std::vector<std::string> out;
  for (auto [b, e] : spans) out.emplace_back(text.substr(b, e - b));
  return out;
}

TEST(Regex, Gpt2PatternSplitsLikePython) {
  Regex re(kGpt2Pattern, "test");
  EXPECT_EQ(matches(re, "Hello world's 123 caf\xC3\xA9!!  x"),
            (std::vector<std::string>{"Hello", " world", "'s", " 123", " caf\xC3\xA9", "!!", " ", " x"}));
  // \s is Unicode White_Space: U+0085 and U+3000 are spaces, U+180E (not White_Space since Unicode 6.3) is not.
  EXPECT_EQ(matches(re,
                    "a\xC2\x85"
                    "b"),
            (std::vector<std::string>{"a", "\xC2\x85", "b"}));
  EXPECT_EQ(matches(re, "a \xE3\x80\x80 b"), (std::vector<std::string>{"a", " \xE3\x80\x80", " b"}));
  EXPECT_EQ(matches(re,
                    "a\xE1\xA0\x8E"
                    "b"),
            (std::vector<std::string>{"a", "\xE1\xA0\x8E", "b"}));
}

TEST(Regex, RewritesWhitespaceClassesOnly) {
  std::string r = rewrite_whitespace_classes(R"(\s+(?!\S)|[^\s\p{L}]|\\s|[\]\s])");
  EXPECT_EQ(r.find("\\s"), r.find("\\\\s") + 1) << r;  // only the escaped backslash's "\s" remains
  EXPECT_NE(r.find("[^\\x{9}-\\x{D}"), std::string::npos) << r;
  EXPECT_NE(r.find("(?![^\\x{9}"), std::string::npos) << r;
}

TEST(Regex, SkipsEmptyMatchesAndHandlesUnicode) {
  Regex re("x*", "test");
  EXPECT_EQ(matches(re, "\xC3\xA9xx\xC3\xA9x"), (std::vector<std::string>{"xx", "x"}));
  Regex digits(R"(\p{N}{1,3})", "test");
  EXPECT_EQ(matches(digits, "1234567"), (std::vector<std::string>{"123", "456", "7"}));
  Regex ci(R"((?i:'s|'ll))", "test");
  EXPECT_EQ(matches(ci, "IT'S WE'LL"), (std::vector<std::string>{"'S", "'LL"}));
}

TEST(Regex, BadPatternIsAnErrorWithItsOrigin) {
  std::string message = testing::error_of([] { Regex("(unclosed", "tokenizer.json pre_tokenizer.pattern.Regex"); });
  EXPECT_NE(message.find("tokenizer.json pre_tokenizer.pattern.Regex"), std::string::npos) << message;
  EXPECT_NE(message.find("offset"), std::string::npos) << message;
}

}  // namespace
}  // namespace ptlab::text
