#include "framework/models/gpt_neox.h"

#include "framework/core/error.h"
#include "framework/models/activation.h"

#include <cmath>

namespace ptlab::models {

GptNeoXBackbone::GptNeoXBackbone(const HFConfig& config, Checkpoint& weights, const LoadOptions& options) {
  info_.family = "gpt_neox";
  info_.model_type = config.get_string("model_type");
  info_.hidden_size = config.get_int("hidden_size");
  info_.num_layers = config.get_int("num_hidden_layers");
  info_.num_heads = config.get_int("num_attention_heads");
  info_.num_kv_heads = info_.num_heads;
  info_.intermediate_size = config.get_int("intermediate_size");
  info_.vocab_size = config.get_int("vocab_size");
  PTLAB_CHECK(info_.hidden_size > 0 && info_.num_layers > 0 && info_.num_heads > 0 && info_.vocab_size > 0 &&
                  info_.intermediate_size > 0,
              "config.json ({}): hidden_size, num_hidden_layers, num_attention_heads, intermediate_size and "
              "vocab_size must be > 0",
              config.path());
  PTLAB_CHECK(info_.hidden_size % info_.num_heads == 0,
              "config.json ({}): hidden_size {} is not divisible by num_attention_heads {}", config.path(),
              info_.hidden_size, info_.num_heads);
  info_.head_dim = info_.hidden_size / info_.num_heads;
  info_.max_positions = 0;  // RoPE
  info_.tied_embeddings = config.get_bool("tie_word_embeddings", false);
  info_.pad_token_id = config.get_token_id("pad_token_id");
  info_.bos_token_id = config.get_token_id("bos_token_id");
  info_.eos_token_id = config.get_token_id("eos_token_id");
  eps_ = config.get_double("layer_norm_eps", 1e-5);
  act_ = config.get_string("hidden_act", "gelu");
  check_activation(act_, fmt::format("config.json ({}): field 'hidden_act'", config.path()));
  parallel_residual_ = config.get_bool("use_parallel_residual", true);
  const double rotary_pct = config.get_double("rotary_pct", 0.25);
  PTLAB_CHECK(rotary_pct > 0 && rotary_pct <= 1, "config.json ({}): rotary_pct must be in (0, 1], got {}",
              config.path(), rotary_pct);
  const auto rotary_dim = static_cast<int64_t>(static_cast<double>(info_.head_dim) * rotary_pct);
  rope_ = std::make_unique<RotaryEmbedding>(RopeConfig::from_hf(config, rotary_dim, "rotary_emb_base"));

  const bool bias = config.get_bool("attention_bias", true);
  const int64_t d = info_.hidden_size, ffn = info_.intermediate_size;
  auto take = [&](const std::string& name, at::IntArrayRef shape) {
    return register_hf_parameter(*this, name, weights.take(name, shape, options));
  };
  embed_in_ = take("gpt_neox.embed_in.weight", {info_.vocab_size, d});
  for (int64_t l = 0; l < info_.num_layers; ++l) {
    const std::string p = fmt::format("gpt_neox.layers.{}.", l);
    Layer w;
    w.ln1_w = take(p + "input_layernorm.weight", {d});
    w.ln1_b = take(p + "input_layernorm.bias", {d});
    w.qkv_w = take(p + "attention.query_key_value.weight", {3 * d, d});
    w.dense_w = take(p + "attention.dense.weight", {d, d});
    if (bias) {
      w.qkv_b = take(p + "attention.query_key_value.bias", {3 * d});
      w.dense_b = take(p + "attention.dense.bias", {d});
    }
    w.ln2_w = take(p + "post_attention_layernorm.weight", {d});
    w.ln2_b = take(p + "post_attention_layernorm.bias", {d});
    w.up_w = take(p + "mlp.dense_h_to_4h.weight", {ffn, d});
    w.up_b = take(p + "mlp.dense_h_to_4h.bias", {ffn});
    w.down_w = take(p + "mlp.dense_4h_to_h.weight", {d, ffn});
    w.down_b = take(p + "mlp.dense_4h_to_h.bias", {d});
    layers_.push_back(std::move(w));
  }
  final_w_ = take("gpt_neox.final_layer_norm.weight", {d});
  final_b_ = take("gpt_neox.final_layer_norm.bias", {d});
  if (!info_.tied_embeddings) {
    embed_out_ = take("embed_out.weight", {info_.vocab_size, d});
  } else {
    weights.ignore("embed_out.weight");
  }
  weights.ignore_suffix(".attention.bias");
  weights.ignore_suffix(".attention.masked_bias");
  weights.ignore_suffix(".rotary_emb.inv_freq");
  count_parameters_into_info(embed_in_.numel() + (embed_out_.defined() ? embed_out_.numel() : 0));
}

at::Tensor GptNeoXBackbone::embed_tokens(const at::Tensor& ids) const {
  return at::embedding(embed_in_, ids);  // [B, T, d]
}

at::Tensor GptNeoXBackbone::begin(const at::Tensor& x, DecoderStep& step) {
  std::tie(step.cos, step.sin) = rope_->cos_sin(step.position_ids, x.scalar_type());  // [B, 1, T, rotary_dim]
  return x;
}

at::Tensor GptNeoXBackbone::layer(int64_t index, const at::Tensor& x, DecoderStep& step) {
  const Layer& w = layers_[index];
  const int64_t batch = x.size(0), len = x.size(1), d = info_.hidden_size, hd = info_.head_dim;
  at::Tensor h = at::layer_norm(x, {d}, w.ln1_w, w.ln1_b, eps_);
  // qkv: [B, T, 3d] -> [B, T, H, 3D] (per head: q, k, v) -> each [B, H, T, D]
  at::Tensor qkv = at::linear(h, w.qkv_w, w.qkv_b).view({batch, len, info_.num_heads, 3 * hd});
  at::Tensor q = qkv.narrow(-1, 0, hd).permute({0, 2, 1, 3});
  at::Tensor k = qkv.narrow(-1, hd, hd).permute({0, 2, 1, 3});
  at::Tensor v = qkv.narrow(-1, 2 * hd, hd).permute({0, 2, 1, 3});
  q = apply_rotary(q, step.cos, step.sin);
  k = apply_rotary(k, step.cos, step.sin);
  auto [keys, values] = step.past->append(index, k, v);
  at::Tensor attn = scaled_attention(q, keys, values, step.allowed, 1.0 / std::sqrt(static_cast<double>(hd)));
  attn = attn.transpose(1, 2).reshape({batch, len, d});  // [B, T, d]
  at::Tensor attn_out = at::linear(attn, w.dense_w, w.dense_b);
  auto mlp = [&](const at::Tensor& in) {
    at::Tensor n = at::layer_norm(in, {d}, w.ln2_w, w.ln2_b, eps_);
    return at::linear(apply_activation(act_, at::linear(n, w.up_w, w.up_b)), w.down_w, w.down_b);
  };
  if (parallel_residual_) return mlp(x) + attn_out + x;  // [B, T, d]
  at::Tensor mid = attn_out + x;
  return mlp(mid) + mid;
}

at::Tensor GptNeoXBackbone::final_norm(const at::Tensor& x) {
  return at::layer_norm(x, {info_.hidden_size}, final_w_, final_b_, eps_);
}

std::shared_ptr<Backbone> build_gpt_neox(const HFConfig& config, Checkpoint& weights, const LoadOptions& options) {
  return std::make_shared<GptNeoXBackbone>(config, weights, options);
}

}  // namespace ptlab::models
