// DecoderOnlyBackbone: the forward pass shared by the causal families (Llama, GPT-2, GPT-NeoX). It owns
// everything about hook points 1-3 — ids or inputs_embeds, left/right padding, KV prefix and cache, default
// positions (past length + 0..T-1), hidden states of every layer, the logits request — and calls the
// family for what differs, through these hooks (as llama.cpp's per-architecture builders do):
//   embed_tokens(ids)         word-embedding lookup                         [B, T] -> [B, T, d]
//   begin(ctx)                per-call precomputation (RoPE cos/sin) and learned positions
//   layer(l, x, ctx)          one transformer block                          [B, T, d] -> [B, T, d]
//   final_norm(x), output_weight()
#pragma once

#include "framework/models/attention.h"
#include "framework/models/backbone.h"

#include <ATen/ATen.h>

#include <cstdint>

namespace ptlab::models {

/// What every layer of one forward call shares.
struct DecoderStep {
  AttentionPast* past = nullptr;  ///< prefix / cache of the self-attention stack
  at::Tensor allowed;             ///< [B, 1, T, S] bool, S = past + T
  at::Tensor position_ids;        ///< [B, T] int64
  at::Tensor cos, sin;            ///< RoPE families: [B, 1, T, rotary_dim] (filled by begin())
};

class DecoderOnlyBackbone : public Backbone {
 public:
  const BackboneInfo& info() const override { return info_; }
  BackboneOutput forward(const BackboneInput& input, KVCache* cache = nullptr) override;
  at::Tensor embed(const at::Tensor& ids) const override;

 protected:
  /// ids [B, T] (checked in range) -> [B, T, d].
  virtual at::Tensor embed_tokens(const at::Tensor& ids) const = 0;
  /// Called once per forward after positions are known; returns the embeddings output (hidden_states[0]):
  /// x plus learned positions for GPT-2, x itself otherwise. RoPE families fill step.cos / step.sin.
  virtual at::Tensor begin(const at::Tensor& x, DecoderStep& step) = 0;
  virtual at::Tensor layer(int64_t index, const at::Tensor& x, DecoderStep& step) = 0;
  virtual at::Tensor final_norm(const at::Tensor& x) = 0;
  /// [V, d]: the LM head (the word embeddings when tied).
  virtual at::Tensor output_weight() const = 0;

  /// Fills info_.num_parameters / num_embedding_parameters; call at the end of the constructor.
  void count_parameters_into_info(int64_t embedding_parameters);

  BackboneInfo info_;
  int64_t sliding_window_ = 0;  ///< Mistral; 0 = none
};

}  // namespace ptlab::models
