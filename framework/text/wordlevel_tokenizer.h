// WordLevel tokenizers: a tokenizer.json whose model is {"type": "WordLevel", "vocab": {token: id},
// "unk_token": ...} — every pre-tokenized word is looked up whole, and a word that is not in the vocabulary
// becomes the unknown token. The project's synthetic language writes one (tasks/synthetic/tokenizer_files.h:
// WhitespaceSplit, no normalizer / post-processor / decoder, punctuation marks as words of their own).
//
// Semantics of the Rust `tokenizers` pipeline, as transformers' PreTrainedTokenizerFast runs it:
//  - encode: added tokens with normalized=false are split from the raw text; the rest is normalised
//    (normalizer.h: Lowercase, NFC, ...), added tokens with normalized=true are split from that, the
//    pre_tokenizer (pre_tokenizer.h: WhitespaceSplit, Whitespace, Punctuation, Digits, Split, Sequence)
//    cuts the words, and each word maps to its id or to unk_token's. The post_processor
//    (TemplateProcessing, ...; null adds nothing) places the special tokens when they are asked for.
//  - decode: the tokens joined with single spaces (what the Rust library does without a decoder; the
//    only decoder accepted is null), special tokens dropped with skip_special_tokens, then
//    clean_up_tokenization when clean_up_tokenization_spaces is on (transformers' default true; the
//    synthetic language's tokenizer_config.json sets false, so decode(encode(text)) gives back any text
//    whose words are in the vocabulary and are separated by single spaces).
//  - special tokens: tokenizer.json's added_tokens, then the roles of tokenizer_config.json /
//    special_tokens_map.json; without side files unk is the model's unk_token and no other role is set.
// Stricter than the Rust library, to fail at load rather than at the first unknown word: unk_token (default
// "<unk>") must be in the vocabulary, ids must be distinct non-negative integers, and a ByteLevel
// pre-tokenizer (whose byte alphabet a WordLevel vocabulary would have to use) is refused.
// Offsets: byte ranges into the input while the normaliser leaves the text unchanged, else empty.
#pragma once

#include "framework/text/normalizer.h"
#include "framework/text/pre_tokenizer.h"
#include "framework/text/tokenizer.h"

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace ptlab::text {

class WordLevelTokenizer final : public Tokenizer {
 public:
  /// A parsed tokenizer.json whose model is WordLevel; `path` names it in messages. A missing or empty
  /// vocab, a bad id, unk_token not in the vocab, or an unsupported normalizer / pre_tokenizer /
  /// post_processor / decoder is an Error naming the file and the key.
  static std::unique_ptr<WordLevelTokenizer> from_tokenizer_json(const nlohmann::json& json, const std::string& path,
                                                                 const TokenizerConfig& config);

  std::string kind() const override { return "wordlevel"; }
  int token_to_id(std::string_view token) const override;
  std::string id_to_token(int id) const override;
  int vocab_size() const override;

  /// The model's unknown token and its id (always in the vocabulary).
  const std::string& unk_token() const { return unk_token_; }
  int model_unk_id() const { return unk_id_; }
  /// Number of entries of the model's vocabulary (added tokens not counted).
  std::size_t model_size() const { return vocab_.size(); }

 protected:
  std::string decode_ids(const std::vector<int>& ids, bool skip_special_tokens, bool clean_up) const override;
  Encoding encode_text(std::string_view text) const override;

 private:
  WordLevelTokenizer() = default;
  // Pre-tokenizes `chunk` (normalised text between added tokens) and appends the words' ids; `base` is the
  // byte offset of the chunk in the input.
  void encode_words(std::string_view chunk, std::size_t base, Encoding& out) const;

  std::unordered_map<std::string, int> vocab_;
  std::vector<std::optional<std::string>> id_to_token_;  // by id; nullopt for ids the vocabulary skips
  std::string unk_token_ = "<unk>";
  int unk_id_ = -1;
  Normalizer normalizer_;
  PreTokenizer pre_tokenizer_;
};

}  // namespace ptlab::text
