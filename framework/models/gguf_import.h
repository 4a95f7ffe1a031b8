// Importing a GGUF file (llama.cpp's format) as a Hugging Face model directory.
//
// import_gguf() reads the architecture's hyper-parameters from the metadata, dequantizes every tensor
// (framework/io/gguf.h: bit-exact to ggml / the `gguf` package), maps llama.cpp's tensor names and layouts
// to transformers' (undoing the rotary row permutation llama.cpp's converter applies to q_proj / k_proj),
// and rebuilds the tokenizer (framework/text/gguf_tokenizer.h). The result is what a transformers
// `from_pretrained(dir, gguf_file=...)` holds: config.json, model.safetensors, tokenizer.json,
// tokenizer_config.json — loadable by ptlab and by transformers alike.
//
// Architectures: "llama" (SmolLM, Llama 1/2/3 without rope_freqs, TinyLlama, ...). Another architecture is
// an Error naming it and the supported ones.
//
// A model path ending in .gguf is loaded through gguf_model_dir(): the file is imported once into a cache
// directory keyed by the file's absolute path, size and modification time (and this importer's version),
// and later loads reuse it.
#pragma once

#include <ATen/ATen.h>

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

namespace ptlab::models {

struct GgufImport {
  nlohmann::json config;  ///< config.json
  std::vector<std::pair<std::string, at::Tensor>> tensors;  ///< Hugging Face names, in the file's order
  std::string architecture;                                 ///< general.architecture
  int64_t quantized_tensors = 0;                            ///< tensors stored in a quantized type
};

/// Reads and converts `gguf_path` in memory; parameters in `dtype` (fp32, bf16 or fp16).
GgufImport read_gguf_model(const std::string& gguf_path, at::ScalarType dtype = at::kFloat);

/// Writes the Hugging Face directory of `gguf_path` to `out_dir` (created; files written atomically):
/// config.json, model.safetensors, tokenizer.json, tokenizer_config.json.
void import_gguf(const std::string& gguf_path, const std::string& out_dir, at::ScalarType dtype = at::kFloat);

/// Whether `path` names a GGUF file (a regular file ending in .gguf).
bool is_gguf_path(const std::string& path);

/// The cached import of `gguf_path` (see the top of this file), imported now when missing. The cache is
/// $PTLAB_CACHE, else $XDG_CACHE_HOME/ptlab, else ~/.cache/ptlab, under gguf/. Concurrent callers are safe:
/// each imports into its own temporary directory and the first rename wins.
std::string gguf_model_dir(const std::string& gguf_path);

}  // namespace ptlab::models
