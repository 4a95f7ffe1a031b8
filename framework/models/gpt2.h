// GPT-2 (model_type gpt2): learned absolute positions (wpe, n_positions), pre-norm LayerNorm blocks,
// Conv1D projections whose weights are stored [in, out] (y = x W + b, the transpose of nn.Linear), fused
// c_attn = [q | k | v], gelu_new MLP, LM head tied to wte (tie_word_embeddings, default true).
// Checkpoint names: "transformer.h.0.attn.c_attn.weight" (GPT2LMHeadModel) or without the "transformer."
// prefix (GPT2Model / the original gpt2 repository); the causal-mask buffers attn.bias / attn.masked_bias
// are ignored. scale_attn_weights and scale_attn_by_inverse_layer_idx are honoured.
#pragma once

#include "framework/models/checkpoint.h"
#include "framework/models/decoder_only.h"
#include "framework/models/hf_config.h"

#include <memory>
#include <string>
#include <vector>

namespace ptlab::models {

class Gpt2Backbone : public DecoderOnlyBackbone {
 public:
  Gpt2Backbone(const HFConfig& config, Checkpoint& weights, const LoadOptions& options);

  at::Tensor word_embeddings() const override { return wte_; }

 protected:
  at::Tensor embed_tokens(const at::Tensor& ids) const override;
  at::Tensor begin(const at::Tensor& x, DecoderStep& step) override;
  at::Tensor layer(int64_t index, const at::Tensor& x, DecoderStep& step) override;
  at::Tensor final_norm(const at::Tensor& x) override;
  at::Tensor output_weight() const override { return lm_head_.defined() ? lm_head_ : wte_; }

 private:
  struct Layer {
    at::Tensor ln1_w, ln1_b, attn_w, attn_b, proj_w, proj_b, ln2_w, ln2_b, fc_w, fc_b, out_w, out_b;
  };
  std::vector<Layer> layers_;
  at::Tensor wte_, wpe_, lnf_w_, lnf_b_, lm_head_;
  double eps_ = 1e-5;
  std::string act_;
  bool scale_weights_ = true, scale_by_layer_ = false;
};

std::shared_ptr<Backbone> build_gpt2(const HFConfig& config, Checkpoint& weights, const LoadOptions& options);

/// transformers' Conv1D: x [..., in] @ weight [in, out] + bias [out] -> [..., out].
at::Tensor conv1d(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

}  // namespace ptlab::models
