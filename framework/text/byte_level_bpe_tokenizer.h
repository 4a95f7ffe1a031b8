// Byte-level BPE tokenizers: GPT-2, GPT-NeoX/Pythia, Llama 3, Qwen.
//
// Two sources, each with the semantics of the implementation that reads it in Hugging Face:
//  - vocab.json + merges.txt: transformers' slow GPT2Tokenizer. add_prefix_space (default false) puts
//    one space in front of the whole text; added tokens are split out of the raw text; the GPT-2 pattern
//    pre-tokenizes; decode joins tokens into bytes (errors="replace"), writes non-special added tokens
//    as separate words joined by spaces (spaces_between_special_tokens), then cleans up spaces.
//  - tokenizer.json: the Rust `tokenizers` pipeline. Added tokens with normalized=false are split from
//    the raw text, the rest is normalised (NFC for Pythia), then added tokens with normalized=true are
//    split, then the pre_tokenizer (ByteLevel / Split regexes) and BPE run on each piece; the
//    post_processor adds special tokens. Decode maps every token back to bytes (tokens outside the
//    byte alphabet, like Pythia's runs of spaces, as their raw text).
// Both then apply transformers' clean_up_tokenization when clean_up_tokenization_spaces is on (default;
// tokenizer_config.json can switch it off).
//
// Offsets: byte ranges into the input are tracked while normalisation leaves the text unchanged (always
// for vocab.json + merges.txt; for tokenizer.json when the normaliser did not change any segment).
// Otherwise Encoding::offsets is empty.
#pragma once

#include "framework/text/bpe_model.h"
#include "framework/text/normalizer.h"
#include "framework/text/pre_tokenizer.h"
#include "framework/text/tokenizer.h"

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string>

namespace ptlab::text {

class ByteLevelBpeTokenizer final : public Tokenizer {
 public:
  /// GPT-2 style files. merges.txt: an optional "#version" first line, then "left right" per line. A
  /// merge naming a token missing from vocab.json, a malformed line or an empty vocabulary is an Error
  /// with the file and line.
  static std::unique_ptr<ByteLevelBpeTokenizer> from_vocab_files(const std::string& vocab_json,
                                                                 const std::string& merges_txt,
                                                                 const TokenizerConfig& config);

  /// A parsed tokenizer.json whose model is BPE (see is_byte_level). `path` is used in messages.
  static std::unique_ptr<ByteLevelBpeTokenizer> from_tokenizer_json(const nlohmann::json& json, const std::string& path,
                                                                    const TokenizerConfig& config);

  /// True when a tokenizer.json is byte-level: its pre_tokenizer or decoder has a ByteLevel step.
  static bool is_byte_level(const nlohmann::json& json);

  std::string kind() const override { return "byte_level_bpe"; }
  int token_to_id(std::string_view token) const override;
  std::string id_to_token(int id) const override;
  int vocab_size() const override;

  const BpeModel& model() const { return *model_; }

 protected:
  std::string decode_ids(const std::vector<int>& ids, bool skip_special_tokens, bool clean_up) const override;
  Encoding encode_text(std::string_view text) const override;

 private:
  enum class Flavor { kSlow, kFast };
  ByteLevelBpeTokenizer() = default;
  // BPE of one stretch of text between added tokens. `work` is the text the pre-tokenizer sees; byte
  // p of it is byte `base + p - shift` of the input (clamped at base), `shift` being a prepended space.
  void encode_plain(std::string_view work, std::size_t base, std::size_t shift, Encoding& out) const;
  void push_added(const AddedToken& token, std::size_t begin, std::size_t end, Encoding& out) const;
  std::string decode_slow(const std::vector<int>& ids, bool skip_special_tokens, bool clean_up) const;
  std::string decode_fast(const std::vector<int>& ids, bool skip_special_tokens, bool clean_up) const;

  Flavor flavor_ = Flavor::kSlow;
  std::unique_ptr<BpeModel> model_;
  Normalizer normalizer_;
  PreTokenizer pre_tokenizer_;
  bool add_prefix_space_ = false;  // kSlow: one space before the whole text
  bool spaces_between_special_ = true;
};

}  // namespace ptlab::text
