// The `normalizer` of a tokenizer.json (byte-level BPE, WordLevel): Unicode normal forms, lower-casing, and the
// simple string edits some models use, applied to the text between added tokens before pre-tokenisation.
//
// Supported types: NFC, NFD, NFKC, NFKD, Lowercase, Strip, Prepend, Replace (with a "String" pattern)
// and Sequence of these; null is the identity. BertNormalizer belongs to WordPiece and is handled by
// the BasicTokenizer (see basic_tokenizer.h). Lowercase maps code point by code point (Python
// semantics, see unicode.h); Rust's also applies the Final_Sigma rule — only Greek capital sigma at the
// end of a word differs.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace ptlab::text {

class Normalizer {
 public:
  /// The identity.
  Normalizer() = default;

  /// Parses a tokenizer.json `normalizer`; unsupported types are an Error naming `where` and listing the
  /// supported ones.
  static Normalizer from_json(const nlohmann::json& json, std::string_view where);

  /// The normalised text (well-formed UTF-8 in and out).
  std::string apply(std::string_view text) const;

  /// True when apply() is the identity.
  bool is_identity() const { return steps_.empty(); }

 private:
  struct Step {
    enum class Kind { kNFC, kNFD, kNFKC, kNFKD, kLowercase, kStrip, kPrepend, kReplace } kind = Kind::kNFC;
    std::string a, b;                // Prepend: a = prefix; Replace: a -> b
    bool left = true, right = true;  // Strip
  };
  static Step make_step(Step::Kind kind, std::string a = {}, std::string b = {});
  void parse(const nlohmann::json& json, std::string_view where);
  std::vector<Step> steps_;
};

}  // namespace ptlab::text
