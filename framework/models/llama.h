// The Llama family: Llama 2/3, Mistral, Qwen2 and SmolLM-style models (model_type llama, mistral, qwen2).
// Pre-norm blocks with RMSNorm (weight * x / sqrt(mean(x^2) + eps), computed in fp32), RoPE on q and k
// (rope_theta, rope_scaling linear/dynamic/llama3, optional head_dim), grouped-query attention
// (num_key_value_heads), SwiGLU MLP down(act(gate(x)) * up(x)), tied or untied LM head
// (tie_word_embeddings). Biases: attention_bias / mlp_bias (Llama), q/k/v biases always (Qwen2).
// Mistral's sliding_window (and Qwen2's when use_sliding_window) masks keys that far behind a query.
// Checkpoint names are transformers' LlamaForCausalLM names ("model.layers.0.self_attn.q_proj.weight").
#pragma once

#include "framework/models/checkpoint.h"
#include "framework/models/decoder_only.h"
#include "framework/models/hf_config.h"
#include "framework/models/rope.h"

#include <memory>
#include <string>
#include <vector>

namespace ptlab::models {

class LlamaBackbone : public DecoderOnlyBackbone {
 public:
  /// Reads the hyperparameters from `config` and takes every tensor from `weights`.
  LlamaBackbone(const HFConfig& config, Checkpoint& weights, const LoadOptions& options);

  at::Tensor word_embeddings() const override { return embed_tokens_; }

 protected:
  at::Tensor embed_tokens(const at::Tensor& ids) const override;
  at::Tensor begin(const at::Tensor& x, DecoderStep& step) override;
  at::Tensor layer(int64_t index, const at::Tensor& x, DecoderStep& step) override;
  at::Tensor final_norm(const at::Tensor& x) override;
  at::Tensor output_weight() const override { return lm_head_.defined() ? lm_head_ : embed_tokens_; }

 private:
  struct Layer {
    at::Tensor input_norm, q, q_bias, k, k_bias, v, v_bias, o, o_bias;
    at::Tensor post_norm, gate, gate_bias, up, up_bias, down, down_bias;
  };
  std::vector<Layer> layers_;
  at::Tensor embed_tokens_, norm_, lm_head_;
  double eps_ = 1e-6;
  std::string act_;
  std::unique_ptr<RotaryEmbedding> rope_;
};

/// The FamilyBuilder of model_type llama / mistral / qwen2.
std::shared_ptr<Backbone> build_llama(const HFConfig& config, Checkpoint& weights, const LoadOptions& options);

/// RMSNorm as transformers computes it: fp32 statistics, cast back, then scaled. x: [..., d], weight [d].
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);

}  // namespace ptlab::models
