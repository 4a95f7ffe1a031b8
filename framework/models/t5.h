// T5 (v1.0 and v1.1) encoder-decoder as a frozen backbone, numerically equal to transformers 4.38's
// T5ForConditionalGeneration (fp32, eager).
//
//   T5LayerNorm: w * x / sqrt(mean(x^2) + eps)  (no mean subtraction, no bias; variance in fp32)
//   encoder block: h += SelfAttention(LN(h)); h += FFN(LN(h))            bidirectional relative buckets
//   decoder block: h += causal SelfAttention(LN(h)); h += CrossAttention(LN(h), enc); h += FFN(LN(h))
//   attention: softmax(q k^T + position_bias + mask) v — no 1/sqrt(d) scaling (T5 folds it into init);
//     the relative position bias table lives in block 0 of each stack and is shared by all its blocks;
//     cross-attention has no position bias.
//   FFN: v1.0 "relu": wo(relu(wi x)); v1.1 "gated-gelu": wo(gelu_new(wi_0 x) * wi_1 x) (any
//     "[gated-]ACT" of activation.h).
//   head: tie_word_embeddings (v1.0): logits = (h * d_model^-0.5) shared^T; untied (v1.1): lm_head(h).
//
// Inputs (backbone.h): input_ids / inputs_embeds + attention_mask for the encoder; decoder_input_ids /
// decoder_inputs_embeds + decoder_attention_mask (the causal mask always applies); prefix (encoder
// self-attention), decoder_prefix (decoder self-attention), cross_prefix (prepended to the encoder keys
// and values of every cross-attention; its mask entries are ones). With a prefix or cache of length P the
// query positions are P..P+T-1 and the prefix keys sit at 0..P-1 — exactly transformers'
// compute_bias(P + T, P + T)[..., -T:, :] when past_key_values carry a prefix. Masks may be [B, T] or
// [B, P + T] (see backbone_inputs.h). position_ids and token_type_ids do not exist in T5 and are errors.
//
// KVCache (incremental decoding): keys/values hold the decoder self-attention (seeded by decoder_prefix);
// cross_keys/cross_values hold each layer's encoder keys/values (with cross_prefix) and encoder_mask their
// mask, computed on the first call. Once the cross keys are cached the encoder is not run again
// (encoder_last_hidden_state is then undefined). encoder_hidden_states skips the encoder as well.
//
// Outputs: logits of the decoder, last_hidden_state (decoder, after the final norm, before the head
// scaling), encoder_last_hidden_state, and with output_hidden_states the L+1 encoder and decoder hidden
// states (0 = embeddings, L = after the final norm, as in transformers).
#pragma once

#include "framework/models/backbone.h"
#include "framework/models/checkpoint.h"
#include "framework/models/hf_config.h"

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

namespace ptlab::models {

/// The fields of a T5 config.json the model uses.
struct T5Config {
  int64_t vocab_size = 0;
  int64_t d_model = 0;
  int64_t d_kv = 0;  ///< per-head width; num_heads * d_kv may differ from d_model
  int64_t d_ff = 0;
  int64_t num_layers = 0;          ///< encoder blocks
  int64_t num_decoder_layers = 0;  ///< defaults to num_layers
  int64_t num_heads = 0;
  int64_t relative_attention_num_buckets = 32;
  int64_t relative_attention_max_distance = 128;
  double layer_norm_epsilon = 1e-6;
  std::string dense_act_fn = "relu";  ///< from feed_forward_proj ("gated-gelu" -> gelu_new)
  bool is_gated_act = false;
  bool tie_word_embeddings = true;
  int64_t pad_token_id = 0, eos_token_id = 1, decoder_start_token_id = 0;
  std::string model_type = "t5";

  int64_t inner_dim() const { return num_heads * d_kv; }
  /// Reads and validates config.json (feed_forward_proj must be "ACT" or "gated-ACT").
  static T5Config from_hf(const HFConfig& config);
};

/// T5's relative position bucket of each (key - query) offset, as transformers computes it:
/// bidirectional (encoder) splits the buckets between negative and positive offsets; unidirectional
/// (decoder) maps future keys to bucket 0. Half the buckets (of a direction) are exact offsets, the rest
/// logarithmic up to max_distance. relative_position: int64 any shape -> int64 same shape.
at::Tensor t5_relative_position_bucket(const at::Tensor& relative_position, bool bidirectional, int64_t num_buckets,
                                       int64_t max_distance);

class T5Backbone final : public Backbone {
 public:
  /// Takes every tensor it needs from `weights` and registers it with its HF name.
  T5Backbone(const T5Config& config, Checkpoint& weights, const LoadOptions& options);

  const BackboneInfo& info() const override { return info_; }
  const T5Config& t5_config() const { return config_; }

  BackboneOutput forward(const BackboneInput& input, KVCache* cache = nullptr) override;
  at::Tensor word_embeddings() const override { return shared_; }
  at::Tensor embed(const at::Tensor& ids) const override;

  /// The position bias [1, H, T, P + T] of a stack (decoder = false: encoder) for T queries after a past
  /// of P keys (query positions P..P+T-1, key positions 0..P+T-1).
  at::Tensor position_bias(bool decoder, int64_t queries, int64_t past) const;

 private:
  struct Attention {
    at::Tensor q, k, v, o;  ///< q/k/v [inner, d], o [d, inner]
  };
  struct FeedForward {
    at::Tensor wi, wi_0, wi_1, wo;  ///< wi (plain) or wi_0 / wi_1 (gated) [d_ff, d]; wo [d, d_ff]
  };
  struct Block {
    at::Tensor self_norm;
    Attention self;
    at::Tensor cross_norm;  ///< decoder only
    Attention cross;        ///< decoder only
    at::Tensor ff_norm;
    FeedForward ff;
  };
  struct Encoded {
    at::Tensor hidden;  ///< [B, S, d] after the final norm
    at::Tensor mask;    ///< [B, S] int64
  };

  at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight) const;
  at::Tensor feed_forward(const FeedForward& ff, const at::Tensor& x) const;
  /// o(softmax(q(x) k^T + bias, masked by allowed) v) for precomputed keys/values [B, H, S, d_kv].
  at::Tensor attend(const Attention& a, const at::Tensor& x, const at::Tensor& k, const at::Tensor& v,
                    const at::Tensor& allowed, const at::Tensor& bias) const;
  Encoded encode(const BackboneInput& in, BackboneOutput& out) const;
  at::Tensor head(const at::Tensor& h, const LogitsRequest& request) const;

  T5Config config_;
  BackboneInfo info_;
  at::Tensor shared_;                       ///< [V, d]
  at::Tensor lm_head_;                      ///< [V, d]: shared_ when tied
  at::Tensor encoder_bias_, decoder_bias_;  ///< relative_attention_bias [num_buckets, H]
  std::vector<Block> encoder_, decoder_;
  at::Tensor encoder_final_norm_, decoder_final_norm_;
};

/// FamilyBuilder for model_type "t5" (see loader.h).
std::shared_ptr<Backbone> build_t5(const HFConfig& config, Checkpoint& weights, const LoadOptions& options);

}  // namespace ptlab::models
