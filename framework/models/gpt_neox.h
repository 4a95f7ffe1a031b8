// GPT-NeoX / Pythia (model_type gpt_neox): LayerNorm blocks, fused query_key_value whose output is laid
// out per head as [heads, 3, d_head] (q, k, v of head h are adjacent), partial RoPE on the first
// head_dim * rotary_pct features (base rotary_emb_base, rope_scaling linear/dynamic), parallel residual
// x + attn(ln1(x)) + mlp(ln2(x)) when use_parallel_residual (else sequential), separate embed_out head
// (tied only when tie_word_embeddings). Buffers attention.bias / masked_bias / rotary_emb.inv_freq are
// ignored on load.
#pragma once

#include "framework/models/checkpoint.h"
#include "framework/models/decoder_only.h"
#include "framework/models/hf_config.h"
#include "framework/models/rope.h"

#include <memory>
#include <string>
#include <vector>

namespace ptlab::models {

class GptNeoXBackbone : public DecoderOnlyBackbone {
 public:
  GptNeoXBackbone(const HFConfig& config, Checkpoint& weights, const LoadOptions& options);

  at::Tensor word_embeddings() const override { return embed_in_; }

 protected:
  at::Tensor embed_tokens(const at::Tensor& ids) const override;
  at::Tensor begin(const at::Tensor& x, DecoderStep& step) override;
  at::Tensor layer(int64_t index, const at::Tensor& x, DecoderStep& step) override;
  at::Tensor final_norm(const at::Tensor& x) override;
  at::Tensor output_weight() const override { return embed_out_.defined() ? embed_out_ : embed_in_; }

 private:
  struct Layer {
    at::Tensor ln1_w, ln1_b, qkv_w, qkv_b, dense_w, dense_b, ln2_w, ln2_b, up_w, up_b, down_w, down_b;
  };
  std::vector<Layer> layers_;
  at::Tensor embed_in_, final_w_, final_b_, embed_out_;
  double eps_ = 1e-5;
  std::string act_;
  bool parallel_residual_ = true;
  std::unique_ptr<RotaryEmbedding> rope_;
};

std::shared_ptr<Backbone> build_gpt_neox(const HFConfig& config, Checkpoint& weights, const LoadOptions& options);

}  // namespace ptlab::models
