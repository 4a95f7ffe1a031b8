// The tokenizer of a GGUF file, rebuilt from its tokenizer.ggml.* metadata as Hugging Face files.
//
// Supported: tokenizer.ggml.model "gpt2" (byte-level BPE: tokens, merges, token types). The pre-tokenizer
// follows tokenizer.ggml.pre as llama.cpp does: "smollm" splits every digit (as SmolLM's own
// tokenizer.json), "llama-bpe"/"llama3" and "qwen2" use their split expressions, "gpt-2"/"default" (or no
// key) GPT-2's. Tokens of type 3 (control) become special added tokens, type 4 (user defined) plain added
// tokens. tokenizer.ggml.{bos,eos,unknown,padding}_token_id name the roles; tokenizer.ggml.add_bos_token /
// add_eos_token the template. "llama" (SentencePiece scores), "t5" and others are an Error naming the model.
#pragma once

#include "framework/text/tokenizer.h"
#include "framework/text/tokenizer_config.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

namespace ptlab::io {
class GgufFile;
}

namespace ptlab::text {

struct GgufTokenizerFiles {
  nlohmann::json tokenizer_json;         ///< tokenizer.json
  nlohmann::json tokenizer_config_json;  ///< tokenizer_config.json (special tokens, add_bos_token, ...)
  TokenizerConfig config;                ///< the same, as read_tokenizer_config would return it
};

/// The Hugging Face tokenizer files of `file`'s tokenizer.ggml.* metadata.
GgufTokenizerFiles gguf_tokenizer_files(const io::GgufFile& file);

/// The tokenizer of a .gguf file (what load_tokenizer(path) returns for a path ending in .gguf).
std::unique_ptr<Tokenizer> load_gguf_tokenizer(const std::string& path);

}  // namespace ptlab::text
