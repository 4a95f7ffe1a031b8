#include "tasks/synthetic/sentiment.h"

#include "framework/core/error.h"

#include <gtest/gtest.h>

namespace ptlab::tasks::synthetic {
namespace {

int score(const char* text) { return sentiment_score(lexicon(), text); }

}  // namespace

TEST(Sentiment, PolarWordsCarryTheirStrength) {
  EXPECT_EQ(score("the soup was decent ."), 1);
  EXPECT_EQ(score("the soup was superb ."), 2);
  EXPECT_EQ(score("the soup was bland ."), -1);
  EXPECT_EQ(score("the soup was awful ."), -2);
  EXPECT_EQ(score("the soup was okay ."), 0);
  EXPECT_EQ(score("we ordered the soup at the bistro ."), 0);
  EXPECT_EQ(score("the film was a masterpiece ."), 2);
  EXPECT_EQ(score("anna disliked the film ."), -1);
}

TEST(Sentiment, IntensifierStrengthens) {
  EXPECT_EQ(score("the soup was very tasty ."), 2);
  EXPECT_EQ(score("the soup was extremely superb ."), 3);
  EXPECT_EQ(score("the soup was really bland ."), -2);
  EXPECT_EQ(score("the film was a total disaster ."), -3);
  EXPECT_EQ(score("we really loved the film ."), 3);
  EXPECT_EQ(score("the soup was very okay ."), 0);
  // It applies to the next polar word only.
  EXPECT_EQ(score("the soup was very tasty and fresh ."), 3);
}

TEST(Sentiment, NegationFlips) {
  EXPECT_EQ(score("the soup was not tasty ."), -1);
  EXPECT_EQ(score("the soup was never bland ."), 1);
  EXPECT_EQ(score("the soup was hardly awful ."), 1);  // a strong word flips softened
  EXPECT_EQ(score("the soup was not superb ."), -1);
  EXPECT_EQ(score("the soup was not very superb ."), -2);
  EXPECT_EQ(score("the soup did not seem very tasty ."), -1);
  EXPECT_EQ(score("anna did not like the film ."), -1);
  EXPECT_EQ(score("anna never hated the film ."), 1);
  EXPECT_EQ(score("the film was not a disaster ."), 1);
  // Scope: the next polar word only, and never across a comma.
  EXPECT_EQ(score("the soup was not tasty and fresh ."), 0);
  EXPECT_EQ(score("the soup was not , the curry was tasty ."), 1);
}

TEST(Sentiment, ClausesAddUp) {
  EXPECT_EQ(score("the soup was tasty , and the curry was superb ."), 3);
  EXPECT_EQ(score("the soup was tasty , and the curry was bad ."), 0);
  EXPECT_EQ(score("the soup was superb , the cake was awful , and the pie was bland ."), -1);
}

TEST(Sentiment, ButSecondClauseDecides) {
  EXPECT_EQ(score("the soup was superb , but the curry was bland ."), -1);
  EXPECT_EQ(score("the soup was awful , but it was very tasty ."), 2);
  EXPECT_EQ(score("the soup was tasty and fresh , but the curry was okay ."), 0);
  EXPECT_EQ(score("the soup was good , the pie was great , but we hated the cake ."), -2);
  EXPECT_EQ(score("anna said that the soup was bland , but we did not really hate it ."), 2);
}

TEST(Sentiment, ConcessionClauseDoesNotCount) {
  EXPECT_EQ(score("although the soup was superb , the curry was bland ."), -1);
  EXPECT_EQ(score("though the soup was not awful , the curry was okay ."), 0);
  EXPECT_EQ(score("although the hotel was noisy , the beach was very stunning ."), 3);
}

TEST(Sentiment, SentencesOfALineAddUp) {
  EXPECT_EQ(score("the soup was tasty . the pie was superb ."), 3);
  // "but" discards only its own sentence's beginning.
  EXPECT_EQ(score("the soup was tasty . the pie was bad , but the cake was good ."), 2);
  // Negation does not cross a sentence end.
  EXPECT_EQ(score("the soup was not . tasty ."), 1);
}

TEST(Sentiment, ModifiedPolarityTable) {
  EXPECT_EQ(modified_polarity(1, false, false), 1);
  EXPECT_EQ(modified_polarity(1, true, false), 2);
  EXPECT_EQ(modified_polarity(2, true, false), 3);
  EXPECT_EQ(modified_polarity(-2, true, false), -3);
  EXPECT_EQ(modified_polarity(1, false, true), -1);
  EXPECT_EQ(modified_polarity(2, false, true), -1);
  EXPECT_EQ(modified_polarity(2, true, true), -2);
  EXPECT_EQ(modified_polarity(-1, true, true), 1);
  EXPECT_EQ(modified_polarity(0, true, true), 0);
}

TEST(Sentiment, FiveClassThresholds) {
  EXPECT_EQ(sentiment5_class(-5), 0);
  EXPECT_EQ(sentiment5_class(-2), 0);
  EXPECT_EQ(sentiment5_class(-1), 1);
  EXPECT_EQ(sentiment5_class(0), 2);
  EXPECT_EQ(sentiment5_class(1), 3);
  EXPECT_EQ(sentiment5_class(2), 4);
  EXPECT_EQ(sentiment5_class(7), 4);
}

TEST(Sentiment, UnknownWordIsAnError) {
  try {
    score("the soup was yummy .");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'yummy'"), std::string::npos) << e.what();
  }
}

}  // namespace ptlab::tasks::synthetic
