// Pre-tokenisation of byte-level BPE and WordLevel: cutting text into the pieces ("words") that the model
// encodes independently — by the GPT-2 pattern, by a tokenizer.json's Split regexes (Llama 3, Qwen), or
// at whitespace (WordLevel tokenizers such as the synthetic language's).
//
// From tokenizer.json we support ByteLevel (its `use_regex` split and `add_prefix_space`), Split (Regex
// or String pattern; behaviours Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous;
// invert), Digits, Whitespace (\w+|[^\w\s]+ with Rust's Unicode \w), WhitespaceSplit (at Unicode
// White_Space), Punctuation (Unicode P* and ASCII punctuation, with its behavior) and Sequence of these,
// with the Rust `tokenizers` semantics. Pieces are byte spans of the input; mapping bytes to the
// byte-level alphabet happens in the BPE model.
#pragma once

#include "framework/text/regex.h"

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string_view>
#include <vector>

namespace ptlab::text {

/// GPT-2's pre-tokenizer pattern (also ByteLevel's `use_regex`).
inline constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class PreTokenizer {
 public:
  enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

  /// No split: the whole text is one piece.
  PreTokenizer() = default;

  /// GPT-2's pattern, matches isolated (what GPT2Tokenizer's re.findall produces, since the pattern
  /// matches every character).
  static PreTokenizer gpt2();

  /// One Split step (exposed for tests and for code-built tokenizers).
  static PreTokenizer split_by(const std::string& pattern, Behavior behavior, bool invert = false);

  /// Parses a tokenizer.json `pre_tokenizer` (null = no split). Unsupported types are an Error naming
  /// `where` and listing the supported ones.
  static PreTokenizer from_json(const nlohmann::json& json, std::string_view where);

  /// Appends the pieces of `text` (well-formed UTF-8), in order, as byte spans.
  void split(std::string_view text, std::vector<Span>& out) const;

  /// A ByteLevel step asked for a space in front of text that does not start with one.
  bool add_prefix_space() const { return add_prefix_space_; }
  /// The pre-tokenizer has a ByteLevel step.
  bool has_byte_level() const { return byte_level_; }

 private:
  struct Step {
    std::shared_ptr<const Regex> regex;
    Behavior behavior = Behavior::kIsolated;
    bool invert = false;
  };
  void parse(const nlohmann::json& json, std::string_view where);
  static void apply(const Step& step, std::string_view text, const std::vector<Span>& in, std::vector<Span>& out);

  std::vector<Step> steps_;
  bool add_prefix_space_ = false;
  bool byte_level_ = false;
};

}  // namespace ptlab::text
