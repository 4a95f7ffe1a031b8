// The Hugging Face tokenizer files of the synthetic language: a word-level tokenizer whose vocabulary is
// the special tokens followed by every word of the lexicon.
//
//   tokenizer.json           model "WordLevel" (unk_token "<unk>"), pre_tokenizer "WhitespaceSplit", no
//                            normalizer, post-processor or decoder (decoding joins tokens with spaces, which
//                            gives back the text exactly); the special tokens as added tokens.
//   tokenizer_config.json    as transformers' save_pretrained writes it for a PreTrainedTokenizerFast
//   special_tokens_map.json  (sorted keys, 2-space indent), with clean_up_tokenization_spaces false.
// A folder holding the three loads with transformers.AutoTokenizer.from_pretrained and with ptlab's own
// tokenizer loader. Encoding adds no special tokens: callers put <s> / </s> where their model wants them.
#pragma once

#include "tasks/synthetic/lexicon.h"

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace ptlab::tasks::synthetic {

/// The special tokens, with ids 0..4.
inline constexpr std::array<std::string_view, 5> kSpecialTokens = {"<pad>", "<unk>", "<s>", "</s>", "<mask>"};

/// Token strings by id: kSpecialTokens, then the lexicon's words in lexicon order (word id + 5).
std::vector<std::string> vocabulary(const Lexicon& lex);

/// File contents (each ends with a newline).
std::string tokenizer_json(const Lexicon& lex);
std::string tokenizer_config_json();
std::string special_tokens_map_json();

}  // namespace ptlab::tasks::synthetic
