#include "tasks/synthetic/sentence_generator.h"

#include "framework/core/error.h"
#include "tasks/synthetic/sentiment.h"

#include <algorithm>

namespace ptlab::tasks::synthetic {
namespace {

// Probability that a polar clause of an opinion is negated: about one sentence in five has a negator,
// roughly as in English reviews.
constexpr double kNegationRate = 0.15;

}  // namespace

std::array<WordId, 5> summary_words(const Lexicon& lex) {
  return {lex.id("terrible"), lex.id("bad"), lex.id("okay"), lex.id("good"), lex.id("great")};
}

SentenceGenerator::SentenceGenerator(const Lexicon& lex, uint64_t seed)
    : lex_(lex), rng_(seed), did_(lex.id("did")), that_(lex.id("that")), summary_(summary_words(lex)) {
  for (const auto& t : lex.topics) topic_words_.push_back(lex.id(t.name));
}

int SentenceGenerator::random_topic() {
  return static_cast<int>(rng_.below(static_cast<uint32_t>(lex_.topics.size())));
}

// Runs body() until what it appended to `out` has kMinWords..kMaxWords words.
template <class Body>
void SentenceGenerator::bounded(std::vector<WordId>& out, Body&& body) {
  const std::size_t mark = out.size();
  for (int attempt = 0;; ++attempt) {
    body();
    const std::size_t n = out.size() - mark;
    if (n >= kMinWords && n <= kMaxWords) return;
    PTLAB_ASSERT(attempt < 10000, "synthetic grammar cannot make a sentence of {}..{} words", kMinWords, kMaxWords);
    out.resize(mark);
  }
}

WordId SentenceGenerator::pick_entity(int topic, const WordId* avoid, std::size_t n_avoid) {
  const auto& entities = lex_.topics[static_cast<std::size_t>(topic)].entities;
  for (;;) {
    WordId e = rng_.pick(entities);
    if (std::find(avoid, avoid + n_avoid, e) == avoid + n_avoid) return e;
  }
}

void SentenceGenerator::noun_phrase(int topic, WordId noun, std::vector<WordId>& out) {
  out.push_back(rng_.chance(0.6) ? lex_.w.the : rng_.pick(lex_.determiners));
  if (rng_.chance(0.2)) out.push_back(rng_.pick(lex_.modifiers));
  out.push_back(noun);
  const double r = rng_.uniform();
  if (r < 0.1) {
    append(out, rng_.pick(lex_.topics[static_cast<std::size_t>(topic)].contexts));
  } else if (r < 0.17) {  // the soup that anna ordered last night
    out.push_back(that_);
    append(out, rng_.pick(lex_.agents));
    out.push_back(rng_.pick(lex_.topics[static_cast<std::size_t>(topic)].past_verbs));
    if (rng_.chance(0.5)) append(out, rng_.pick(lex_.times));
  }
}

int SentenceGenerator::pick_adjective_sense(int topic, bool allow_neutral) {
  const double r = rng_.uniform();
  if (allow_neutral && r < 0.12) return lex_.neutral_sense;
  if (r < 0.56) return rng_.pick(lex_.topics[static_cast<std::size_t>(topic)].adjective_senses);
  return rng_.pick(lex_.general_adjective_senses);
}

// A sense of the wanted sign from `draw()` (a neutral one may come back when allow_neutral).
template <class Draw>
int SentenceGenerator::sense_with_sign(int sign, bool allow_neutral, Draw&& draw) {
  for (;;) {
    const int s = draw();
    const int polarity = lex_.senses[static_cast<std::size_t>(s)].polarity;
    if (polarity * sign > 0 || (polarity == 0 && allow_neutral)) return s;
  }
}

void SentenceGenerator::subject(int topic, WordId entity, bool pronoun, std::vector<WordId>& out) {
  if (pronoun) {
    out.push_back(lex_.w.it);
  } else {
    noun_phrase(topic, entity, out);
  }
}

void SentenceGenerator::copular_clause(int topic, WordId entity, bool pronoun, int sign, std::vector<WordId>& out) {
  subject(topic, entity, pronoun, out);
  const Copula& copula = rng_.pick(lex_.copulas);
  const bool negated = rng_.chance(kNegationRate);
  const int sense = sense_with_sign(negated ? -sign : sign, true, [&] { return pick_adjective_sense(topic, true); });
  const bool neutral = sense == lex_.neutral_sense;
  append(out, negated && !neutral ? copula.negated[rng_.below(3)] : copula.plain);
  if (!neutral && rng_.chance(0.3)) out.push_back(rng_.pick(lex_.adjective_intensifiers));
  out.push_back(rng_.pick(lex_.senses[static_cast<std::size_t>(sense)].words));
  if (!negated && !neutral && rng_.chance(0.15)) {
    // A second adjective of the same sign ("fresh and tasty"), not a contradictory pair.
    int second = sense;
    while (second == sense) second = sense_with_sign(sign, false, [&] { return pick_adjective_sense(topic, false); });
    out.push_back(lex_.w.and_);
    if (rng_.chance(0.25)) out.push_back(rng_.pick(lex_.adjective_intensifiers));
    out.push_back(rng_.pick(lex_.senses[static_cast<std::size_t>(second)].words));
  }
}

void SentenceGenerator::predicate_noun_clause(int topic, WordId entity, bool pronoun, int sign,
                                              std::vector<WordId>& out) {
  subject(topic, entity, pronoun, out);
  const Copula& copula = lex_.copulas[rng_.below(2)];  // was / is: "seemed a masterpiece" reads oddly
  const bool negated = rng_.chance(kNegationRate);
  append(out, negated ? copula.negated[rng_.below(3)] : copula.plain);
  out.push_back(lex_.w.a);
  if (rng_.chance(0.3)) out.push_back(rng_.pick(lex_.noun_intensifiers));
  const int sense = sense_with_sign(negated ? -sign : sign, false, [&] { return rng_.pick(lex_.noun_senses); });
  out.push_back(rng_.pick(lex_.senses[static_cast<std::size_t>(sense)].words));
}

void SentenceGenerator::polar_verb_clause(int topic, WordId entity, bool pronoun, int sign, std::vector<WordId>& out) {
  append(out, rng_.pick(lex_.agents));
  const bool negated = rng_.chance(kNegationRate);
  const PolarVerb* verb = nullptr;
  while (verb == nullptr || lex_.words[verb->past].polarity * (negated ? -sign : sign) <= 0)
    verb = &rng_.pick(lex_.polar_verbs);
  const bool intensified = rng_.chance(0.25);
  if (negated) {
    const uint32_t k = rng_.below(3);
    if (k == 0) {
      out.push_back(did_);  // did not [really] like
      out.push_back(lex_.negators[0]);
      if (intensified) out.push_back(rng_.pick(lex_.verb_intensifiers));
      out.push_back(verb->base);
    } else {
      out.push_back(lex_.negators[k]);  // never|hardly [really] liked
      if (intensified) out.push_back(rng_.pick(lex_.verb_intensifiers));
      out.push_back(verb->past);
    }
  } else {
    if (intensified) out.push_back(rng_.pick(lex_.verb_intensifiers));
    out.push_back(verb->past);
  }
  if (pronoun) {
    out.push_back(lex_.w.it);
  } else {
    noun_phrase(topic, entity, out);
  }
}

void SentenceGenerator::clause(int topic, WordId entity, bool pronoun, int sign, std::vector<WordId>& out) {
  const double r = rng_.uniform();
  if (r < 0.6) {
    copular_clause(topic, entity, pronoun, sign, out);
  } else if (r < 0.75) {
    predicate_noun_clause(topic, entity, pronoun, sign, out);
  } else {
    polar_verb_clause(topic, entity, pronoun, sign, out);
  }
}

void SentenceGenerator::suffix(int topic, std::vector<WordId>& out) {
  const double r = rng_.uniform();
  if (r < 0.4) {
    append(out, rng_.pick(lex_.times));
  } else if (r < 0.8) {
    append(out, rng_.pick(lex_.topics[static_cast<std::size_t>(topic)].contexts));
  } else {
    append(out, rng_.pick(lex_.companions));
  }
}

void SentenceGenerator::opinion_body(int topic, std::vector<WordId>& out) {
  // The sentence leans one way (sign); clauses joined by "and" mostly agree with it, and the clause that a
  // contrast or a concession sets aside mostly leans the other way — as in real reviews, so that counting
  // words gets sentiment often but not always right.
  const int sign = rng_.chance(0.5) ? 1 : -1;
  auto agree = [&](double p) { return rng_.chance(p) ? sign : -sign; };
  const double r = rng_.uniform();
  WordId e[3];
  e[0] = pick_entity(topic, nullptr, 0);
  e[1] = pick_entity(topic, e, 1);
  e[2] = pick_entity(topic, e, 2);
  // The second clause is about the first entity ("it") or another one.
  auto second = [&](int clause_sign) {
    const bool pronoun = rng_.chance(0.3);
    clause(topic, pronoun ? e[0] : e[1], pronoun, clause_sign, out);
  };
  if (r < 0.30) {  // C .
    if (rng_.chance(0.12)) append(out, rng_.pick(lex_.openers));
    if (rng_.chance(0.08)) {
      append(out, rng_.pick(lex_.times));
      out.push_back(lex_.w.comma);
    }
    clause(topic, e[0], false, sign, out);
    if (rng_.chance(0.3)) suffix(topic, out);
  } else if (r < 0.45) {  // C , and C .
    clause(topic, e[0], false, sign, out);
    if (rng_.chance(0.5)) out.push_back(lex_.w.comma);
    out.push_back(lex_.w.and_);
    second(agree(0.8));
  } else if (r < 0.63) {  // C , but C .
    if (rng_.chance(0.1)) append(out, rng_.pick(lex_.openers));
    clause(topic, e[0], false, agree(0.2), out);
    out.push_back(lex_.w.comma);
    out.push_back(lex_.w.but);
    second(sign);
    if (rng_.chance(0.2)) suffix(topic, out);
  } else if (r < 0.71) {  // although C , C .
    out.push_back(rng_.chance(0.7) ? lex_.w.although : lex_.w.though);
    clause(topic, e[0], false, agree(0.2), out);
    out.push_back(lex_.w.comma);
    clause(topic, e[1], false, sign, out);
  } else if (r < 0.83) {  // AGENT said that C [, but C] .   |   according to AGENT , C .
    if (rng_.chance(0.75)) {
      append(out, rng_.pick(lex_.agents));
      append(out, rng_.pick(lex_.reporters));
      if (rng_.chance(0.3)) {
        clause(topic, e[0], false, agree(0.2), out);
        out.push_back(lex_.w.comma);
        out.push_back(lex_.w.but);
        second(sign);
      } else {
        clause(topic, e[0], false, sign, out);
      }
    } else {
      out.push_back(lex_.w.according);
      out.push_back(lex_.w.to);
      append(out, rng_.pick(lex_.agents));
      out.push_back(lex_.w.comma);
      clause(topic, e[0], false, sign, out);
    }
  } else if (r < 0.93) {  // AGENT ordered NP , and|but it was ADJ .
    append(out, rng_.pick(lex_.agents));
    out.push_back(rng_.pick(lex_.topics[static_cast<std::size_t>(topic)].past_verbs));
    noun_phrase(topic, e[0], out);
    if (rng_.chance(0.3)) suffix(topic, out);
    out.push_back(lex_.w.comma);
    out.push_back(rng_.chance(0.5) ? lex_.w.and_ : lex_.w.but);
    copular_clause(topic, e[0], true, sign, out);
  } else {  // C , C , and C .
    clause(topic, e[0], false, agree(0.7), out);
    out.push_back(lex_.w.comma);
    clause(topic, e[1], false, agree(0.7), out);
    out.push_back(lex_.w.comma);
    out.push_back(lex_.w.and_);
    clause(topic, e[2], false, agree(0.7), out);
  }
  out.push_back(lex_.w.period);
}

void SentenceGenerator::opinion(int topic, std::vector<WordId>& out) {
  bounded(out, [&] { opinion_body(topic, out); });
}

void SentenceGenerator::fact_body(int topic, std::vector<WordId>& out) {
  const Topic& t = lex_.topics[static_cast<std::size_t>(topic)];
  const double r = rng_.uniform();
  WordId e[2];
  e[0] = pick_entity(topic, nullptr, 0);
  e[1] = pick_entity(topic, e, 1);
  if (r < 0.4) {  // the soup was served at the bistro .
    noun_phrase(topic, e[0], out);
    out.push_back(lex_.w.was);
    out.push_back(rng_.pick(t.participles));
    append(out, rng_.chance(0.5) ? rng_.pick(lex_.times) : rng_.pick(t.contexts));
  } else if (r < 0.7) {  // we ordered the soup last night with friends .
    append(out, rng_.pick(lex_.agents));
    out.push_back(rng_.pick(t.past_verbs));
    noun_phrase(topic, e[0], out);
    if (rng_.chance(0.5)) append(out, rng_.pick(lex_.times));
    if (rng_.chance(0.3)) append(out, rng_.pick(lex_.companions));
  } else if (r < 0.85) {  // the soup cost ten dollars .
    noun_phrase(topic, e[0], out);
    out.push_back(lex_.w.cost);
    out.push_back(rng_.pick(lex_.numbers));
    out.push_back(lex_.w.dollars);
  } else {  // we ordered the soup , and then anna tried the cake .
    append(out, rng_.pick(lex_.agents));
    out.push_back(rng_.pick(t.past_verbs));
    noun_phrase(topic, e[0], out);
    out.push_back(lex_.w.comma);
    out.push_back(lex_.w.and_);
    out.push_back(lex_.w.then);
    append(out, rng_.pick(lex_.agents));
    out.push_back(rng_.pick(t.past_verbs));
    noun_phrase(topic, e[1], out);
  }
  out.push_back(lex_.w.period);
}

void SentenceGenerator::fact(int topic, std::vector<WordId>& out) {
  bounded(out, [&] { fact_body(topic, out); });
}

WordId SentenceGenerator::synonym_of(WordId word) {
  const auto& words = lex_.sense_of(word).words;
  for (;;) {
    WordId w = rng_.pick(words);
    if (w != word) return w;
  }
}

void SentenceGenerator::attribution_clause(int topic, const Attribution& a, bool allow_intensifier,
                                           std::vector<WordId>& out) {
  noun_phrase(topic, a.entity, out);
  const Copula& copula = rng_.pick(lex_.copulas);
  if (a.negated) {
    append(out, copula.negated[rng_.below(3)]);
  } else {
    append(out, copula.plain);
    // "not very tasty" does not entail "not tasty", so intensifiers only go with positive statements.
    if (allow_intensifier && rng_.chance(0.25)) out.push_back(rng_.pick(lex_.adjective_intensifiers));
  }
  out.push_back(a.adjective);
}

void SentenceGenerator::hypothesis(WordId entity, WordId adjective, bool negated, std::vector<WordId>& out) {
  out.push_back(lex_.w.the);
  out.push_back(entity);
  out.push_back(lex_.w.was);
  if (negated) out.push_back(lex_.w.not_);
  out.push_back(adjective);
  out.push_back(lex_.w.period);
}

void SentenceGenerator::entailment(int topic, bool entails, std::vector<WordId>& premise, std::vector<WordId>& hyp) {
  const std::size_t hyp_mark = hyp.size();
  bounded(premise, [&] {
    hyp.resize(hyp_mark);
    const int n = rng_.chance(0.45) ? 1 : 2;
    Attribution a[2];
    int senses[2] = {-1, -1};
    WordId entities[2];
    for (int i = 0; i < n; ++i) {
      entities[i] = pick_entity(topic, entities, static_cast<std::size_t>(i));
      // Distinct senses, and not each other's antonym (else swapping them could still follow).
      int s = -1;
      while (s < 0 || (i == 1 && (s == senses[0] || lex_.senses[static_cast<std::size_t>(s)].antonym == senses[0])))
        s = pick_adjective_sense(topic, false);
      senses[i] = s;
      a[i] = Attribution{entities[i], rng_.pick(lex_.senses[static_cast<std::size_t>(s)].words), rng_.chance(0.3)};
    }
    if (rng_.chance(0.1)) append(premise, rng_.pick(lex_.openers));
    if (n == 1) {
      attribution_clause(topic, a[0], true, premise);
      if (rng_.chance(0.25)) suffix(topic, premise);
    } else {
      const double r = rng_.uniform();
      if (r < 0.25) premise.push_back(lex_.w.although);
      attribution_clause(topic, a[0], true, premise);
      premise.push_back(lex_.w.comma);
      if (r >= 0.25) premise.push_back(r < 0.6 ? lex_.w.and_ : lex_.w.but);
      attribution_clause(topic, a[1], true, premise);
    }
    premise.push_back(lex_.w.period);

    const Attribution& t = a[rng_.below(static_cast<uint32_t>(n))];
    if (entails) {
      hypothesis(t.entity, synonym_of(t.adjective), t.negated, hyp);
      return;
    }
    const Attribution& other = (n == 2 && &t == &a[0]) ? a[1] : a[0];
    switch (rng_.below(n == 2 ? 4 : 3)) {
      case 0: {  // antonym: "tasty" -> "the soup was bland"
        const Sense& antonym = lex_.senses[static_cast<std::size_t>(lex_.sense_of(t.adjective).antonym)];
        hypothesis(t.entity, rng_.pick(antonym.words), t.negated, hyp);
        break;
      }
      case 1:  // opposite negation: "tasty" -> "the soup was not flavorful"
        hypothesis(t.entity, synonym_of(t.adjective), !t.negated, hyp);
        break;
      case 2:  // an entity the premise does not mention
        hypothesis(pick_entity(topic, entities, static_cast<std::size_t>(n)), synonym_of(t.adjective), t.negated, hyp);
        break;
      default:  // the other clause's attribute on this entity
        hypothesis(t.entity, synonym_of(other.adjective), other.negated, hyp);
        break;
    }
  });
}

void SentenceGenerator::corpus_line(const CorpusMix& mix, std::vector<WordId>& out) {
  const int topic = random_topic();
  double r = rng_.uniform();
  if ((r -= mix.facts) < 0) {
    fact(topic, out);
  } else if ((r -= mix.summaries) < 0) {
    const std::size_t mark = out.size();
    opinion(topic, out);
    const int score = sentiment_score(lex_, out.data() + mark, out.size() - mark);
    for (WordId w : {lex_.w.overall, lex_.w.comma, lex_.w.it, lex_.w.was}) out.push_back(w);
    out.push_back(summary_[static_cast<std::size_t>(sentiment5_class(score))]);
    out.push_back(lex_.w.period);
  } else if ((r -= mix.topics) < 0) {
    if (rng_.chance(0.7)) {
      opinion(topic, out);
    } else {
      fact(topic, out);
    }
    for (WordId w :
         {lex_.w.this_, lex_.w.is, lex_.w.about, topic_words_[static_cast<std::size_t>(topic)], lex_.w.period})
      out.push_back(w);
  } else if ((r -= mix.questions) < 0) {
    const bool entails = rng_.chance(0.5);
    scratch_.clear();
    entailment(topic, entails, out, scratch_);
    out.push_back(lex_.w.so);
    out.push_back(lex_.w.comma);
    out.insert(out.end(), scratch_.begin(), scratch_.end() - 1);  // without its "."
    out.push_back(lex_.w.question);
    out.push_back(entails ? lex_.w.yes : lex_.w.no);
    out.push_back(lex_.w.period);
  } else {
    opinion(topic, out);
  }
}

}  // namespace ptlab::tasks::synthetic
