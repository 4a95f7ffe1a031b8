// A compiled Unicode regular expression (PCRE2 with UTF + UCP, JIT-compiled when available), used by the
// pre-tokenizers of byte-level BPE (the GPT-2 pattern, Llama 3 / Qwen Split patterns).
//
// Patterns are written in the syntax of the Rust `tokenizers` library (Oniguruma / fancy-regex), which
// PCRE2 accepts as is for everything these patterns use (\p{L}, \p{N}, (?i:...), (?!\S), {1,3}). One
// difference is fixed when compiling: `\s` / `\S` are rewritten to Unicode's White_Space property, which
// is what Oniguruma and Python's `regex` module match (PCRE2 10.42's UCP `\s` would also take U+180E).
// A Regex is compiled once and is safe to use from several threads at once.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ptlab::text {

/// A byte range [first, second) into a string.
using Span = std::pair<std::size_t, std::size_t>;

class Regex {
 public:
  /// Compiles `pattern`; `where` names its origin for the error message ("tokenizer.json
  /// pre_tokenizer.pretokenizers[0].pattern.Regex"). A bad pattern is an Error giving the PCRE2 message
  /// and the offset in the pattern.
  Regex(std::string pattern, std::string_view where);
  ~Regex();
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;

  /// All non-empty, non-overlapping matches in `text` (well-formed UTF-8), left to right, appended to `out`.
  void find_all(std::string_view text, std::vector<Span>& out) const;

  /// The pattern as given.
  const std::string& pattern() const { return pattern_; }

 private:
  struct Compiled;
  std::string pattern_;
  std::unique_ptr<Compiled> compiled_;
};

/// `\s` and `\S` of `pattern` rewritten to explicit White_Space classes (exposed for tests).
std::string rewrite_whitespace_classes(std::string_view pattern);

}  // namespace ptlab::text
