// The sentiment rules of the synthetic language: the score of a sentence, and the sentiment2 / sentiment5
// labels derived from it. The labeled sentiment tasks are produced by running these rules on generated
// text, so the labels are a function of the words alone — a model can learn them exactly.
//
// Scoring, left to right over the words of one sentence:
//  - a polar word of polarity p contributes v = p, modified by what directly precedes it:
//      intensifier ("very", "really", "total"):  |v| + 1          very tasty = +2, extremely superb = +3
//      negator ("not", "never", "hardly"):       flips the sign and softens a strong word by one:
//                                                v -> -sign(v) * max(1, |v| - 1)
//                                                not tasty = -1, not superb = -1, not very superb = -2
//    (the intensifier applies first; both apply to the next polar word only; a polar word of polarity 0
//    — "okay" — contributes 0);
//  - contributions of the clauses of a sentence add up ("fresh and tasty" = +2, "good ... bad" = 0);
//  - "but" discards everything before it in the sentence: the clause after the contrast decides;
//  - "although"/"though" opens a concession whose words do not count, up to the next comma;
//  - a comma also ends the scope of a pending negator or intensifier; "." and "?" end a sentence, and the
//    scores of several sentences add up.
//
// Labels from a score s: sentiment2 is positive for s > 0 and negative for s < 0 (s = 0 has no binary
// label); sentiment5 is very_negative (s <= -2), negative (-1), neutral (0), positive (+1), very_positive
// (s >= +2).
#pragma once

#include "tasks/synthetic/lexicon.h"

#include <cstddef>
#include <string_view>

namespace ptlab::tasks::synthetic {

/// |score| at or above which sentiment5 says "very".
inline constexpr int kVeryThreshold = 2;

/// Sentiment score of ids[0..n) under the rules above.
int sentiment_score(const Lexicon& lex, const WordId* ids, std::size_t n);

/// Sentiment score of a whitespace-separated text; a word outside the lexicon is an Error naming it.
int sentiment_score(const Lexicon& lex, std::string_view text);

/// The score of one polar word of polarity p after an optional intensifier and negator.
int modified_polarity(int polarity, bool intensified, bool negated);

/// sentiment5 class of a score: 0 very_negative, 1 negative, 2 neutral, 3 positive, 4 very_positive.
int sentiment5_class(int score);

}  // namespace ptlab::tasks::synthetic
