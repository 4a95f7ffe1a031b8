#include "framework/text/basic_tokenizer.h"

#include <gtest/gtest.h>

namespace ptlab::text {
namespace {

std::vector<std::string> words(const BasicTokenizer& t, std::string_view text) {
  std::vector<std::string> out;
  t.tokenize(text, out);
  return out;
}

TEST(BasicTokenizer, LowerCasesStripsAccentsAndSplitsPunctuation) {
  BasicTokenizer t({});
  EXPECT_EQ(words(t,
                  "Hello, World! It's \xC3\x89"
                  "COLE."),
            (std::vector<std::string>{"hello", ",", "world", "!", "it", "'", "s", "ecole", "."}));
  EXPECT_EQ(words(t, "  \t\n "), std::vector<std::string>{});
  EXPECT_EQ(words(t, "a$b^c"), (std::vector<std::string>{"a", "$", "b", "^", "c"}));  // ASCII symbols count
}

TEST(BasicTokenizer, CleansControlAndWhitespaceCharacters) {
  BasicTokenizer t({});
  // \x01 and U+0085 (controls) and U+200B (Cf) vanish; U+3000 and NBSP separate; U+2028 splits (str.split()).
  EXPECT_EQ(words(t,
                  "a\x01"
                  "b c\xC2\x85"
                  "d zero\xE2\x80\x8Bwidth x\xE3\x80\x80y\xC2\xA0z p\xE2\x80\xA8q"),
            (std::vector<std::string>{"ab", "cd", "zerowidth", "x", "y", "z", "p", "q"}));
  EXPECT_EQ(words(t, "bad \xEF\xBF\xBD here"), (std::vector<std::string>{"bad", "here"}));  // U+FFFD dropped
}

TEST(BasicTokenizer, SplitsCjkWithPythonRanges) {
  BasicTokenizer t({});
  EXPECT_EQ(words(t, "\xE6\x88\x91\xE7\x88\xB1NLP"), (std::vector<std::string>{"\xE6\x88\x91", "\xE7\x88\xB1", "nlp"}));
  // U+2B820 is CJK Ext-E in transformers' Python table (the Rust table starts at U+2B920).
  EXPECT_EQ(words(t, "x\xF0\xAB\xA0\xA0y"), (std::vector<std::string>{"x", "\xF0\xAB\xA0\xA0", "y"}));
  EXPECT_TRUE(BasicTokenizer::is_chinese_char(0x2B820));
  EXPECT_FALSE(BasicTokenizer::is_chinese_char(0x3042));  // Hiragana is not split
  EXPECT_TRUE(BasicTokenizer::is_punctuation(U'\u3002'));
  EXPECT_TRUE(BasicTokenizer::is_punctuation(U'`'));
  EXPECT_TRUE(BasicTokenizer::is_punctuation(U'\u00A7'));   // § is Po
  EXPECT_FALSE(BasicTokenizer::is_punctuation(U'\u00A9'));  // © is So
}

TEST(BasicTokenizer, OptionsAndNeverSplit) {
  BasicTokenizer::Options cased;
  cased.lower_case = false;
  cased.never_split = {"[UNUSED]"};
  BasicTokenizer t(cased);
  EXPECT_EQ(words(t, "Caf\xC3\xA9 [UNUSED] [X]"), (std::vector<std::string>{"Caf\xC3\xA9", "[UNUSED]", "[", "X", "]"}));
  BasicTokenizer::Options strip_only = cased;
  strip_only.strip_accents = true;
  EXPECT_EQ(words(BasicTokenizer(strip_only), "Caf\xC3\xA9"), (std::vector<std::string>{"Cafe"}));
  BasicTokenizer::Options keep_accents;
  keep_accents.strip_accents = false;
  EXPECT_EQ(words(BasicTokenizer(keep_accents), "Caf\xC3\xA9"), (std::vector<std::string>{"caf\xC3\xA9"}));
}

}  // namespace
}  // namespace ptlab::text
