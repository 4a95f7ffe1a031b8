#include "framework/models/gpt2.h"

#include "framework/core/error.h"
#include "framework/models/activation.h"

#include <cmath>

namespace ptlab::models {

at::Tensor conv1d(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  auto out_shape = x.sizes().vec();
  out_shape.back() = weight.size(1);
  // addmm(b, x2d [N, in], W [in, out]) -> [N, out], as transformers computes it.
  return at::addmm(bias, x.reshape({-1, x.size(-1)}), weight).view(out_shape);
}

Gpt2Backbone::Gpt2Backbone(const HFConfig& config, Checkpoint& weights, const LoadOptions& options) {
  info_.family = "gpt2";
  info_.model_type = config.get_string("model_type");
  info_.hidden_size = config.get_int_any({"n_embd", "hidden_size"});
  info_.num_layers = config.get_int_any({"n_layer", "num_hidden_layers"});
  info_.num_heads = config.get_int_any({"n_head", "num_attention_heads"});
  info_.num_kv_heads = info_.num_heads;
  info_.vocab_size = config.get_int("vocab_size");
  info_.max_positions = config.get_int_any({"n_positions", "max_position_embeddings"});
  PTLAB_CHECK(info_.hidden_size > 0 && info_.num_layers > 0 && info_.num_heads > 0 && info_.vocab_size > 0 &&
                  info_.max_positions > 0,
              "config.json ({}): n_embd, n_layer, n_head, vocab_size and n_positions must be > 0", config.path());
  PTLAB_CHECK(info_.hidden_size % info_.num_heads == 0, "config.json ({}): n_embd {} is not divisible by n_head {}",
              config.path(), info_.hidden_size, info_.num_heads);
  info_.head_dim = info_.hidden_size / info_.num_heads;
  info_.intermediate_size = config.get_int("n_inner", 4 * info_.hidden_size);
  info_.tied_embeddings = config.get_bool("tie_word_embeddings", true);
  info_.pad_token_id = config.get_token_id("pad_token_id");
  info_.bos_token_id = config.get_token_id("bos_token_id");
  info_.eos_token_id = config.get_token_id("eos_token_id");
  eps_ = config.get_double("layer_norm_epsilon", 1e-5);
  act_ = config.get_string("activation_function", "gelu_new");
  check_activation(act_, fmt::format("config.json ({}): field 'activation_function'", config.path()));
  scale_weights_ = config.get_bool("scale_attn_weights", true);
  scale_by_layer_ = config.get_bool("scale_attn_by_inverse_layer_idx", false);

  const std::string root = weights.contains("transformer.wte.weight") || !weights.contains("wte.weight") ? "transformer." : "";
  const int64_t d = info_.hidden_size, inner = info_.intermediate_size;
  auto take = [&](const std::string& name, at::IntArrayRef shape) {
    return register_hf_parameter(*this, name, weights.take(name, shape, options));
  };
  wte_ = take(root + "wte.weight", {info_.vocab_size, d});
  wpe_ = take(root + "wpe.weight", {info_.max_positions, d});
  for (int64_t l = 0; l < info_.num_layers; ++l) {
    const std::string p = fmt::format("{}h.{}.", root, l);
    Layer w;
    w.ln1_w = take(p + "ln_1.weight", {d});
    w.ln1_b = take(p + "ln_1.bias", {d});
    w.attn_w = take(p + "attn.c_attn.weight", {d, 3 * d});  // Conv1D: [in, out]
    w.attn_b = take(p + "attn.c_attn.bias", {3 * d});
    w.proj_w = take(p + "attn.c_proj.weight", {d, d});
    w.proj_b = take(p + "attn.c_proj.bias", {d});
    w.ln2_w = take(p + "ln_2.weight", {d});
    w.ln2_b = take(p + "ln_2.bias", {d});
    w.fc_w = take(p + "mlp.c_fc.weight", {d, inner});
    w.fc_b = take(p + "mlp.c_fc.bias", {inner});
    w.out_w = take(p + "mlp.c_proj.weight", {inner, d});
    w.out_b = take(p + "mlp.c_proj.bias", {d});
    layers_.push_back(std::move(w));
  }
  lnf_w_ = take(root + "ln_f.weight", {d});
  lnf_b_ = take(root + "ln_f.bias", {d});
  if (!info_.tied_embeddings) {
    lm_head_ = take("lm_head.weight", {info_.vocab_size, d});
  } else {
    weights.ignore("lm_head.weight");
  }
  weights.ignore_suffix(".attn.bias");  // causal-mask buffers of older checkpoints
  weights.ignore_suffix(".attn.masked_bias");
  count_parameters_into_info(wte_.numel() + wpe_.numel() + (lm_head_.defined() ? lm_head_.numel() : 0));
}

at::Tensor Gpt2Backbone::embed_tokens(const at::Tensor& ids) const {
  return at::embedding(wte_, ids);  // [B, T, d]
}

at::Tensor Gpt2Backbone::begin(const at::Tensor& x, DecoderStep& step) {
  const auto& pos = step.position_ids;  // [B, T]
  const int64_t lo = pos.min().item<int64_t>(), hi = pos.max().item<int64_t>();
  PTLAB_CHECK(lo >= 0 && hi < info_.max_positions,
              "gpt2: positions {}..{} exceed the learned position table (n_positions = {}); shorten the input, "
              "prompt or prefix",
              lo, hi, info_.max_positions);
  return x + at::embedding(wpe_, pos);  // [B, T, d]
}

at::Tensor Gpt2Backbone::layer(int64_t index, const at::Tensor& x, DecoderStep& step) {
  const Layer& w = layers_[index];
  const int64_t batch = x.size(0), len = x.size(1), d = info_.hidden_size, hd = info_.head_dim;
  at::Tensor h = at::layer_norm(x, {d}, w.ln1_w, w.ln1_b, eps_);
  at::Tensor qkv = conv1d(h, w.attn_w, w.attn_b);  // [B, T, 3d]
  auto heads = [&](int64_t i) {                   // [B, T, d] slice -> [B, H, T, D]
    return qkv.narrow(-1, i * d, d).view({batch, len, info_.num_heads, hd}).transpose(1, 2);
  };
  auto [keys, values] = step.past->append(index, heads(1), heads(2));
  double scale = scale_weights_ ? 1.0 / std::sqrt(static_cast<double>(hd)) : 1.0;
  if (scale_by_layer_) scale /= static_cast<double>(index + 1);
  at::Tensor attn = scaled_attention(heads(0), keys, values, step.allowed, scale);  // [B, H, T, D]
  attn = attn.transpose(1, 2).reshape({batch, len, d});
  at::Tensor out = x + conv1d(attn, w.proj_w, w.proj_b);  // [B, T, d]
  h = at::layer_norm(out, {d}, w.ln2_w, w.ln2_b, eps_);
  return out + conv1d(apply_activation(act_, conv1d(h, w.fc_w, w.fc_b)), w.out_w, w.out_b);
}

at::Tensor Gpt2Backbone::final_norm(const at::Tensor& x) {
  return at::layer_norm(x, {info_.hidden_size}, lnf_w_, lnf_b_, eps_);
}

std::shared_ptr<Backbone> build_gpt2(const HFConfig& config, Checkpoint& weights, const LoadOptions& options) {
  return std::make_shared<Gpt2Backbone>(config, weights, options);
}

}  // namespace ptlab::models
