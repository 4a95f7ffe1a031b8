// BERT's BasicTokenizer: the text clean-up and word splitting that runs before WordPiece.
//
// Reproduces transformers' Python BasicTokenizer (4.38) step by step:
//   1. clean: drop U+0000, U+FFFD and control characters (category C*, except \t \n \r); map \t \n \r and
//      category Zs to a space;
//   2. put spaces around CJK ideographs (the Python ranges, which include U+2B820..U+2B91F — the Rust
//      BertNormalizer's table starts at U+2B920);
//   3. NFC;
//   4. split at Python whitespace (str.split());
//   5. per word not in never_split: lower-case (code point by code point, see unicode.h) and/or strip
//      accents (NFD, drop Mn) — strip_accents unset means "when lower-casing";
//   6. split off every punctuation character (ASCII symbols and category P*) as its own word.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace ptlab::text {

class BasicTokenizer {
 public:
  struct Options {
    bool lower_case = true;
    /// nullopt: strip accents when lower-casing.
    std::optional<bool> strip_accents;
    bool tokenize_chinese_chars = true;
    bool clean_text = true;
    /// Words passed through untouched (not lower-cased, not split at punctuation).
    std::vector<std::string> never_split;
  };

  explicit BasicTokenizer(Options options);

  /// Appends the words of `text` (well-formed UTF-8) to `out`.
  void tokenize(std::string_view text, std::vector<std::string>& out) const;

  /// True for the code points of the CJK blocks BERT splits into single characters.
  static bool is_chinese_char(char32_t cp);
  /// BERT's punctuation: ASCII 33-47, 58-64, 91-96, 123-126, and every category P*.
  static bool is_punctuation(char32_t cp);

  const Options& options() const { return options_; }
  bool is_never_split(const std::string& word) const { return never_split_.count(word) > 0; }

 private:
  void split_word(std::string word, std::vector<std::string>& out) const;
  Options options_;
  std::unordered_set<std::string> never_split_;
};

}  // namespace ptlab::text
