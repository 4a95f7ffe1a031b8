// SentenceGenerator: the grammar of the synthetic language. It writes sentences as word ids into a
// caller's reused buffer (no per-word allocation), drawing every choice from one seeded Rng, so the same
// seed gives the same sentences on every machine.
//
// Sentence kinds (all words of one sentence are about entities of a single topic):
//  - opinion: one to three polar clauses in one of the templates
//        C .                          the soup was not very tasty .
//        C , and C . / C and C .      the curry was fresh and tasty , and we loved the pie .
//        C , but C .                  the pasta seemed bland , but it was a real treat .
//        although C , C .             although the hotel was noisy , the beach was breathtaking .
//        AGENT said that C .          anna said that the film was hardly gripping .
//        AGENT ordered NP , and it was ADJ .
//        C , C , and C .
//    where a clause C is copular (NP was|seemed|... [negator] [intensifier] ADJ [and ADJ]), a predicate
//    noun (NP was [not] a [real] masterpiece) or a polar verb (AGENT [did not] [really] loved NP), with
//    optional openers ("honestly ,"), times ("last night"), contexts ("at the bistro") and relative
//    clauses ("the soup that anna ordered"); coordinated adjectives have the same sign ("fresh and tasty").
//    A sentence leans one way: clauses joined by "and" mostly agree, and the clause a "but" or "although"
//    sets aside mostly leans the other way, as in real reviews (a bag of words gets ~3/4 of sentiment2);
//  - fact: neutral statements (score 0): "the soup was served at the bistro .", "we watched the film
//    on sunday .", "the laptop cost fifty dollars .";
//  - entailment pair: a premise of one or two copular clauses and a short hypothesis "the N was [not] W ."
//    that either restates one clause's attribute of the same entity with a synonym (entails) or does not:
//    an antonym, the opposite negation, an entity the premise does not mention, or the attribute of the
//    premise's other entity;
//  - corpus line: an opinion or a fact, sometimes followed by a second sentence that states what the
//    labeled tasks ask ("overall , it was great .", "this is about food .", "so , the soup was tasty ?
//    yes ."), so a language model pretrained on the corpus has seen the label words in use.
// Every sentence has 5..40 words (kMinWords..kMaxWords) and ends with "." (questions with "?").
#pragma once

#include "tasks/synthetic/lexicon.h"
#include "tasks/synthetic/random.h"

#include <array>
#include <cstdint>
#include <vector>

namespace ptlab::tasks::synthetic {

inline constexpr std::size_t kMinWords = 5;
inline constexpr std::size_t kMaxWords = 40;

/// What the lines of the pretraining corpus are made of; the fractions not given are plain opinions.
struct CorpusMix {
  double facts = 0.20;      // neutral factual sentences
  double summaries = 0.08;  // opinion + "overall , it was great|good|okay|bad|terrible ."
  double topics = 0.04;     // opinion or fact + "this is about <topic> ."
  double questions = 0.06;  // premise + "so , <hypothesis> ? yes|no ."
};

/// The five summary words, indexed by sentiment5 class: terrible bad okay good great.
std::array<WordId, 5> summary_words(const Lexicon& lex);

class SentenceGenerator {
 public:
  SentenceGenerator(const Lexicon& lex, uint64_t seed);

  /// A uniformly chosen topic index.
  int random_topic();

  /// Appends an opinion sentence about `topic` to `out`.
  void opinion(int topic, std::vector<WordId>& out);

  /// Appends a neutral factual sentence about `topic` to `out`.
  void fact(int topic, std::vector<WordId>& out);

  /// Appends an entailment premise to `premise` and a hypothesis to `hypothesis`; the hypothesis follows
  /// from the premise exactly when `entails`.
  void entailment(int topic, bool entails, std::vector<WordId>& premise, std::vector<WordId>& hypothesis);

  /// Appends one line of the pretraining corpus (one or two sentences, no newline).
  void corpus_line(const CorpusMix& mix, std::vector<WordId>& out);

  Rng& rng() { return rng_; }

 private:
  // A copular clause as planned for the entailment task.
  struct Attribution {
    WordId entity;
    WordId adjective;
    bool negated;
  };

  template <class Body>
  void bounded(std::vector<WordId>& out, Body&& body);

  void append(std::vector<WordId>& out, const Phrase& phrase) { out.insert(out.end(), phrase.begin(), phrase.end()); }
  WordId pick_entity(int topic, const WordId* avoid, std::size_t n_avoid);
  void noun_phrase(int topic, WordId noun, std::vector<WordId>& out);
  int pick_adjective_sense(int topic, bool allow_neutral);
  template <class Draw>
  int sense_with_sign(int sign, bool allow_neutral, Draw&& draw);
  void subject(int topic, WordId entity, bool pronoun, std::vector<WordId>& out);
  // Polar clauses whose effective polarity (after negation) has sign `sign` (+1/-1), or is 0 for a neutral
  // adjective ("okay").
  void copular_clause(int topic, WordId entity, bool pronoun, int sign, std::vector<WordId>& out);
  void predicate_noun_clause(int topic, WordId entity, bool pronoun, int sign, std::vector<WordId>& out);
  void polar_verb_clause(int topic, WordId entity, bool pronoun, int sign, std::vector<WordId>& out);
  void clause(int topic, WordId entity, bool pronoun, int sign, std::vector<WordId>& out);
  void suffix(int topic, std::vector<WordId>& out);
  void opinion_body(int topic, std::vector<WordId>& out);
  void fact_body(int topic, std::vector<WordId>& out);
  void attribution_clause(int topic, const Attribution& a, bool allow_intensifier, std::vector<WordId>& out);
  void hypothesis(WordId entity, WordId adjective, bool negated, std::vector<WordId>& out);
  WordId synonym_of(WordId word);

  const Lexicon& lex_;
  Rng rng_;
  WordId did_;
  WordId that_;
  std::array<WordId, 5> summary_;
  std::vector<WordId> topic_words_;  // by topic index: "food" ...
  std::vector<WordId> scratch_;      // reused hypothesis buffer of corpus_line()
};

}  // namespace ptlab::tasks::synthetic
