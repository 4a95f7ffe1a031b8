// Text generation with a KV cache: greedy or sampling (temperature, top-k, top-p, seeded), from token ids
// or from input embeddings (prompt tuning) and/or a KV prefix (prefix tuning), batched with left padding,
// stopping at eos or after max_new_tokens. Follows transformers' generate(): positions of the prompt
// count real tokens only (cumsum of the mask, so a left-padded row starts at position P of its prefix),
// warpers apply in the order temperature -> top-k -> top-p, and a row that produced eos is filled with
// pad_token_id until every row is done.
//
// Encoder-decoder backbones (info().is_encoder_decoder, T5) go through the same function: the first
// forward call receives the prompt as the encoder input (input_ids / inputs_embeds, attention_mask,
// prefix, cross_prefix), decoder_input_ids = [decoder_start_token_id] and decoder_prefix, with a KVCache;
// it must return encoder_last_hidden_state. Every later call receives encoder_hidden_states (that output),
// the same attention_mask and cross_prefix, decoder_input_ids = [B, 1] of the last token and the same
// cache (holding the decoder self-attention past and, if the backbone wants, the cross-attention keys).
#pragma once

#include "framework/models/backbone.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace ptlab::models {

struct GenerationConfig {
  int64_t max_new_tokens = 20;
  bool do_sample = false;  ///< false: greedy (argmax); true: sample with the warpers below
  double temperature = 1.0;
  int64_t top_k = 0;   ///< keep the k most likely tokens; 0 = off
  double top_p = 1.0;  ///< keep the smallest set with cumulative probability >= top_p; 1 = off
  uint64_t seed = 0;   ///< sampling draws from a CPU generator seeded with this (same result on any device)
  std::vector<int64_t> eos_token_ids;  ///< empty: the backbone's eos_token_id (none when it has none)
  int64_t pad_token_id = -1;           ///< filler after eos; -1: backbone's pad, else the first eos, else 0
};

struct GenerationOutput {
  /// Decoder-only from input_ids: [B, T + N] prompt then new tokens. From inputs_embeds: [B, N] new tokens
  /// only. Encoder-decoder: [B, 1 + N] decoder_start_token_id then new tokens (as transformers returns).
  at::Tensor sequences;
  at::Tensor new_tokens;  ///< [B, N], N <= max_new_tokens (fewer when every row ended early)
  at::Tensor finished;    ///< [B] bool: the row produced an eos token
};

/// Generates from `prompt` (input_ids or inputs_embeds [B, T(, d)], attention_mask with left padding,
/// prefix; T5 also decoder_prefix / cross_prefix; its logits/hidden-state fields are ignored).
/// Runs without autograd. Bad settings (temperature <= 0, top_p outside (0, 1], ...) are Errors.
GenerationOutput generate(Backbone& backbone, const BackboneInput& prompt, const GenerationConfig& config);

/// One next-token choice from logits [B, V]: argmax, or a sample after the warpers. Exposed for tests.
at::Tensor choose_next_tokens(const at::Tensor& logits, const GenerationConfig& config, at::Generator& generator);

}  // namespace ptlab::models
