#include "tasks/synthetic/sentiment.h"

#include <algorithm>
#include <cstdlib>

namespace ptlab::tasks::synthetic {

int modified_polarity(int polarity, bool intensified, bool negated) {
  if (polarity == 0) return 0;
  const int sign = polarity > 0 ? 1 : -1;
  int magnitude = std::abs(polarity) + (intensified ? 1 : 0);
  if (negated) return -sign * std::max(1, magnitude - 1);
  return sign * magnitude;
}

int sentiment_score(const Lexicon& lex, const WordId* ids, std::size_t n) {
  int finished = 0;  // sentences already ended
  int current = 0;   // the sentence being read
  bool negated = false, intensified = false, conceding = false;
  for (std::size_t i = 0; i < n; ++i) {
    const Word& word = lex.words[ids[i]];
    switch (word.role) {
      case Role::kPlain:
        break;
      case Role::kEnd:
        finished += current;
        current = 0;
        negated = intensified = conceding = false;
        break;
      case Role::kComma:
        negated = intensified = conceding = false;
        break;
      case Role::kContrast:
        current = 0;
        negated = intensified = conceding = false;
        break;
      case Role::kConcession:
        conceding = true;
        negated = intensified = false;
        break;
      case Role::kNegator:
        if (!conceding) negated = true;
        break;
      case Role::kIntensifier:
        if (!conceding) intensified = true;
        break;
      case Role::kPolar:
        if (!conceding) current += modified_polarity(word.polarity, intensified, negated);
        negated = intensified = false;
        break;
    }
  }
  return finished + current;
}

int sentiment_score(const Lexicon& lex, std::string_view text) {
  auto ids = lex.encode(text);
  return sentiment_score(lex, ids.data(), ids.size());
}

int sentiment5_class(int score) {
  if (score <= -kVeryThreshold) return 0;
  if (score < 0) return 1;
  if (score == 0) return 2;
  if (score < kVeryThreshold) return 3;
  return 4;
}

}  // namespace ptlab::tasks::synthetic
