// The tokenizer of a GGUF file, rebuilt from its tokenizer.ggml.* metadata.
//
// Supported tokenizer.ggml.model values:
//  - "gpt2" (byte-level BPE: tokens, merges, token types), rebuilt as Hugging Face files (tokenizer.json +
//    tokenizer_config.json). The pre-tokenizer follows tokenizer.ggml.pre as llama.cpp does: "smollm" splits
//    every digit (as SmolLM's own tokenizer.json), "llama-bpe"/"llama3" and "qwen2" use their split
//    expressions, "gpt-2"/"default" (or no key) GPT-2's. Tokens of type 3 (control) become special added
//    tokens, type 4 (user defined) plain added tokens. add_bos_token / add_eos_token default to false.
//  - "llama" (llama.cpp's SPM tokenizer: Llama 1/2, TinyLlama, Mistral, Gemma), rebuilt as the SentencePiece
//    BPE model it was converted from — a serialized ModelProto (what a tokenizer.model file holds), run by
//    libsentencepiece through SentencePieceTokenizer:
//      pieces          tokenizer.ggml.tokens, .scores (float32; all 0 when absent, as llama.cpp reads it)
//                      and .token_type (llama.cpp's codes are SentencePiece's: 1 normal, 2 unknown,
//                      3 control, 4 user defined, 5 unused, 6 byte "<0x0A>"; 0 reads as normal);
//      trainer_spec    model_type BPE; byte_fallback when the 256 byte tokens are there (some but not all
//                      is an Error); unk/bos/eos/pad ids from tokenizer.ggml.*_token_id (the unknown
//                      token may also come from its type; SentencePiece needs exactly one);
//      normalizer      identity (no character mapping), add_dummy_prefix = tokenizer.ggml.add_space_prefix
//                      (default true), remove_extra_whitespaces off, escape_whitespaces on — llama.cpp's
//                      SPM tokenizer does exactly this to the text before its score-driven BPE.
//    Around it transformers' LlamaTokenizer in legacy mode: special-token strings in the text are split out
//    and each chunk between them gets its own dummy prefix (llama.cpp likewise puts a space in front of the
//    text after each special token); add_bos_token defaults to true, add_eos_token to false; control tokens
//    other than the roles are additional special tokens. User-defined tokens (type 4) are plain added tokens
//    matched in the raw text, as llama.cpp matches them (its converter writes Gemma's "▁▁" pieces as "  ",
//    which only a raw-text match finds); decoding concatenates them with their neighbours. transformers'
//    GGUF tokenizer matches them after turning spaces into "▁", so the two differ on text holding a literal
//    "▁" beside a space. A model's split_digits (a training option) is not in GGUF and is not needed:
//    encoding only merges pieces of the vocabulary.
//    Checked: Llama 2's tokenizer.model taken apart into GGUF metadata reproduces the golden references
//    (transformers' LlamaTokenizer) on all 406 shared texts, every field; Gemma 3 270M's GGUF tokenizer
//    matches transformers' on the 405 of them without a literal "▁" (tests/text/gguf_sentencepiece_test.cpp).
// Both: tokenizer.ggml.{bos,eos,unknown,padding}_token_id name the roles; tokenizer.ggml.add_bos_token /
// add_eos_token the template. Array lengths that disagree with the token count, duplicate or empty tokens
// and ids outside the vocabulary are one-line Errors. "t5", "bert" and others are an Error naming the model.
#pragma once

#include "framework/text/tokenizer.h"
#include "framework/text/tokenizer_config.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace ptlab::io {
class GgufFile;
}

namespace ptlab::text {

struct GgufTokenizerFiles {
  nlohmann::json tokenizer_json;         ///< tokenizer.json ("gpt2"; null for "llama")
  std::string sentencepiece_model;       ///< tokenizer.model: a serialized ModelProto ("llama"; empty for "gpt2")
  int64_t vocab_size = 0;                ///< number of tokens
  nlohmann::json tokenizer_config_json;  ///< tokenizer_config.json (special tokens, add_bos_token, ...)
  TokenizerConfig config;                ///< the same, as read_tokenizer_config would return it
};

/// The tokenizer files (Hugging Face's, or SentencePiece's tokenizer.model) of `file`'s tokenizer.ggml.* metadata.
GgufTokenizerFiles gguf_tokenizer_files(const io::GgufFile& file);

/// The tokenizer of a .gguf file (what load_tokenizer(path) returns for a path ending in .gguf).
std::unique_ptr<Tokenizer> load_gguf_tokenizer(const std::string& path);

}  // namespace ptlab::text
