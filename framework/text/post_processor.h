// Where special tokens go around one or two encoded sequences: BERT's [CLS] A [SEP] B [SEP], Llama's
// <s> A, T5's A </s>, Llama 3's <|begin_of_text|> A — and the token type id of every position.
//
// This is the Rust `TemplateProcessing` model (a list of pieces per layout), which also expresses the
// `BertProcessing` / `RobertaProcessing` post-processors and the slow tokenizers'
// build_inputs_with_special_tokens() for every kit here. A tokenizer.json post_processor is parsed by
// from_json(); other tokenizers build their template in code.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace ptlab::text {

struct Encoding;

class PostProcessor {
 public:
  /// One piece of a template: a run of special tokens, or sequence A / B.
  struct Piece {
    enum class Kind { kSpecial, kSequenceA, kSequenceB } kind = Kind::kSequenceA;
    std::vector<int> ids;             // kSpecial only
    std::vector<std::string> tokens;  // kSpecial only, same length as ids
    int type_id = 0;
  };

  /// The identity template: A alone (type 0), A then B (types 0 and 1).
  PostProcessor();
  PostProcessor(std::vector<Piece> single, std::vector<Piece> pair);

  /// Convenience for the common shape "prefix A suffix" / "prefix A suffix [pair_prefix] B suffix"
  /// with the special tokens given as (id, token) lists; B's pieces get type id `pair_type_id`.
  static PostProcessor surround(std::vector<std::pair<int, std::string>> prefix,
                                std::vector<std::pair<int, std::string>> suffix,
                                std::vector<std::pair<int, std::string>> pair_prefix,
                                std::vector<std::pair<int, std::string>> pair_suffix, int pair_type_id);

  /// Parses a tokenizer.json `post_processor` (TemplateProcessing, BertProcessing, RobertaProcessing,
  /// ByteLevel — which changes no ids — or a Sequence of those; null gives the identity). Unsupported types
  /// are an Error that names `where` and lists the supported ones.
  static PostProcessor from_json(const nlohmann::json& json, std::string_view where);

  /// Lays out `a` (and `b` when not null) with the template's special tokens and type ids. Offsets of
  /// special tokens are (0, 0) when the sequences carry offsets.
  Encoding apply(const Encoding& a, const Encoding* b) const;

  /// Number of special tokens the template adds (single or pair).
  std::size_t added_count(bool pair) const;

  const std::vector<Piece>& single() const { return single_; }
  const std::vector<Piece>& pair() const { return pair_; }

 private:
  std::vector<Piece> single_;
  std::vector<Piece> pair_;
};

}  // namespace ptlab::text
