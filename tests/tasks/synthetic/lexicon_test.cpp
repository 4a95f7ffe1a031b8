#include "tasks/synthetic/lexicon.h"

#include "framework/core/error.h"

#include <gtest/gtest.h>

#include <set>

namespace ptlab::tasks::synthetic {

TEST(Lexicon, WordsAreUniqueLowercaseAndWithoutSpaces) {
  const Lexicon& lex = lexicon();
  std::set<std::string> seen;
  for (std::size_t i = 0; i < lex.words.size(); ++i) {
    const std::string& t = lex.words[i].text;
    ASSERT_FALSE(t.empty());
    EXPECT_TRUE(seen.insert(t).second) << t;
    for (char c : t) {
      EXPECT_FALSE(c == ' ' || c == '\t' || c == '\n') << t;
      EXPECT_FALSE(c >= 'A' && c <= 'Z') << t;
    }
    EXPECT_EQ(lex.find(t), static_cast<int>(i));
  }
}

TEST(Lexicon, SensesHaveSynonymsAndSymmetricOppositeAntonyms) {
  const Lexicon& lex = lexicon();
  int neutral = 0;
  for (std::size_t s = 0; s < lex.senses.size(); ++s) {
    const Sense& sense = lex.senses[s];
    EXPECT_GE(sense.words.size(), 2u);
    for (WordId w : sense.words) {
      EXPECT_EQ(lex.words[w].role, Role::kPolar);
      EXPECT_EQ(lex.words[w].sense, static_cast<int>(s));
      EXPECT_EQ(lex.words[w].polarity, sense.polarity);
    }
    if (sense.antonym < 0) {
      EXPECT_EQ(sense.polarity, 0);
      ++neutral;
      continue;
    }
    const Sense& anti = lex.senses[static_cast<std::size_t>(sense.antonym)];
    EXPECT_EQ(anti.antonym, static_cast<int>(s));
    EXPECT_EQ(anti.polarity, -sense.polarity);
    EXPECT_EQ(anti.kind, sense.kind);
  }
  EXPECT_EQ(neutral, 1);
  EXPECT_EQ(lex.senses[static_cast<std::size_t>(lex.neutral_sense)].polarity, 0);
}

TEST(Lexicon, HasAtLeastFourTopicsEachWithItsOwnWords) {
  const Lexicon& lex = lexicon();
  ASSERT_GE(lex.topics.size(), 4u);
  std::set<WordId> entities;
  for (std::size_t t = 0; t < lex.topics.size(); ++t) {
    const Topic& topic = lex.topics[t];
    EXPECT_GE(topic.entities.size(), 10u) << topic.name;
    EXPECT_GE(topic.adjective_senses.size(), 4u) << topic.name;
    EXPECT_FALSE(topic.contexts.empty());
    EXPECT_FALSE(topic.participles.empty());
    for (WordId e : topic.entities) EXPECT_TRUE(entities.insert(e).second) << lex.words[e].text;
    for (int s : topic.adjective_senses) EXPECT_EQ(lex.senses[static_cast<std::size_t>(s)].topic, static_cast<int>(t));
    EXPECT_GE(lex.find(topic.name), 0);
  }
}

TEST(Lexicon, StrengthsAndRolesOfKeyWords) {
  const Lexicon& lex = lexicon();
  auto polarity = [&](const char* w) { return lex.words[lex.id(w)].polarity; };
  EXPECT_EQ(polarity("superb"), 2);
  EXPECT_EQ(polarity("decent"), 1);
  EXPECT_EQ(polarity("bland"), -1);
  EXPECT_EQ(polarity("awful"), -2);
  EXPECT_EQ(polarity("okay"), 0);
  EXPECT_EQ(lex.words[lex.id("very")].role, Role::kIntensifier);
  EXPECT_EQ(lex.words[lex.id("never")].role, Role::kNegator);
  EXPECT_EQ(lex.words[lex.id("but")].role, Role::kContrast);
  EXPECT_EQ(lex.words[lex.id("although")].role, Role::kConcession);
  EXPECT_EQ(lex.words[lex.id(".")].role, Role::kEnd);
  EXPECT_EQ(lex.words[lex.id("soup")].role, Role::kPlain);
  for (const auto& v : lex.polar_verbs) EXPECT_EQ(lex.words[v.past].polarity, lex.words[v.base].polarity);
}

TEST(Lexicon, EncodeRenderRoundTrip) {
  const Lexicon& lex = lexicon();
  const std::string text = "although the soup was not very tasty , anna loved it .";
  auto ids = lex.encode(text);
  EXPECT_EQ(ids.size(), 12u);
  EXPECT_EQ(lex.render(ids), text);
  EXPECT_EQ(lex.encode("  the   soup\t.\n").size(), 3u);
  EXPECT_TRUE(lex.encode("").empty());
}

TEST(Lexicon, UnknownWordIsAnErrorNamingItAndItsPosition) {
  const Lexicon& lex = lexicon();
  try {
    lex.encode("the soupp was tasty .");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("word 2"), std::string::npos) << m;
    EXPECT_NE(m.find("'soupp' is not a word of the synthetic language"), std::string::npos) << m;
    EXPECT_NE(m.find("did you mean soup"), std::string::npos) << m;
  }
  EXPECT_THROW(lex.id("Soup"), Error);
  EXPECT_EQ(lex.find("Soup"), -1);
}

}  // namespace ptlab::tasks::synthetic
