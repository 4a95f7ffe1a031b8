// The lexicon of the synthetic English-like language: every word it can produce, what role each word
// plays in the sentiment rules, and the word classes the sentence generator draws from.
//
// Words are lowercase, punctuation marks are words of their own, and a text is its words joined by single
// spaces — so whitespace splitting is the exact tokenisation (the WordLevel tokenizer relies on it).
//
// Sentiment-bearing ("polar") words belong to a *sense*: a set of synonyms with one polarity (-2..+2) and,
// for most senses, an antonym sense of the opposite polarity ("tasty flavorful" <-> "bland tasteless").
// Senses are general ("superb", "bad"), topic-specific ("delicious" is food, "buggy" is tech), predicate
// nouns ("a masterpiece") or verbs ("loved"). The entailment task restates a sense with a synonym and
// contradicts it with an antonym or a negation.
//
// Topics (food, film, travel, tech, sport) each own their entity nouns, context phrases ("at the bistro"),
// neutral verbs and adjective senses; everything else is shared, so a sentence's topic is the topic of its
// entities. The tables live in lexicon.cpp; the built lexicon is immutable and shared (lexicon()).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ptlab::tasks::synthetic {

/// Index of a word in the lexicon (the lexicon has well under 65,536 words).
using WordId = uint16_t;
/// A fixed multi-word expression ("last night", "did not seem").
using Phrase = std::vector<WordId>;

/// What a word does for the sentiment rules (see sentiment.h).
enum class Role : uint8_t {
  kPlain,        // no effect
  kPolar,        // carries a polarity (possibly 0: "okay")
  kIntensifier,  // "very", "really", "total": strengthens the next polar word
  kNegator,      // "not", "never", "hardly": flips the next polar word
  kContrast,     // "but": what came before in the sentence no longer counts
  kConcession,   // "although", "though": the clause up to the next comma does not count
  kComma,        // ",": ends a concession clause and the scope of a pending negation/intensifier
  kEnd,          // "." and "?": end a sentence
};

enum class SenseKind : uint8_t { kAdjective, kNoun, kVerbPast, kVerbBase };

struct Word {
  std::string text;
  Role role = Role::kPlain;
  int8_t polarity = 0;  // polar words: -2..+2
  int16_t sense = -1;   // polar words: index into Lexicon::senses
};

struct Sense {
  SenseKind kind = SenseKind::kAdjective;
  int8_t polarity = 0;
  int16_t antonym = -1;       // index of the opposite sense; -1 for neutral senses
  int8_t topic = -1;          // -1: general
  std::vector<WordId> words;  // synonyms, at least two
};

/// A polar verb in its two forms: "loved" (we loved it / never loved) and "love" (did not love).
struct PolarVerb {
  WordId past;
  WordId base;
};

/// A linking verb and its negated forms, indexed like Lexicon::negators (not, never, hardly):
/// "seemed" -> "did not seem", "never seemed", "hardly seemed".
struct Copula {
  Phrase plain;
  std::array<Phrase, 3> negated;
};

struct Topic {
  std::string name;                   // "food": also the topic task's label and a word of the language
  std::vector<WordId> entities;       // nouns an opinion is about: "soup", "curry"
  std::vector<Phrase> contexts;       // neutral place/occasion phrases: "at the bistro", "for lunch"
  std::vector<WordId> participles;    // "the soup was served ..."
  std::vector<WordId> past_verbs;     // "we ordered the soup ..."
  std::vector<int> adjective_senses;  // the topic's own polar adjective senses
};

/// The whole lexicon. Build it once with lexicon(); all fields are read-only after that.
struct Lexicon {
  std::vector<Word> words;
  std::vector<Sense> senses;
  std::vector<Topic> topics;

  std::vector<int> general_adjective_senses;  // polar senses shared by every topic
  int neutral_sense = -1;                     // "okay average ordinary standard" (polarity 0)
  std::vector<int> noun_senses;               // "masterpiece gem", "letdown mess" ...
  std::vector<PolarVerb> polar_verbs;

  std::vector<WordId> adjective_intensifiers;  // very really extremely ...
  std::vector<WordId> verb_intensifiers;       // really truly
  std::vector<WordId> noun_intensifiers;       // real total complete
  std::array<WordId, 3> negators{};            // not never hardly
  std::vector<Copula> copulas;
  std::vector<WordId> determiners;  // the this that our my their
  std::vector<WordId> modifiers;    // neutral attributive adjectives: new old local ...
  std::vector<Phrase> agents;       // we, i, my friend, anna ...
  std::vector<Phrase> reporters;    // said that, thought that ...
  std::vector<Phrase> times;        // last night, on sunday ...
  std::vector<Phrase> openers;      // "honestly ,", "in the end ," (end with a comma)
  std::vector<Phrase> companions;   // with friends, for the first time ...
  std::vector<WordId> numbers;      // two three ... fifty

  /// The label strings of the tasks ("positive", "very_negative", "not_entailment", "food", ...): in the
  /// vocabulary so that every token of every written file is known. Only the topic names ever occur in
  /// generated text ("this is about food .", "the film was ...").
  std::vector<WordId> label_words;

  /// Frequent function words the generator uses by name.
  struct Common {
    WordId the, a, it, and_, but, although, though, comma, period, question, so, yes, no, overall, this_, is, about,
        was, not_, cost, dollars, then, according, to;
  } w{};

  /// The id of `text`; an unknown word is an Error naming it (and the closest known words).
  WordId id(std::string_view text) const;
  /// The id of `text`, or -1.
  int find(std::string_view text) const;
  /// Ids of a whitespace-separated text ("did not seem"); unknown words are Errors naming the word and
  /// its position in the text.
  std::vector<WordId> encode(std::string_view text) const;
  /// Appends the words of ids[0..n) to `out`, separated by single spaces (no leading/trailing space).
  void render(const WordId* ids, std::size_t n, std::string& out) const;
  std::string render(const std::vector<WordId>& ids) const;

  const Word& word(WordId id) const { return words[id]; }
  const Sense& sense_of(WordId id) const { return senses[static_cast<std::size_t>(words[id].sense)]; }

  std::map<std::string, WordId, std::less<>> index;  // text -> id
};

/// The language's lexicon, built on first use (thread-safe) and shared.
const Lexicon& lexicon();

}  // namespace ptlab::tasks::synthetic
