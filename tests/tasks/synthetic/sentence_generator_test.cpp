#include "tasks/synthetic/sentence_generator.h"

#include "tasks/synthetic/sentiment.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

namespace ptlab::tasks::synthetic {
namespace {

// Topic of every entity noun.
std::map<WordId, int> entity_topics(const Lexicon& lex) {
  std::map<WordId, int> out;
  for (std::size_t t = 0; t < lex.topics.size(); ++t)
    for (WordId e : lex.topics[t].entities) out[e] = static_cast<int>(t);
  return out;
}

// A copular statement read back from words: entity, polar adjective, negated.
struct Statement {
  WordId entity;
  WordId adjective;
  bool negated;
};

// Reads the statements of an entailment premise or hypothesis: its clauses are separated by commas and each
// holds one entity and one adjective ("although"/"and"/"but"/openers carry none).
std::vector<Statement> statements(const Lexicon& lex, const std::vector<WordId>& ids) {
  const auto topics = entity_topics(lex);
  std::vector<Statement> out;
  int entity = -1, adjective = -1;
  bool negated = false;
  auto flush = [&] {
    EXPECT_EQ(entity >= 0, adjective >= 0) << lex.render(ids);
    if (entity >= 0 && adjective >= 0)
      out.push_back(Statement{static_cast<WordId>(entity), static_cast<WordId>(adjective), negated});
    entity = adjective = -1;
    negated = false;
  };
  for (WordId w : ids) {
    const Word& word = lex.words[w];
    if (word.role == Role::kComma || word.role == Role::kEnd) {
      flush();
    } else if (topics.count(w)) {
      EXPECT_LT(entity, 0) << "two entities in one clause: " << lex.render(ids);
      entity = w;
    } else if (word.role == Role::kNegator) {
      negated = true;
    } else if (word.role == Role::kPolar) {
      EXPECT_LT(adjective, 0) << "two adjectives in one clause: " << lex.render(ids);
      adjective = w;
    }
  }
  return out;
}

}  // namespace

TEST(SentenceGenerator, SameSeedSameSentences) {
  const Lexicon& lex = lexicon();
  SentenceGenerator a(lex, 5), b(lex, 5), c(lex, 6);
  std::vector<WordId> va, vb, vc;
  CorpusMix mix;
  for (int i = 0; i < 200; ++i) {
    a.corpus_line(mix, va);
    b.corpus_line(mix, vb);
    c.corpus_line(mix, vc);
  }
  EXPECT_EQ(va, vb);
  EXPECT_NE(va, vc);
}

TEST(SentenceGenerator, OpinionsAndFactsHaveBoundedLengthAndOneTopic) {
  const Lexicon& lex = lexicon();
  const auto topics = entity_topics(lex);
  SentenceGenerator gen(lex, 11);
  std::vector<WordId> ids;
  std::set<std::size_t> lengths;
  for (int i = 0; i < 4000; ++i) {
    const int topic = gen.random_topic();
    ids.clear();
    if (i % 2 == 0) {
      gen.opinion(topic, ids);
    } else {
      gen.fact(topic, ids);
      EXPECT_EQ(sentiment_score(lex, ids.data(), ids.size()), 0) << lex.render(ids);
    }
    ASSERT_GE(ids.size(), kMinWords) << lex.render(ids);
    ASSERT_LE(ids.size(), kMaxWords) << lex.render(ids);
    EXPECT_EQ(ids.back(), lex.w.period);
    lengths.insert(ids.size());
    int entities = 0;
    for (WordId w : ids) {
      auto it = topics.find(w);
      if (it == topics.end()) continue;
      ++entities;
      EXPECT_EQ(it->second, topic) << lex.render(ids);
    }
    EXPECT_GE(entities, 1) << lex.render(ids);
    // Topic-specific polar words belong to the sentence's topic too.
    for (WordId w : ids) {
      if (lex.words[w].role != Role::kPolar) continue;
      const int t = lex.sense_of(w).topic;
      EXPECT_TRUE(t < 0 || t == topic) << lex.render(ids);
    }
  }
  EXPECT_GE(lengths.size(), 20u);  // varied lengths
  EXPECT_GE(*lengths.rbegin(), 25u);
}

TEST(SentenceGenerator, OpinionsUseEveryRuleOfTheLanguage) {
  const Lexicon& lex = lexicon();
  SentenceGenerator gen(lex, 12);
  std::vector<WordId> ids;
  std::map<Role, int> roles;
  std::set<int> classes;
  for (int i = 0; i < 2000; ++i) {
    ids.clear();
    gen.opinion(gen.random_topic(), ids);
    for (WordId w : ids) ++roles[lex.words[w].role];
    classes.insert(sentiment5_class(sentiment_score(lex, ids.data(), ids.size())));
  }
  for (Role r : {Role::kPolar, Role::kIntensifier, Role::kNegator, Role::kContrast, Role::kConcession, Role::kComma})
    EXPECT_GT(roles[r], 50) << static_cast<int>(r);
  EXPECT_EQ(classes.size(), 5u);
}

TEST(SentenceGenerator, EntailmentPairsAreConstructedAsSpecified) {
  const Lexicon& lex = lexicon();
  SentenceGenerator gen(lex, 13);
  std::vector<WordId> premise, hyp;
  for (int i = 0; i < 3000; ++i) {
    const bool entails = i % 2 == 0;
    premise.clear();
    hyp.clear();
    gen.entailment(gen.random_topic(), entails, premise, hyp);
    const std::string text = lex.render(premise) + " || " + lex.render(hyp);
    ASSERT_LE(premise.size(), kMaxWords) << text;
    // The hypothesis is "the N was [not] W ."
    ASSERT_GE(hyp.size(), 5u) << text;
    EXPECT_EQ(hyp[0], lex.w.the) << text;
    EXPECT_EQ(hyp[2], lex.w.was) << text;
    auto p = statements(lex, premise);
    auto h = statements(lex, hyp);
    ASSERT_GE(p.size(), 1u) << text;
    ASSERT_LE(p.size(), 2u) << text;
    ASSERT_EQ(h.size(), 1u) << text;
    // Follows = some premise clause says the same (sense and negation) of the same entity, in other words.
    bool follows = false;
    for (const auto& s : p) {
      if (s.entity == h[0].entity && lex.words[s.adjective].sense == lex.words[h[0].adjective].sense &&
          s.negated == h[0].negated) {
        follows = true;
        EXPECT_NE(s.adjective, h[0].adjective) << "a restatement uses a synonym: " << text;
      }
    }
    EXPECT_EQ(follows, entails) << text;
    // A negated premise clause has no intensifier ("not very tasty" does not entail "not tasty").
    for (std::size_t k = 1; k < premise.size(); ++k) {
      if (lex.words[premise[k]].role == Role::kIntensifier) {
        bool negated_clause = false;
        for (std::size_t j = k; j-- > 0 && lex.words[premise[j]].role != Role::kComma;)
          negated_clause |= lex.words[premise[j]].role == Role::kNegator;
        EXPECT_FALSE(negated_clause) << text;
      }
    }
  }
}

TEST(SentenceGenerator, CorpusLinesStateLabelsConsistently) {
  const Lexicon& lex = lexicon();
  SentenceGenerator gen(lex, 14);
  CorpusMix mix;
  mix.facts = 0.1;
  mix.summaries = 0.3;
  mix.topics = 0.3;
  mix.questions = 0.3;
  const auto summary = summary_words(lex);
  const auto topics = entity_topics(lex);
  std::vector<WordId> line;
  int summaries = 0, topic_lines = 0, questions = 0;
  for (int i = 0; i < 3000; ++i) {
    line.clear();
    gen.corpus_line(mix, line);
    const std::string text = lex.render(line);
    auto first_end = std::find(line.begin(), line.end(), lex.w.period);
    ASSERT_NE(first_end, line.end()) << text;
    const std::size_t first_len = static_cast<std::size_t>(first_end - line.begin()) + 1;
    if (first_len == line.size()) continue;  // a single sentence
    const std::vector<WordId> tail(line.begin() + static_cast<std::ptrdiff_t>(first_len), line.end());
    if (tail[0] == lex.w.overall) {  // overall , it was W .
      ++summaries;
      const int score = sentiment_score(lex, line.data(), first_len);
      ASSERT_EQ(tail.size(), 6u) << text;
      EXPECT_EQ(tail[4], summary[static_cast<std::size_t>(sentiment5_class(score))]) << text;
    } else if (tail[0] == lex.w.this_) {  // this is about T .
      ++topic_lines;
      ASSERT_EQ(tail.size(), 5u) << text;
      int topic = -1;
      for (std::size_t k = 0; k < first_len; ++k)
        if (topics.count(line[k])) topic = topics.at(line[k]);
      ASSERT_GE(topic, 0) << text;
      EXPECT_EQ(lex.words[tail[3]].text, lex.topics[static_cast<std::size_t>(topic)].name) << text;
    } else {  // so , the N was [not] W ? yes|no .
      ++questions;
      ASSERT_EQ(tail[0], lex.w.so) << text;
      ASSERT_EQ(tail[tail.size() - 3], lex.w.question) << text;
      const WordId answer = tail[tail.size() - 2];
      ASSERT_TRUE(answer == lex.w.yes || answer == lex.w.no) << text;
      std::vector<WordId> hyp(tail.begin() + 2, tail.end() - 3);
      hyp.push_back(lex.w.period);
      const auto p =
          statements(lex, std::vector<WordId>(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(first_len)));
      const auto h = statements(lex, hyp);
      ASSERT_EQ(h.size(), 1u) << text;
      bool follows = false;
      for (const auto& s : p)
        follows |= s.entity == h[0].entity && lex.words[s.adjective].sense == lex.words[h[0].adjective].sense &&
                   s.negated == h[0].negated;
      EXPECT_EQ(follows, answer == lex.w.yes) << text;
    }
  }
  EXPECT_GT(summaries, 600);
  EXPECT_GT(topic_lines, 600);
  EXPECT_GT(questions, 600);
}

}  // namespace ptlab::tasks::synthetic
