#include "tasks/synthetic/lexicon.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"

#include <sstream>

namespace ptlab::tasks::synthetic {
namespace {

// Antonym pairs of polar senses: positive synonyms, negative synonyms, strength (1 or 2).
struct PolarPair {
  const char* positive;
  const char* negative;
  int strength;
};

struct TopicTable {
  const char* name;
  const char* entities;
  std::vector<const char*> contexts;
  const char* participles;
  const char* past_verbs;
  std::vector<PolarPair> senses;
};

const PolarPair kGeneralAdjectives[] = {
    {"superb excellent outstanding wonderful great", "awful terrible dreadful horrible", 2},
    {"good nice solid decent", "bad poor mediocre weak", 1},
    {"pleasant enjoyable", "unpleasant disappointing", 1},
};
const char* const kNeutralAdjectives = "okay average ordinary standard";
const PolarPair kPredicateNouns[] = {
    {"masterpiece gem", "disaster nightmare", 2},
    {"treat joy", "letdown mess", 1},
};
// Past and base forms, aligned word by word.
const PolarPair kVerbsPast[] = {{"loved adored", "hated despised", 2}, {"liked enjoyed", "disliked resented", 1}};
const PolarPair kVerbsBase[] = {{"love adore", "hate despise", 2}, {"like enjoy", "dislike resent", 1}};

const TopicTable kTopics[] = {
    {"food",
     "soup pasta curry pizza salad burger risotto stew omelette sandwich pie cake taco steak bread dessert sauce "
     "coffee lasagna pancake",
     {"at the bistro", "at the diner", "at the cafe", "at the restaurant", "in the kitchen", "for lunch", "for dinner",
      "for breakfast"},
     "served cooked ordered baked prepared",
     "ordered cooked shared tried ate",
     {{"delicious scrumptious", "disgusting revolting", 2},
      {"tasty flavorful", "bland tasteless", 1},
      {"fresh crisp", "stale soggy", 1}}},
    {"film",
     "film movie sequel documentary thriller comedy drama cartoon musical western plot ending script soundtrack "
     "cast finale trailer series episode screenplay",
     {"at the cinema", "at the festival", "at the premiere", "on television", "in the theater", "at the studio"},
     "released filmed screened shown produced",
     "watched saw rented streamed reviewed",
     {{"gripping riveting", "tedious unwatchable", 2},
      {"moving touching", "dull boring", 1},
      {"witty clever", "clumsy silly", 1}}},
    {"travel",
     "hotel beach resort museum village island harbor castle hostel cruise flight campsite lake market garden "
     "tour cabin lodge park ferry",
     {"in the city", "on the coast", "in the mountains", "near the airport", "near the station", "during the holiday",
      "on the trip"},
     "visited booked built renovated opened",
     "visited booked explored toured photographed",
     {{"breathtaking stunning", "filthy squalid", 2},
      {"scenic picturesque", "dreary bleak", 1},
      {"relaxing peaceful", "hectic noisy", 1}}},
    {"tech",
     "phone laptop tablet camera printer router keyboard monitor headset charger speaker console smartwatch app "
     "update browser battery screen processor drive",
     {"at the store", "in the office", "at the lab", "from the website", "with the software", "from the warehouse"},
     "installed bought tested charged updated",
     "bought installed tested charged repaired",
     {{"flawless impeccable", "broken useless", 2},
      {"fast speedy", "slow sluggish", 1},
      {"reliable dependable", "buggy unstable", 1}}},
    {"sport",
     "match game team striker goalkeeper defense season race tournament final coach referee league derby rally "
     "marathon squad comeback playoff midfield",
     {"at the stadium", "in the arena", "at the club", "at halftime", "in the stands", "during training"},
     "played attended broadcast hosted scheduled",
     "attended followed recorded covered analyzed",
     {{"thrilling electrifying", "pathetic shambolic", 2},
      {"skillful sharp", "sloppy careless", 1},
      {"lively energetic", "lifeless flat", 1}}},
};

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> out;
  std::istringstream in{std::string(text)};
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

class LexiconBuilder {
 public:
  explicit LexiconBuilder(Lexicon& lex) : lex_(lex) {}

  // A word with a role. A word with a role must be new (so its role is unambiguous) and is added before
  // any phrase uses it; a plain word may be listed again (shared between classes: "that", "is") and a
  // phrase may use any word ("did not seem").
  WordId add(const std::string& text, Role role = Role::kPlain, int polarity = 0, int sense = -1) {
    auto it = lex_.index.find(text);
    if (it != lex_.index.end()) {
      PTLAB_ASSERT(role == Role::kPlain, "synthetic lexicon: word '{}' is listed twice", text);
      return it->second;
    }
    PTLAB_ASSERT(lex_.words.size() < 65535, "synthetic lexicon: too many words");
    auto id = static_cast<WordId>(lex_.words.size());
    lex_.words.push_back(Word{text, role, static_cast<int8_t>(polarity), static_cast<int16_t>(sense)});
    lex_.index.emplace(text, id);
    return id;
  }

  std::vector<WordId> words(const char* text, Role role = Role::kPlain) {
    std::vector<WordId> out;
    for (const auto& w : split_words(text)) out.push_back(add(w, role));
    return out;
  }

  Phrase phrase(const std::string& text) { return words(text.c_str()); }

  std::vector<Phrase> phrases(const std::vector<const char*>& texts) {
    std::vector<Phrase> out;
    for (const char* t : texts) out.push_back(phrase(t));
    return out;
  }

  int sense(const char* text, SenseKind kind, int polarity, int topic) {
    int index = static_cast<int>(lex_.senses.size());
    Sense s;
    s.kind = kind;
    s.polarity = static_cast<int8_t>(polarity);
    s.topic = static_cast<int8_t>(topic);
    for (const auto& w : split_words(text)) s.words.push_back(add(w, Role::kPolar, polarity, index));
    PTLAB_ASSERT(s.words.size() >= 2, "synthetic lexicon: sense '{}' needs two synonyms", text);
    lex_.senses.push_back(std::move(s));
    return index;
  }

  // Adds both senses of an antonym pair; returns {positive, negative}.
  std::pair<int, int> pair(const PolarPair& p, SenseKind kind, int topic) {
    int pos = sense(p.positive, kind, p.strength, topic);
    int neg = sense(p.negative, kind, -p.strength, topic);
    lex_.senses[static_cast<std::size_t>(pos)].antonym = static_cast<int16_t>(neg);
    lex_.senses[static_cast<std::size_t>(neg)].antonym = static_cast<int16_t>(pos);
    return {pos, neg};
  }

  Copula copula(const char* plain, const char* not_form, const char* never_form, const char* hardly_form) {
    return Copula{phrase(plain), {phrase(not_form), phrase(never_form), phrase(hardly_form)}};
  }

 private:
  Lexicon& lex_;
};

Lexicon build_lexicon() {
  Lexicon lex;
  LexiconBuilder b(lex);

  // Punctuation and the words the sentiment rules react to come first: their ids are small and stable.
  auto& w = lex.w;
  w.comma = b.add(",", Role::kComma);
  w.period = b.add(".", Role::kEnd);
  w.question = b.add("?", Role::kEnd);
  w.but = b.add("but", Role::kContrast);
  w.although = b.add("although", Role::kConcession);
  w.though = b.add("though", Role::kConcession);
  lex.negators = {b.add("not", Role::kNegator), b.add("never", Role::kNegator), b.add("hardly", Role::kNegator)};
  w.not_ = lex.negators[0];
  lex.adjective_intensifiers = b.words("very really extremely incredibly truly remarkably", Role::kIntensifier);
  lex.verb_intensifiers = {lex.index.at("really"), lex.index.at("truly")};
  lex.noun_intensifiers = b.words("real total complete", Role::kIntensifier);

  for (const auto& p : kGeneralAdjectives) {
    auto [pos, neg] = b.pair(p, SenseKind::kAdjective, -1);
    lex.general_adjective_senses.push_back(pos);
    lex.general_adjective_senses.push_back(neg);
  }
  lex.neutral_sense = b.sense(kNeutralAdjectives, SenseKind::kAdjective, 0, -1);
  for (const auto& p : kPredicateNouns) {
    auto [pos, neg] = b.pair(p, SenseKind::kNoun, -1);
    lex.noun_senses.push_back(pos);
    lex.noun_senses.push_back(neg);
  }
  for (std::size_t i = 0; i < std::size(kVerbsPast); ++i) {
    auto past = b.pair(kVerbsPast[i], SenseKind::kVerbPast, -1);
    auto base = b.pair(kVerbsBase[i], SenseKind::kVerbBase, -1);
    for (auto [p, q] : {std::pair{past.first, base.first}, std::pair{past.second, base.second}}) {
      const auto& pw = lex.senses[static_cast<std::size_t>(p)].words;
      const auto& bw = lex.senses[static_cast<std::size_t>(q)].words;
      PTLAB_ASSERT(pw.size() == bw.size(), "synthetic lexicon: verb forms not aligned");
      for (std::size_t k = 0; k < pw.size(); ++k) lex.polar_verbs.push_back(PolarVerb{pw[k], bw[k]});
    }
  }

  for (const auto& t : kTopics) {
    Topic topic;
    topic.name = t.name;
    int index = static_cast<int>(lex.topics.size());
    for (const auto& p : t.senses) {
      auto [pos, neg] = b.pair(p, SenseKind::kAdjective, index);
      topic.adjective_senses.push_back(pos);
      topic.adjective_senses.push_back(neg);
    }
    topic.entities = b.words(t.entities);
    topic.contexts = b.phrases(t.contexts);
    topic.participles = b.words(t.participles);
    topic.past_verbs = b.words(t.past_verbs);
    b.add(t.name);
    lex.topics.push_back(std::move(topic));
  }

  lex.copulas = {
      b.copula("was", "was not", "was never", "was hardly"),
      b.copula("is", "is not", "is never", "is hardly"),
      b.copula("seemed", "did not seem", "never seemed", "hardly seemed"),
      b.copula("seems", "does not seem", "never seems", "hardly seems"),
      b.copula("felt", "did not feel", "never felt", "hardly felt"),
      b.copula("looked", "did not look", "never looked", "hardly looked"),
  };
  lex.determiners = b.words("the this that our my their");
  lex.modifiers = b.words("new old local famous little big small latest usual second");
  lex.agents =
      b.phrases({"we",           "i",        "my friend", "my sister", "my brother", "my parents", "the critic",
                 "the reviewer", "everyone", "anna",      "marco",     "lena",       "omar",       "sofia",
                 "james",        "priya",    "tom",       "yuki",      "elena",      "david",      "nina"});
  lex.reporters = b.phrases({"said that", "thought that", "wrote that", "told us that", "claimed that", "felt that",
                             "mentioned that", "insisted that"});
  lex.times = b.phrases({"last night", "yesterday", "on sunday", "on monday", "on friday", "this morning", "last week",
                         "last year", "in the evening", "after work", "over the weekend", "in june", "in december"});
  lex.openers = b.phrases({"honestly ,", "frankly ,", "to be honest ,", "in the end ,", "as expected ,", "in short ,",
                           "all things considered ,"});
  lex.companions = b.phrases({"with friends", "with my family", "for the first time", "with the kids", "together"});
  lex.numbers = b.words("two three four five six ten twelve fifteen twenty fifty");

  w.the = b.add("the");
  w.a = b.add("a");
  w.it = b.add("it");
  w.and_ = b.add("and");
  w.so = b.add("so");
  w.yes = b.add("yes");
  w.no = b.add("no");
  w.overall = b.add("overall");
  w.this_ = b.add("this");
  w.is = b.add("is");
  w.about = b.add("about");
  w.was = b.add("was");
  w.cost = b.add("cost");
  w.dollars = b.add("dollars");
  w.then = b.add("then");
  w.according = b.add("according");
  w.to = b.add("to");

  lex.label_words = b.words(
      "positive negative neutral very_positive very_negative entailment not_entailment food film travel tech sport");
  return lex;
}

}  // namespace

const Lexicon& lexicon() {
  static const Lexicon lex = build_lexicon();
  return lex;
}

int Lexicon::find(std::string_view text) const {
  auto it = index.find(text);
  return it == index.end() ? -1 : it->second;
}

WordId Lexicon::id(std::string_view text) const {
  int id = find(text);
  if (id < 0) {
    std::vector<std::string> known;
    known.reserve(words.size());
    for (const auto& w : words) known.push_back(w.text);
    PTLAB_FAIL("'{}' is not a word of the synthetic language{}", text, did_you_mean(text, known));
  }
  return static_cast<WordId>(id);
}

std::vector<WordId> Lexicon::encode(std::string_view text) const {
  std::vector<WordId> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\n')) ++pos;
    std::size_t end = pos;
    while (end < text.size() && text[end] != ' ' && text[end] != '\t' && text[end] != '\n') ++end;
    if (end == pos) break;
    std::string_view word = text.substr(pos, end - pos);
    int id = find(word);
    if (id < 0) {
      try {
        this->id(word);
      } catch (const Error& e) {
        PTLAB_FAIL("word {} of \"{}\": {}", out.size() + 1, text, e.what());
      }
    }
    out.push_back(static_cast<WordId>(id));
    pos = end;
  }
  return out;
}

void Lexicon::render(const WordId* ids, std::size_t n, std::string& out) const {
  for (std::size_t i = 0; i < n; ++i) {
    if (i > 0) out.push_back(' ');
    out.append(words[ids[i]].text);
  }
}

std::string Lexicon::render(const std::vector<WordId>& ids) const {
  std::string out;
  render(ids.data(), ids.size(), out);
  return out;
}

}  // namespace ptlab::tasks::synthetic
