#include "framework/models/llama.h"

#include "framework/core/error.h"
#include "framework/models/activation.h"

#include <cmath>

namespace ptlab::models {

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  at::Tensor h = x.to(at::kFloat);
  h = h * at::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + eps);  // [..., d]
  return weight * h.to(x.scalar_type());
}

LlamaBackbone::LlamaBackbone(const HFConfig& config, Checkpoint& weights, const LoadOptions& options) {
  const std::string type = config.get_string("model_type");
  info_.family = "llama";
  info_.model_type = type;
  info_.hidden_size = config.get_int("hidden_size");
  info_.num_layers = config.get_int("num_hidden_layers");
  info_.num_heads = config.get_int("num_attention_heads");
  info_.num_kv_heads = config.get_int("num_key_value_heads", info_.num_heads);
  info_.intermediate_size = config.get_int("intermediate_size");
  info_.vocab_size = config.get_int("vocab_size");
  PTLAB_CHECK(info_.hidden_size > 0 && info_.num_layers > 0 && info_.num_heads > 0 && info_.num_kv_heads > 0 &&
                  info_.vocab_size > 0 && info_.intermediate_size > 0,
              "config.json ({}): hidden_size, num_hidden_layers, num_attention_heads, num_key_value_heads, "
              "intermediate_size and vocab_size must be > 0",
              config.path());
  PTLAB_CHECK(config.has("head_dim") || info_.hidden_size % info_.num_heads == 0,
              "config.json ({}): hidden_size {} is not divisible by num_attention_heads {}", config.path(),
              info_.hidden_size, info_.num_heads);
  info_.head_dim = config.get_int("head_dim", info_.hidden_size / info_.num_heads);
  PTLAB_CHECK(info_.num_heads % info_.num_kv_heads == 0,
              "config.json ({}): num_attention_heads {} is not a multiple of num_key_value_heads {}", config.path(),
              info_.num_heads, info_.num_kv_heads);
  info_.max_positions = 0;  // RoPE
  info_.tied_embeddings = config.get_bool("tie_word_embeddings", false);
  info_.pad_token_id = config.get_token_id("pad_token_id");
  info_.bos_token_id = config.get_token_id("bos_token_id");
  info_.eos_token_id = config.get_token_id("eos_token_id");
  eps_ = config.get_double("rms_norm_eps", 1e-6);
  act_ = config.get_string("hidden_act", "silu");
  check_activation(act_, fmt::format("config.json ({}): field 'hidden_act'", config.path()));
  if (type == "mistral") sliding_window_ = config.get_int("sliding_window", 0);
  if (type == "qwen2" && config.get_bool("use_sliding_window", false)) sliding_window_ = config.get_int("sliding_window", 0);
  rope_ = std::make_unique<RotaryEmbedding>(RopeConfig::from_hf(config, info_.head_dim));

  const bool qkv_bias = type == "qwen2" || config.get_bool("attention_bias", false);
  const bool o_bias = type != "qwen2" && config.get_bool("attention_bias", false);
  const bool mlp_bias = config.get_bool("mlp_bias", false);
  const int64_t d = info_.hidden_size, q_dim = info_.num_heads * info_.head_dim,
                kv_dim = info_.num_kv_heads * info_.head_dim, ffn = info_.intermediate_size;
  auto take = [&](const std::string& name, at::IntArrayRef shape) {
    return register_hf_parameter(*this, name, weights.take(name, shape, options));
  };
  embed_tokens_ = take("model.embed_tokens.weight", {info_.vocab_size, d});
  for (int64_t l = 0; l < info_.num_layers; ++l) {
    const std::string p = fmt::format("model.layers.{}.", l);
    Layer w;
    w.input_norm = take(p + "input_layernorm.weight", {d});
    w.q = take(p + "self_attn.q_proj.weight", {q_dim, d});
    w.k = take(p + "self_attn.k_proj.weight", {kv_dim, d});
    w.v = take(p + "self_attn.v_proj.weight", {kv_dim, d});
    w.o = take(p + "self_attn.o_proj.weight", {d, q_dim});
    if (qkv_bias) {
      w.q_bias = take(p + "self_attn.q_proj.bias", {q_dim});
      w.k_bias = take(p + "self_attn.k_proj.bias", {kv_dim});
      w.v_bias = take(p + "self_attn.v_proj.bias", {kv_dim});
    }
    if (o_bias) w.o_bias = take(p + "self_attn.o_proj.bias", {d});
    w.post_norm = take(p + "post_attention_layernorm.weight", {d});
    w.gate = take(p + "mlp.gate_proj.weight", {ffn, d});
    w.up = take(p + "mlp.up_proj.weight", {ffn, d});
    w.down = take(p + "mlp.down_proj.weight", {d, ffn});
    if (mlp_bias) {
      w.gate_bias = take(p + "mlp.gate_proj.bias", {ffn});
      w.up_bias = take(p + "mlp.up_proj.bias", {ffn});
      w.down_bias = take(p + "mlp.down_proj.bias", {d});
    }
    layers_.push_back(std::move(w));
  }
  norm_ = take("model.norm.weight", {d});
  if (!info_.tied_embeddings) {
    lm_head_ = take("lm_head.weight", {info_.vocab_size, d});
  } else {
    weights.ignore("lm_head.weight");  // some tied checkpoints still store the copy
  }
  weights.ignore_suffix(".rotary_emb.inv_freq");
  count_parameters_into_info(embed_tokens_.numel() + (lm_head_.defined() ? lm_head_.numel() : 0));
}

at::Tensor LlamaBackbone::embed_tokens(const at::Tensor& ids) const {
  return at::embedding(embed_tokens_, ids);  // [B, T, d]
}

at::Tensor LlamaBackbone::begin(const at::Tensor& x, DecoderStep& step) {
  std::tie(step.cos, step.sin) = rope_->cos_sin(step.position_ids, x.scalar_type());  // [B, 1, T, d_head]
  return x;
}

at::Tensor LlamaBackbone::layer(int64_t index, const at::Tensor& x, DecoderStep& step) {
  const Layer& w = layers_[index];
  const int64_t batch = x.size(0), len = x.size(1), hd = info_.head_dim;
  at::Tensor h = rms_norm(x, w.input_norm, eps_);  // [B, T, d]
  // q: [B, T, H * D] -> [B, H, T, D]; k, v: [B, H_kv, T, D]
  at::Tensor q = at::linear(h, w.q, w.q_bias).view({batch, len, info_.num_heads, hd}).transpose(1, 2);
  at::Tensor k = at::linear(h, w.k, w.k_bias).view({batch, len, info_.num_kv_heads, hd}).transpose(1, 2);
  at::Tensor v = at::linear(h, w.v, w.v_bias).view({batch, len, info_.num_kv_heads, hd}).transpose(1, 2);
  q = apply_rotary(q, step.cos, step.sin);
  k = apply_rotary(k, step.cos, step.sin);
  auto [keys, values] = step.past->append(index, k, v);  // [B, H_kv, S, D]
  at::Tensor attn = scaled_attention(q, keys, values, step.allowed, 1.0 / std::sqrt(static_cast<double>(hd)));
  attn = attn.transpose(1, 2).reshape({batch, len, info_.num_heads * hd});  // [B, T, H * D]
  at::Tensor out = x + at::linear(attn, w.o, w.o_bias);                     // [B, T, d]
  h = rms_norm(out, w.post_norm, eps_);
  at::Tensor mlp = apply_activation(act_, at::linear(h, w.gate, w.gate_bias)) * at::linear(h, w.up, w.up_bias);
  return out + at::linear(mlp, w.down, w.down_bias);  // [B, T, d]
}

at::Tensor LlamaBackbone::final_norm(const at::Tensor& x) { return rms_norm(x, norm_, eps_); }

std::shared_ptr<Backbone> build_llama(const HFConfig& config, Checkpoint& weights, const LoadOptions& options) {
  return std::make_shared<LlamaBackbone>(config, weights, options);
}

}  // namespace ptlab::models
