// The tokenizer interface of ptlab and the loader that builds the right tokenizer from a model
// directory or a tokenizer file.
//
// Four kinds, each reproducing the Hugging Face reference it replaces (see ../shared/golden/tokenizers):
//  - "byte_level_bpe" (byte_level_bpe_tokenizer.h): GPT-2, GPT-NeoX/Pythia, Llama 3, Qwen — from
//    tokenizer.json (Rust `tokenizers` semantics) or vocab.json + merges.txt (slow GPT2Tokenizer).
//  - "wordpiece" (wordpiece_tokenizer.h): BERT — from vocab.txt (slow BertTokenizer) or tokenizer.json.
//  - "sentencepiece" (sentencepiece_tokenizer.h): Llama 2, T5, stories260K — a .model file through
//    libsentencepiece, wrapped like the slow LlamaTokenizer / T5Tokenizer (legacy mode).
//  - "wordlevel" (wordlevel_tokenizer.h): whole-word vocabularies — the synthetic language's
//    tokenizer.json — with the Rust `tokenizers` semantics.
// Encoding is const and safe to call from several threads at once.
#pragma once

#include "framework/text/added_vocabulary.h"
#include "framework/text/encoding.h"
#include "framework/text/post_processor.h"
#include "framework/text/tokenizer_config.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace ptlab::text {

/// Ids of the special-token roles; -1 when the tokenizer has no such token.
struct SpecialTokenIds {
  int bos = -1;
  int eos = -1;
  int pad = -1;
  int unk = -1;
  int mask = -1;
  int sep = -1;
  int cls = -1;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  /// "byte_level_bpe", "wordpiece", "sentencepiece" or "wordlevel".
  virtual std::string kind() const = 0;

  /// Encodes UTF-8 `text` (invalid UTF-8 is an Error giving the byte offset). Special-token strings in
  /// the text ("<|endoftext|>", "[MASK]", "<s>") are matched as special tokens, as in HF by default.
  /// With add_special_tokens the tokenizer's template is applied (BERT [CLS] ... [SEP], Llama <s> ...,
  /// T5 ... </s>); type_ids are the single template's (all 0 for every kit here). Offsets are filled
  /// where they are cheap: byte-level BPE and WordLevel (unless a normaliser changed the text) and
  /// SentencePiece in legacy mode; WordPiece leaves them empty.
  Encoding encode(std::string_view text, bool add_special_tokens = true) const;

  /// Encodes a pair of texts: with add_special_tokens the pair template ([CLS] A [SEP] B [SEP] for BERT),
  /// without it A then B. type_ids are the template's (0 for A's part, 1 for B's where it has them).
  Encoding encode_pair(std::string_view a, std::string_view b, bool add_special_tokens = true) const;

  /// Text of `ids`, as the reference `tokenizer.decode(ids, skip_special_tokens=...)` with the
  /// tokenizer's default clean_up_tokenization_spaces (see clean_up_tokenization). An id outside the
  /// vocabulary is an Error.
  std::string decode(const std::vector<int>& ids, bool skip_special_tokens = false) const {
    return decode_ids(ids, skip_special_tokens, clean_up_);
  }
  /// The same with clean_up_tokenization_spaces given explicitly (false: the raw round trip).
  std::string decode(const std::vector<int>& ids, bool skip_special_tokens, bool clean_up_tokenization_spaces) const {
    return decode_ids(ids, skip_special_tokens, clean_up_tokenization_spaces);
  }
  /// The tokenizer's default for clean_up_tokenization_spaces (tokenizer_config.json, else the class
  /// default: true, except false for Llama-style SentencePiece).
  bool clean_up_tokenization_spaces() const { return clean_up_; }

  /// Id of a vocabulary or added token, or -1.
  virtual int token_to_id(std::string_view token) const = 0;
  /// Token string of `id` (added tokens included); an id outside [0, vocab_size()) with no token is an
  /// Error.
  virtual std::string id_to_token(int id) const = 0;
  /// Number of ids: largest id + 1, added tokens included (the embedding rows a model needs).
  virtual int vocab_size() const = 0;

  const SpecialTokenIds& special_ids() const { return special_ids_; }
  int bos_id() const { return special_ids_.bos; }
  int eos_id() const { return special_ids_.eos; }
  int pad_id() const { return special_ids_.pad; }
  int unk_id() const { return special_ids_.unk; }
  int mask_id() const { return special_ids_.mask; }
  int sep_id() const { return special_ids_.sep; }
  int cls_id() const { return special_ids_.cls; }

  /// True for ids that decode(..., skip_special_tokens=true) drops: the special-token roles, the
  /// additional special tokens and every added token flagged special.
  bool is_special(int id) const { return special_set_.count(id) > 0; }
  /// The added tokens (special tokens included) matched in raw text.
  const AddedVocabulary& added_tokens() const { return added_; }
  /// The template used when special tokens are asked for.
  const PostProcessor& post_processor() const { return post_processor_; }
  /// The file or directory this tokenizer was loaded from.
  const std::string& source() const { return source_; }

 protected:
  /// decode() of each kind.
  virtual std::string decode_ids(const std::vector<int>& ids, bool skip_special_tokens, bool clean_up) const = 0;
  /// Tokens of `text` (valid UTF-8) with no template applied; type_ids may be left empty.
  virtual Encoding encode_text(std::string_view text) const = 0;
  /// Applies the template to `a` (and `b`). Default: post_processor().apply.
  virtual Encoding add_special_tokens(const Encoding& a, const Encoding* b) const;

  /// Registers the added and special tokens of `config`: its added tokens (with their ids), then each
  /// role's string — the config's, else `defaults` (the transformers class defaults, role -> string) — and
  /// the additional special tokens. A special string that is not an added token yet gets the id
  /// `vocab_lookup(string)`, or when that is -1 the next free id (as transformers' add_tokens does).
  /// Fills special_ids_ and special_set_.
  void register_tokens(const TokenizerConfig& config, const std::map<std::string, std::string>& defaults,
                       const std::function<int(const std::string&)>& vocab_lookup, int first_free_id);

  friend std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

  SpecialTokenIds special_ids_;
  std::unordered_set<int> special_set_;
  AddedVocabulary added_;
  PostProcessor post_processor_;
  std::string source_;
  bool clean_up_ = true;
};

/// Loads a tokenizer from a model directory or a single file.
///
/// Directory: the first of these that is present is used —
///   tokenizer.json (when its model is byte-level BPE, WordPiece or WordLevel; otherwise the next ones are
///   tried),
///   vocab.json + merges.txt, vocab.txt, tokenizer.model / spiece.model (or a single *.model).
/// tokenizer_config.json, special_tokens_map.json and added_tokens.json next to the files give the special
/// tokens and options (do_lower_case, add_bos_token, add_eos_token, legacy, extra_ids, ...).
/// File: tokenizer.json (or any *.json with a "model"), vocab.json or merges.txt (the other must be
/// beside it), vocab.txt, or a SentencePiece *.model; side files in the same directory are used too. A
/// .gguf file: its tokenizer.ggml.* metadata (gguf_tokenizer.h).
/// Anything else — a missing path, a directory without tokenizer files, an unsupported tokenizer.json —
/// is an Error that says what was looked for.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

/// transformers' `clean_up_tokenization`: removes the space before . ? ! , and in " ' ", " n't", " 'm",
/// " 's", " 've", " 're" (applied by decode when clean_up_tokenization_spaces is on).
std::string clean_up_tokenization(std::string_view text);

/// Every occurrence of `from` in `s` replaced by `to` (from must not be empty).
std::string replace_all(std::string s, std::string_view from, std::string_view to);

/// The last step of decode in every tokenizer: the decoded runs between special tokens joined (with one
/// space between runs when `spaces_between`, transformers' spaces_between_special_tokens), then
/// clean_up_tokenization when `clean_up`.
std::string join_decoded_runs(const std::vector<std::string>& runs, bool spaces_between, bool clean_up);

}  // namespace ptlab::text
