// SentencePiece tokenizers (Llama 2, T5, stories260K, tiny Llama) through libsentencepiece, wrapped the
// way transformers' slow LlamaTokenizer / T5Tokenizer (4.38) wrap the same library.
//
// libsentencepiece does the model's own work — its normaliser (nmt_nfkc charsmap, remove_extra_whitespaces,
// dummy prefix), BPE or unigram, byte fallback, and decoding of pieces. This class adds what the HF
// classes put around it:
//  - legacy mode (legacy=true, the default when unset): special/added token strings in the text are split
//    out first and every chunk between them is encoded on its own (so each gets its own dummy "▁").
//    legacy=false follows the newer rule: no dummy prefix inside the model, "▁" is put in front of the
//    whole text once, and chunks that start with a space are encoded behind the unknown token.
//  - the template: Llama flavour <s> A (add_bos_token default true, add_eos_token default false; pair
//    <s> A <s> B, type ids 1 for B's part); T5 flavour A </s> — but no </s> is added when A already ends
//    with one (slow T5Tokenizer's rule) — with all type ids 0.
//  - T5's extra ids: <extra_id_0> .. <extra_id_{n-1}> get ids piece_count + n - 1 - i (extra_ids from
//    tokenizer_config.json, default 100; added_tokens_decoder / added_tokens.json take precedence),
//    with lstrip/rstrip so they swallow the spaces around them.
//  - decode as convert_tokens_to_string: special tokens are written as text (legacy: with a space before),
//    the first token loses its prefix "▁", T5 strips the result; clean_up_tokenization_spaces defaults to
//    false for Llama, true for T5.
// The flavour is T5 when tokenizer_config.json names a T5 tokenizer class, or when there is no class and
// the file is called spiece.model; Llama otherwise.
// Offsets are tracked in legacy mode (from SentencePiece's own alignment); empty otherwise.
#pragma once

#include "framework/text/tokenizer.h"

#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}  // namespace sentencepiece

namespace ptlab::text {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  enum class Flavor { kLlama, kT5 };

  /// Loads a SentencePiece .model file. A file that libsentencepiece cannot read is an Error with its
  /// message.
  static std::unique_ptr<SentencePieceTokenizer> from_model_file(const std::string& path,
                                                                 const TokenizerConfig& config);
  /// The same from the bytes of a serialized ModelProto (what a .model file holds); `source` names them in
  /// messages and, as a file name would, decides the flavour when config has no tokenizer_class.
  static std::unique_ptr<SentencePieceTokenizer> from_serialized_model(const std::string& serialized,
                                                                       const std::string& source,
                                                                       const TokenizerConfig& config);
  ~SentencePieceTokenizer() override;

  std::string kind() const override { return "sentencepiece"; }
  int token_to_id(std::string_view token) const override;
  std::string id_to_token(int id) const override;
  int vocab_size() const override;

  Flavor flavor() const { return flavor_; }
  bool legacy() const { return legacy_; }
  /// Number of pieces in the .model file (extra ids excluded).
  int piece_count() const;

 protected:
  std::string decode_ids(const std::vector<int>& ids, bool skip_special_tokens, bool clean_up) const override;
  Encoding encode_text(std::string_view text) const override;
  Encoding add_special_tokens(const Encoding& a, const Encoding* b) const override;

 private:
  SentencePieceTokenizer();
  // Ids (and offsets relative to `chunk`) of one chunk, encoded by the model.
  void encode_chunk(const sentencepiece::SentencePieceProcessor& sp, std::string_view chunk, std::size_t base,
                    Encoding& out) const;
  std::string decode_pieces(const std::vector<std::string>& pieces) const;
  std::string tokens_to_string(std::vector<std::string> tokens) const;
  int piece_id(const std::string& piece) const;  // -1 when not a piece of the model

  Flavor flavor_ = Flavor::kLlama;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_no_dummy_;  // legacy=false: add_dummy_prefix off
  bool legacy_ = true;
  bool add_bos_ = true;
  bool add_eos_ = false;
  bool add_prefix_space_ = true;
  bool spaces_between_special_ = true;
  std::string unk_token_;
  std::unordered_set<std::string> all_special_tokens_;  // role strings + additional special tokens
  std::unordered_set<std::string> additional_special_;
};

}  // namespace ptlab::text
