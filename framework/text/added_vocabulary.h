// Added tokens: strings that are matched in the raw text before any model runs (special tokens such as
// <|endoftext|>, [CLS], <s>, <extra_id_0>, and added words such as Pythia's runs of spaces).
//
// Matching is leftmost-longest, as in both reference implementations (transformers' Trie, the Rust
// AddedVocabulary's Aho-Corasick). The flags of a token change what it swallows:
//  - lstrip / rstrip: the whitespace on that side (Python str.isspace) is removed from the neighbouring
//    text, so "Hello <extra_id_0> world" gives "Hello", <extra_id_0>, "world".
//  - single_word: matched only when not glued to a word character on either side.
//  - normalized: the Rust pipeline matches such tokens in the *normalised* text (after NFC etc.) and the
//    others in the raw text; `split` takes a filter so a tokenizer can run both passes.
#pragma once

#include "framework/text/regex.h"

#include <array>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ptlab::text {

struct AddedToken {
  std::string content;
  int id = -1;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
  bool normalized = false;
};

class AddedVocabulary {
 public:
  /// Which tokens take part in a split.
  enum class Match { kAll, kNormalizedOnly, kRawOnly };

  /// A piece of the input: [begin, end) of plain text (token == nullptr), or one added token.
  struct Segment {
    std::size_t begin = 0;
    std::size_t end = 0;
    const AddedToken* token = nullptr;
  };

  /// Adds `token` (an empty content or a negative id is an InternalError); a token with the same content
  /// replaces the earlier one.
  void add(AddedToken token);

  /// The token with this content / id, or nullptr.
  const AddedToken* find(std::string_view content) const;
  const AddedToken* find(int id) const;

  bool empty() const { return tokens_.empty(); }
  std::size_t size() const { return tokens_.size(); }
  const std::vector<AddedToken>& tokens() const { return tokens_; }
  /// Largest id of an added token, or -1.
  int max_id() const;

  /// Splits `text` at the added tokens selected by `match`. Text segments may be empty only when the
  /// whole input is empty (then no segment is returned); whitespace swallowed by lstrip/rstrip tokens is
  /// in no segment.
  std::vector<Segment> split(std::string_view text, Match match = Match::kAll) const;

 private:
  void reindex();
  std::vector<AddedToken> tokens_;
  std::unordered_map<std::string, std::size_t> by_content_;
  std::unordered_map<int, std::size_t> by_id_;
  // For each first byte, the tokens starting with it, longest first.
  std::array<std::vector<std::size_t>, 256> by_first_byte_;
};

}  // namespace ptlab::text
