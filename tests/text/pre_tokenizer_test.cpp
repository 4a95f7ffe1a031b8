#include "framework/text/pre_tokenizer.h"

#include "framework/core/error.h"
#include "tests/text/text_test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace ptlab::text {
namespace {

using json = nlohmann::json;
using B = PreTokenizer::Behavior;

std::vector<std::string> split(const PreTokenizer& p, std::string_view text) {
  std::vector<Span> spans;
  p.split(text, spans);
  std::vector<std::string> out;
  for (auto [b, e] : spans) out.emplace_back(text.substr(b, e - b));
  return out;
}

TEST(PreTokenizer, IdentityAndGpt2) {
  EXPECT_EQ(split(PreTokenizer(), "a b"), (std::vector<std::string>{"a b"}));
  EXPECT_TRUE(split(PreTokenizer(), "").empty());
  EXPECT_EQ(split(PreTokenizer::gpt2(), "I'm here  now"), (std::vector<std::string>{"I", "'m", " here", " ", " now"}));
}

TEST(PreTokenizer, SplitBehaviorsFollowRust) {
  const std::string text = "a-b--c";
  EXPECT_EQ(split(PreTokenizer::split_by("-", B::kRemoved), text), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(split(PreTokenizer::split_by("-", B::kIsolated), text),
            (std::vector<std::string>{"a", "-", "b", "-", "-", "c"}));
  EXPECT_EQ(split(PreTokenizer::split_by("-", B::kMergedWithPrevious), text),
            (std::vector<std::string>{"a-", "b-", "-", "c"}));
  EXPECT_EQ(split(PreTokenizer::split_by("-", B::kMergedWithNext), text),
            (std::vector<std::string>{"a", "-b", "-", "-c"}));
  EXPECT_EQ(split(PreTokenizer::split_by("-", B::kContiguous), text),
            (std::vector<std::string>{"a", "-", "b", "--", "c"}));
  // invert: the matches are kept and the text between them is the delimiter.
  EXPECT_EQ(split(PreTokenizer::split_by("-", B::kRemoved, /*invert=*/true), text),
            (std::vector<std::string>{"-", "-", "-"}));
}

TEST(PreTokenizer, Llama3StyleJson) {
  json j = json::parse(R"({"type": "Sequence", "pretokenizers": [
    {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
     "behavior": "Isolated", "invert": false},
    {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]})");
  PreTokenizer p = PreTokenizer::from_json(j, "tokenizer.json pre_tokenizer");
  EXPECT_TRUE(p.has_byte_level());
  EXPECT_FALSE(p.add_prefix_space());
  EXPECT_EQ(split(p, "I'M 1234567 ok\n\nbye"),
            (std::vector<std::string>{"I", "'M", " ", "123", "456", "7", " ok", "\n\n", "bye"}));
}

TEST(PreTokenizer, ByteLevelDigitsAndStringPatterns) {
  PreTokenizer bl = PreTokenizer::from_json(json::parse(R"({"type": "ByteLevel", "add_prefix_space": true})"), "p");
  EXPECT_TRUE(bl.add_prefix_space());
  EXPECT_EQ(split(bl, "Hi there"), (std::vector<std::string>{"Hi", " there"}));
  PreTokenizer digits = PreTokenizer::from_json(json::parse(R"({"type": "Digits", "individual_digits": true})"), "p");
  EXPECT_EQ(split(digits, "ab12"), (std::vector<std::string>{"ab", "1", "2"}));
  PreTokenizer literal = PreTokenizer::from_json(
      json::parse(R"({"type": "Split", "pattern": {"String": ".*"}, "behavior": "Removed"})"), "p");
  EXPECT_EQ(split(literal, "a.*b.c"), (std::vector<std::string>{"a", "b.c"}));
}

TEST(PreTokenizer, UnsupportedTypesAreErrors) {
  std::string message = testing::error_of([] {
    PreTokenizer::from_json(json::parse(R"({"type": "Metaspace", "replacement": "_"})"), "t.json pre_tokenizer");
  });
  EXPECT_NE(message.find("t.json pre_tokenizer"), std::string::npos) << message;
  EXPECT_NE(message.find("'Metaspace'"), std::string::npos) << message;
  EXPECT_NE(message.find("Split"), std::string::npos) << message;
  message = testing::error_of([] {
    PreTokenizer::from_json(json::parse(R"({"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Sideways"})"),
                            "p");
  });
  EXPECT_NE(message.find("Isolated"), std::string::npos) << message;
}

TEST(PreTokenizer, WhitespaceWhitespaceSplitAndPunctuationFollowRust) {
  using V = std::vector<std::string>;
  const std::string text = "Hey friend!     How are you?!?";
  PreTokenizer ws = PreTokenizer::from_json(json::parse(R"({"type": "Whitespace"})"), "p");
  EXPECT_EQ(split(ws, text), (V{"Hey", "friend", "!", "How", "are", "you", "?!?"}));
  // Rust's Unicode \w takes combining marks and connector punctuation; digits split from ".".
  EXPECT_EQ(split(ws, "cafe\u0301 under_score 12.5"), (V{"cafe\u0301", "under_score", "12", ".", "5"}));

  PreTokenizer ws_split = PreTokenizer::from_json(json::parse(R"({"type": "WhitespaceSplit"})"), "p");
  EXPECT_EQ(split(ws_split, text), (V{"Hey", "friend!", "How", "are", "you?!?"}));
  EXPECT_EQ(split(ws_split, " a\u00A0b\u3000c\t\n"), (V{"a", "b", "c"}));  // Unicode White_Space
  EXPECT_TRUE(split(ws_split, " \t ").empty());

  PreTokenizer punct = PreTokenizer::from_json(json::parse(R"({"type": "Punctuation"})"), "p");
  EXPECT_EQ(split(punct, text), (V{"Hey friend", "!", "     How are you", "?", "!", "?"}));
  EXPECT_EQ(split(punct, "a$b\u00BFc"), (V{"a", "$", "b", "\u00BF", "c"}));  // ASCII $ and Unicode Po
  PreTokenizer contiguous =
      PreTokenizer::from_json(json::parse(R"({"type": "Punctuation", "behavior": "Contiguous"})"), "p");
  EXPECT_EQ(split(contiguous, "you?!?"), (V{"you", "?!?"}));

  PreTokenizer seq = PreTokenizer::from_json(
      json::parse(R"({"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, {"type": "Punctuation"}]})"),
      "p");
  EXPECT_EQ(split(seq, text), (V{"Hey", "friend", "!", "How", "are", "you", "?", "!", "?"}));
}

}  // namespace
}  // namespace ptlab::text
