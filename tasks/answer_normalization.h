// SQuAD-style answer normalisation, for exact match and token F1 of generated text, and for mapping a
// generated label back to its class.
//
// normalize_answer follows the official SQuAD v1.1 evaluation script: lower-case (Python's str.lower),
// remove punctuation, remove the articles "a", "an", "the" as whole words, collapse whitespace. Two
// extensions for non-English text, which leave English ASCII text exactly as SQuAD has it:
//  - punctuation is ASCII string.punctuation plus every Unicode character of category P ("，" "。" "—"),
//    as the CMRC 2018 (Chinese) evaluation also strips its full-width punctuation;
//  - answer_tokens splits CJK ideographs into one token each (CMRC's mixed segmentation), since Chinese
//    text has no spaces and whitespace tokens would make F1 all-or-nothing.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ptlab::tasks {

/// The normalised answer text (valid UTF-8 in; invalid bytes are an Error).
std::string normalize_answer(std::string_view text);

/// The tokens of the normalised answer: whitespace-separated words, each CJK ideograph on its own.
std::vector<std::string> answer_tokens(std::string_view text);

/// 1 when the normalised texts are equal, else 0.
double exact_match_score(std::string_view prediction, std::string_view gold);

/// SQuAD token F1: 2PR/(P+R) over the multiset of shared tokens; 1 when both have no tokens, 0 when only
/// one has none.
double token_f1_score(std::string_view prediction, std::string_view gold);

}  // namespace ptlab::tasks
