// WordPiece tokenizers (BERT and its relatives): BasicTokenizer words, then greedy longest-match-first
// subwords with a continuation prefix ("##").
//
// Sources:
//  - vocab.txt (one token per line, id = line number) + tokenizer_config.json: transformers' slow
//    BertTokenizer (do_lower_case default true). Special tokens ([CLS] [SEP] [PAD] [UNK] [MASK] by
//    default) are matched in the raw text first. Template [CLS] A [SEP] / [CLS] A [SEP] B [SEP] with
//    type ids 0 up to the first [SEP] and 1 after. Decode: " ".join(tokens) with " ##" removed, then
//    clean_up_tokenization (on by default).
//  - tokenizer.json with a WordPiece model: the BertNormalizer options drive the same BasicTokenizer (so
//    the Python CJK ranges and NFC apply here too); the post_processor gives the template; decode follows
//    the Rust WordPiece decoder (its own cleanup, which also turns " do not" into " don't").
// A word longer than max_input_chars_per_word (100) code points, or one that cannot be split into
// vocabulary pieces, becomes the unknown token. Offsets are not tracked (Encoding::offsets is empty).
#pragma once

#include "framework/text/basic_tokenizer.h"
#include "framework/text/tokenizer.h"

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace ptlab::text {

class WordPieceTokenizer final : public Tokenizer {
 public:
  /// BERT's vocab.txt. An empty file is an Error; so is a vocabulary without the unknown token.
  static std::unique_ptr<WordPieceTokenizer> from_vocab_txt(const std::string& path, const TokenizerConfig& config);

  /// A parsed tokenizer.json whose model is WordPiece. `path` is used in messages.
  static std::unique_ptr<WordPieceTokenizer> from_tokenizer_json(const nlohmann::json& json, const std::string& path,
                                                                 const TokenizerConfig& config);

  std::string kind() const override { return "wordpiece"; }
  int token_to_id(std::string_view token) const override;
  std::string id_to_token(int id) const override;
  int vocab_size() const override;

  /// The WordPiece split of one word (no whitespace), as ids appended to `out`.
  void encode_word(std::string_view word, std::vector<int>& out) const;

  const BasicTokenizer& basic_tokenizer() const { return *basic_; }

 protected:
  std::string decode_ids(const std::vector<int>& ids, bool skip_special_tokens, bool clean_up) const override;
  Encoding encode_text(std::string_view text) const override;

 private:
  WordPieceTokenizer() = default;
  void finish_setup(const TokenizerConfig& config, std::string_view where);

  bool from_json_ = false;
  std::unordered_map<std::string, int> vocab_;
  std::vector<std::string> id_to_token_;
  std::unique_ptr<BasicTokenizer> basic_;
  bool lower_case_ = true;  // slow: lower-case the text between added tokens first (as BertTokenizer does)
  std::string prefix_ = "##";
  std::string unk_token_ = "[UNK]";
  int unk_id_ = -1;
  std::size_t max_chars_per_word_ = 100;
  std::size_t max_token_chars_ = 0;  // longest vocabulary entry, in code points (bounds the greedy search)
  bool spaces_between_special_ = true;
  bool decoder_cleanup_ = true;  // tokenizer.json WordPiece decoder
};

}  // namespace ptlab::text
