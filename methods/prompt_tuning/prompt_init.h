// Initial values of a soft prompt: the rules of Lester et al. 2021 (uniform, sampled vocabulary, class
// labels) and of Hugging Face PEFT (RANDOM = N(0, 1), TEXT, SAMPLE_VOCAB), plus transfer from a file.
//
// Every function returns a float32 [n, d] tensor; random draws come from the caller's generator on the
// CPU (so every rank and every device gets the same values from the same seed), rows copied from the word
// embeddings are on the embeddings' device. Prompt Tuning uses them (prompt_tuning.h); any method with
// input-level virtual tokens (P-Tuning, PPT, MPT) can.
//
// Bit-for-bit facts worth knowing:
//  - normal_prompt(n, d, 1, gen) with a generator seeded s equals PyTorch's `torch.manual_seed(s);
//    nn.Embedding(n, d).weight` (PEFT's RANDOM init), since both fill the tensor with normal_().
//  - text_init_ids() reproduces PEFT's PromptEmbedding TEXT rule exactly (special tokens included).
#pragma once

#include "framework/text/tokenizer.h"
#include "tasks/verbalizer.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ptlab::methods {

/// U[-range, range] per element (Lester et al.'s "random uniform"; range > 0). [n, d] float32 on the CPU.
at::Tensor uniform_prompt(int64_t n, int64_t d, double range, at::Generator& generator);

/// N(0, std^2) per element (PEFT's RANDOM with std 1). [n, d] float32 on the CPU.
at::Tensor normal_prompt(int64_t n, int64_t d, double std, at::Generator& generator);

/// The ids of `n` vocabulary rows drawn uniformly from the first `top_k` rows of a vocabulary of `vocab`
/// rows (top_k 0, or top_k >= vocab: all of them — the paper's 5,000 on a 512-token model samples the
/// whole vocabulary). As Lester et al.'s from_sample_of_embeddings: without replacement when n <=
/// population, with replacement otherwise. The first rows are the most frequent pieces for SentencePiece
/// vocabularies (and roughly so for BPE ones, whose ids follow merge order), which is why Lester et al.
/// sample from the first 5,000. A negative top_k is an Error naming `where`. [n] int64, CPU.
at::Tensor sampled_vocab_ids(int64_t n, int64_t vocab, int64_t top_k, at::Generator& generator,
                             const std::string& where);

/// Rows of `word_embeddings` [V, d] at sampled_vocab_ids(): [n, d] float32 on the embeddings' device.
at::Tensor sampled_vocab_prompt(const at::Tensor& word_embeddings, int64_t n, int64_t top_k, at::Generator& generator,
                                const std::string& where);

/// PEFT's TEXT ids: tokenizer(text) WITH the tokenizer's special tokens (BOS for Llama, [CLS] ... [SEP]
/// for BERT, ... </s> for T5), truncated to n, or repeated cyclically and then truncated when shorter.
/// Text that encodes to no token is an Error naming `where`.
std::vector<int64_t> text_init_ids(const text::Tokenizer& tokenizer, const std::string& text, int64_t n,
                                   const std::string& where);

/// Rows of `word_embeddings` [V, d] at `ids`: [n, d] float32 on the embeddings' device. An id outside the
/// V rows is an Error naming `where`.
at::Tensor embedding_rows(const at::Tensor& word_embeddings, const std::vector<int64_t>& ids, const std::string& where);

/// Lester et al.'s class-label init: row c (c < C) is the mean of the sub-token embeddings of class c's
/// (first) label word (Verbalizer::class_label_embeddings); rows C..n-1 are sampled vocabulary rows
/// (top_k as above). More classes than rows is an Error naming `where`. [n, d] float32.
at::Tensor class_label_prompt(const at::Tensor& word_embeddings, const tasks::Verbalizer& verbalizer, int64_t n,
                              int64_t top_k, at::Generator& generator, const std::string& where);

/// A prompt saved before, as [n, d] float32 on the CPU. `path` is
///  - a ptlab prompt file (`prompt.safetensors`, tensor "prompt" [n, d]), or a bare PEFT
///    adapter_model.safetensors (tensor "prompt_embeddings");
///  - a PEFT adapter directory (adapter_config.json + adapter_model.safetensors, io/peft_adapter.h).
/// PEFT stores n * S rows, S = num_transformer_submodules (2 for encoder-decoder models), and its prompt
/// tuning feeds only rows 0..n-1 (to the encoder): those are the rows taken. A missing path, a file
/// without the tensor, or a prompt of another shape are Errors naming `where`, the path and both shapes.
at::Tensor file_prompt(const std::string& path, int64_t n, int64_t d, bool encoder_decoder, const std::string& where);

}  // namespace ptlab::methods
