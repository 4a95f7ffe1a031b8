#include "tasks/answer_normalization.h"

#include "framework/core/error.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ptlab::tasks {
namespace {

using ::testing::ElementsAre;

TEST(AnswerNormalization, SquadRules) {
  EXPECT_EQ(normalize_answer("The  Cat, a dog.  "), "cat dog");
  EXPECT_EQ(normalize_answer("Theatre an Anthem"), "theatre anthem");  // articles only as whole words
  EXPECT_EQ(normalize_answer("rock'n'roll (1950s)"), "rocknroll 1950s");
  EXPECT_EQ(normalize_answer("A"), "");
  EXPECT_EQ(normalize_answer("\tÉCOLE\nthe"), "école");
}

TEST(AnswerNormalization, UnicodePunctuationAndCjkTokens) {
  EXPECT_EQ(normalize_answer("你好，世界。"), "你好世界");
  EXPECT_THAT(answer_tokens("北京市 is big"), ElementsAre("北", "京", "市", "is", "big"));
  EXPECT_THAT(answer_tokens("a2b北c"), ElementsAre("a2b", "北", "c"));
  EXPECT_TRUE(answer_tokens("the .").empty());
}

TEST(AnswerNormalization, ExactMatchAndTokenF1) {
  EXPECT_EQ(exact_match_score("The Eiffel Tower!", "eiffel tower"), 1.0);
  EXPECT_EQ(exact_match_score("Eiffel", "eiffel tower"), 0.0);
  EXPECT_DOUBLE_EQ(token_f1_score("in Paris, France", "Paris"), 0.5);  // P = 1/3, R = 1
  EXPECT_DOUBLE_EQ(token_f1_score("x b b", "b b c d"), 2 * (2.0 / 3) * 0.5 / (2.0 / 3 + 0.5));
  EXPECT_DOUBLE_EQ(token_f1_score("the", "a"), 1.0);  // both empty after normalisation
  EXPECT_DOUBLE_EQ(token_f1_score("x", "the"), 0.0);
  EXPECT_DOUBLE_EQ(token_f1_score("北京市", "北京"), 0.8);
  EXPECT_THROW(normalize_answer("\xff"), Error);
}

}  // namespace
}  // namespace ptlab::tasks
