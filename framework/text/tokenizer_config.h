// The Hugging Face side files of a tokenizer directory: tokenizer_config.json, special_tokens_map.json and
// added_tokens.json — which strings are the special tokens, the added tokens with their ids and flags,
// and the options of the slow tokenizer classes (do_lower_case, add_bos_token, legacy, extra_ids, ...).
//
// The files are optional; what they leave out is left unset here and each tokenizer applies its
// transformers 4.38 class defaults. As in transformers, special_tokens_map.json overrides the
// special tokens of tokenizer_config.json. Keys we do not use are ignored (these files carry many
// unrelated keys), but a used key of the wrong type is an Error naming the file and the key.
#pragma once

#include "framework/text/added_vocabulary.h"

#include <nlohmann/json_fwd.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ptlab::text {

struct TokenizerConfig {
  /// Files that were found and read (full paths).
  std::vector<std::string> files;
  /// "tokenizer_class" ("BertTokenizer", "T5Tokenizer", ...), or "".
  std::string tokenizer_class;
  /// Special-token strings by role: "bos", "eos", "unk", "pad", "sep", "cls", "mask". A role given as
  /// null in the files is present with nullopt (the class default is switched off).
  std::map<std::string, std::optional<std::string>> special_tokens;
  /// "additional_special_tokens".
  std::vector<std::string> additional_special_tokens;
  /// Added tokens with their ids: added_tokens_decoder of tokenizer_config.json, then added_tokens.json
  /// (entries not already known). Special-token flags (lstrip, ...) given as objects are applied.
  std::vector<AddedToken> added_tokens;
  /// Flags (lstrip, rstrip, normalized, ...) of special tokens that the files define as objects, by
  /// content (id unset): used when a tokenizer registers a special token that is a vocabulary entry.
  std::map<std::string, AddedToken> special_token_flags;

  std::optional<bool> add_bos_token, add_eos_token, add_prefix_space, legacy;
  std::optional<bool> do_lower_case, do_basic_tokenize, tokenize_chinese_chars;
  /// BERT's strip_accents: nullopt (null in the file) means "when lower-casing".
  std::optional<bool> strip_accents;
  std::optional<bool> clean_up_tokenization_spaces, spaces_between_special_tokens;
  std::optional<int> extra_ids;
  std::vector<std::string> never_split;

  /// The string of a special-token role, or nullopt when absent or switched off.
  std::optional<std::string> special(const std::string& role) const;
  /// True when the files set this role (possibly to null).
  bool has_special(const std::string& role) const { return special_tokens.count(role) > 0; }
};

/// Reads the side files found in `dir` (none found gives an empty config).
TokenizerConfig read_tokenizer_config(const std::string& dir);

/// The "added_tokens" list of a tokenizer.json (`where` names it in messages). Each entry needs an
/// integer "id" and a non-empty "content"; flags default as in the Rust library (normalized = !special).
std::vector<AddedToken> added_tokens_from_json(const nlohmann::json& list, std::string_view where);

/// Parses a JSON file; a missing file or a syntax error is an Error naming the file (and the byte).
nlohmann::json read_json_file(const std::string& path);

}  // namespace ptlab::text
