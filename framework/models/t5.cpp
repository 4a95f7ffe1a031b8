#include "framework/models/t5.h"

#include "framework/core/error.h"
#include "framework/models/activation.h"
#include "framework/models/attention.h"
#include "framework/models/backbone_inputs.h"
#include "framework/models/lm_head.h"

#include <cmath>

namespace ptlab::models {

T5Config T5Config::from_hf(const HFConfig& hf) {
  T5Config c;
  c.model_type = hf.get_string("model_type");
  c.vocab_size = hf.get_int("vocab_size");
  c.d_model = hf.get_int("d_model");
  c.d_kv = hf.get_int("d_kv");
  c.d_ff = hf.get_int("d_ff");
  c.num_layers = hf.get_int("num_layers");
  c.num_decoder_layers = hf.get_int("num_decoder_layers", c.num_layers);
  c.num_heads = hf.get_int("num_heads");
  c.relative_attention_num_buckets = hf.get_int("relative_attention_num_buckets", 32);
  c.relative_attention_max_distance = hf.get_int("relative_attention_max_distance", 128);
  c.layer_norm_epsilon = hf.get_double("layer_norm_epsilon", 1e-6);
  c.tie_word_embeddings = hf.get_bool("tie_word_embeddings", true);
  c.pad_token_id = hf.get_int("pad_token_id", 0);
  c.eos_token_id = hf.get_token_id("eos_token_id");
  c.decoder_start_token_id = hf.get_token_id("decoder_start_token_id");
  if (c.decoder_start_token_id < 0) c.decoder_start_token_id = c.pad_token_id;

  for (auto [name, value] : {std::pair{"vocab_size", c.vocab_size},
                             {"d_model", c.d_model},
                             {"d_kv", c.d_kv},
                             {"d_ff", c.d_ff},
                             {"num_layers", c.num_layers},
                             {"num_decoder_layers", c.num_decoder_layers},
                             {"num_heads", c.num_heads},
                             {"relative_attention_num_buckets", c.relative_attention_num_buckets},
                             {"relative_attention_max_distance", c.relative_attention_max_distance}}) {
    PTLAB_CHECK(value > 0, "config.json ({}): field '{}' must be positive, got {}", hf.path(), name, value);
  }
  PTLAB_CHECK(c.relative_attention_num_buckets >= 4,
              "config.json ({}): relative_attention_num_buckets {} is too small (at least 4: exact and logarithmic "
              "buckets per direction)",
              hf.path(), c.relative_attention_num_buckets);

  // transformers' T5Config: "ACT" or "gated-ACT"; "gated-gelu" means gelu_new for backward compatibility.
  // Explicit dense_act_fn / is_gated_act fields in config.json override, as they do in transformers.
  const auto proj = hf.get_string("feed_forward_proj", "relu");
  const auto dash = proj.find('-');
  const bool well_formed =
      dash == std::string::npos || (proj.substr(0, dash) == "gated" && proj.find('-', dash + 1) == std::string::npos);
  PTLAB_CHECK(well_formed,
              "config.json ({}): feed_forward_proj '{}' must be an activation ('relu', 'gelu', ...) or 'gated-' "
              "followed by one ('gated-gelu')",
              hf.path(), proj);
  c.is_gated_act = dash != std::string::npos;
  c.dense_act_fn = c.is_gated_act ? proj.substr(dash + 1) : proj;
  if (proj == "gated-gelu") c.dense_act_fn = "gelu_new";
  c.dense_act_fn = hf.get_string("dense_act_fn", c.dense_act_fn);
  c.is_gated_act = hf.get_bool("is_gated_act", c.is_gated_act);
  check_activation(c.dense_act_fn, fmt::format("config.json ({}): feed_forward_proj / dense_act_fn", hf.path()));
  return c;
}

at::Tensor t5_relative_position_bucket(const at::Tensor& relative_position, bool bidirectional, int64_t num_buckets,
                                       int64_t max_distance) {
  at::Tensor buckets = at::zeros_like(relative_position);
  at::Tensor distance = relative_position;
  if (bidirectional) {
    num_buckets /= 2;
    buckets = buckets + relative_position.gt(0).to(at::kLong) * num_buckets;  // keys after the query
    distance = relative_position.abs();
  } else {
    distance = -at::clamp_max(relative_position, 0);  // future keys -> 0
  }
  const int64_t max_exact = num_buckets / 2;
  auto is_small = distance.lt(max_exact);
  // The same float32 operations as transformers, so that boundary offsets land in the same bucket.
  auto if_large = max_exact + (at::log(distance.to(at::kFloat) / max_exact) /
                               std::log(static_cast<double>(max_distance) / static_cast<double>(max_exact)) *
                               (num_buckets - max_exact))
                                  .to(at::kLong);
  if_large = at::clamp_max(if_large, num_buckets - 1);
  return buckets + at::where(is_small, distance, if_large);
}

namespace {

// [B, T, H * d_kv] -> [B, H, T, d_kv] and back.
at::Tensor split_heads(const at::Tensor& x, int64_t heads) {
  return x.view({x.size(0), x.size(1), heads, x.size(2) / heads}).permute({0, 2, 1, 3});
}
at::Tensor merge_heads(const at::Tensor& x) {
  return x.permute({0, 2, 1, 3}).contiguous().view({x.size(0), x.size(2), x.size(1) * x.size(3)});
}

}  // namespace

// ---- loading ------------------------------------------------------------------------------------

T5Backbone::T5Backbone(const T5Config& config, Checkpoint& w, const LoadOptions& opt) : config_(config) {
  const auto& c = config_;
  const int64_t d = c.d_model, inner = c.inner_dim(), V = c.vocab_size, ff = c.d_ff;
  auto take = [&](const std::string& name, at::IntArrayRef shape) {
    return register_hf_parameter(*this, name, w.take(name, shape, opt));
  };

  // The shared embedding; some checkpoints carry it (also) as encoder/decoder.embed_tokens.
  const bool only_copies = !w.contains("shared.weight") && w.contains("encoder.embed_tokens.weight");
  const std::string shared_name = only_copies ? "encoder.embed_tokens.weight" : "shared.weight";
  shared_ = register_hf_parameter(*this, "shared.weight", w.take(shared_name, {V, d}, opt));
  for (const char* copy : {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight"}) {
    if (copy != shared_name && w.contains(copy)) w.ignore(copy);
  }

  auto take_attention = [&](const std::string& p) {
    return Attention{take(p + ".q.weight", {inner, d}), take(p + ".k.weight", {inner, d}),
                     take(p + ".v.weight", {inner, d}), take(p + ".o.weight", {d, inner})};
  };
  auto take_ff = [&](const std::string& p) {
    FeedForward f;
    if (c.is_gated_act) {
      f.wi_0 = take(p + ".wi_0.weight", {ff, d});
      f.wi_1 = take(p + ".wi_1.weight", {ff, d});
    } else {
      f.wi = take(p + ".wi.weight", {ff, d});
    }
    f.wo = take(p + ".wo.weight", {d, ff});
    return f;
  };
  const int64_t buckets = c.relative_attention_num_buckets;
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = fmt::format("encoder.block.{}.layer.", i);
    Block b;
    b.self = take_attention(p + "0.SelfAttention");
    if (i == 0) encoder_bias_ = take(p + "0.SelfAttention.relative_attention_bias.weight", {buckets, c.num_heads});
    b.self_norm = take(p + "0.layer_norm.weight", {d});
    b.ff = take_ff(p + "1.DenseReluDense");
    b.ff_norm = take(p + "1.layer_norm.weight", {d});
    encoder_.push_back(std::move(b));
  }
  encoder_final_norm_ = take("encoder.final_layer_norm.weight", {d});
  for (int64_t i = 0; i < c.num_decoder_layers; ++i) {
    const std::string p = fmt::format("decoder.block.{}.layer.", i);
    Block b;
    b.self = take_attention(p + "0.SelfAttention");
    if (i == 0) decoder_bias_ = take(p + "0.SelfAttention.relative_attention_bias.weight", {buckets, c.num_heads});
    b.self_norm = take(p + "0.layer_norm.weight", {d});
    b.cross = take_attention(p + "1.EncDecAttention");
    b.cross_norm = take(p + "1.layer_norm.weight", {d});
    b.ff = take_ff(p + "2.DenseReluDense");
    b.ff_norm = take(p + "2.layer_norm.weight", {d});
    decoder_.push_back(std::move(b));
  }
  decoder_final_norm_ = take("decoder.final_layer_norm.weight", {d});
  if (c.tie_word_embeddings) {
    lm_head_ = shared_;
    if (w.contains("lm_head.weight")) w.ignore("lm_head.weight");  // a saved copy of the tied embedding
  } else {
    lm_head_ = take("lm_head.weight", {V, d});
  }

  info_.family = "t5";
  info_.model_type = c.model_type;
  info_.num_layers = c.num_layers;
  info_.num_decoder_layers = c.num_decoder_layers;
  info_.hidden_size = d;
  info_.num_heads = c.num_heads;
  info_.num_kv_heads = c.num_heads;
  info_.head_dim = c.d_kv;
  info_.intermediate_size = ff;
  info_.vocab_size = V;
  info_.max_positions = 0;
  info_.is_encoder_decoder = true;
  info_.is_causal = true;
  info_.tied_embeddings = c.tie_word_embeddings;
  info_.num_parameters = count_parameters(*this);
  info_.num_embedding_parameters =
      shared_.numel() + encoder_bias_.numel() + decoder_bias_.numel() + (c.tie_word_embeddings ? 0 : lm_head_.numel());
  info_.pad_token_id = c.pad_token_id;
  info_.eos_token_id = c.eos_token_id;
  info_.decoder_start_token_id = c.decoder_start_token_id;
}

std::shared_ptr<Backbone> build_t5(const HFConfig& config, Checkpoint& weights, const LoadOptions& options) {
  return std::make_shared<T5Backbone>(T5Config::from_hf(config), weights, options);
}

// ---- forward ------------------------------------------------------------------------------------

at::Tensor T5Backbone::embed(const at::Tensor& ids) const {
  check_token_ids(ids, config_.vocab_size, "T5 token ids");
  return at::embedding(shared_, ids);  // [B, T, d]
}

at::Tensor T5Backbone::rms_norm(const at::Tensor& x, const at::Tensor& weight) const {
  // transformers' T5LayerNorm: variance in fp32, result cast back to a half/bf16 weight's dtype.
  auto variance = x.to(at::kFloat).pow(2).mean(-1, /*keepdim=*/true);  // [..., 1]
  auto y = x * at::rsqrt(variance + config_.layer_norm_epsilon);
  if (weight.scalar_type() == at::kHalf || weight.scalar_type() == at::kBFloat16) y = y.to(weight.scalar_type());
  return weight * y;
}

at::Tensor T5Backbone::feed_forward(const FeedForward& f, const at::Tensor& x) const {
  if (config_.is_gated_act) {
    auto gate = apply_activation(config_.dense_act_fn, at::linear(x, f.wi_0));  // [B, T, d_ff]
    return at::linear(gate * at::linear(x, f.wi_1), f.wo);                      // [B, T, d]
  }
  return at::linear(apply_activation(config_.dense_act_fn, at::linear(x, f.wi)), f.wo);  // [B, T, d]
}

at::Tensor T5Backbone::attend(const Attention& a, const at::Tensor& x, const at::Tensor& k, const at::Tensor& v,
                              const at::Tensor& allowed, const at::Tensor& bias) const {
  auto q = split_heads(at::linear(x, a.q), config_.num_heads);         // [B, H, T, d_kv]
  auto ctx = scaled_attention(q, k, v, allowed, /*scale=*/1.0, bias);  // [B, H, T, d_kv]: no 1/sqrt(d) in T5
  return at::linear(merge_heads(ctx), a.o);                            // [B, T, d]
}

at::Tensor T5Backbone::position_bias(bool decoder, int64_t queries, int64_t past) const {
  auto opts = at::TensorOptions().dtype(at::kLong).device(shared_.device());
  auto context = at::arange(past, past + queries, opts).unsqueeze(1);  // [T, 1]
  auto memory = at::arange(0, past + queries, opts).unsqueeze(0);      // [1, P + T]
  auto buckets =
      t5_relative_position_bucket(memory - context, /*bidirectional=*/!decoder, config_.relative_attention_num_buckets,
                                  config_.relative_attention_max_distance);       // [T, P + T]
  auto values = at::embedding(decoder ? decoder_bias_ : encoder_bias_, buckets);  // [T, P + T, H]
  return values.permute({2, 0, 1}).unsqueeze(0);                                  // [1, H, T, P + T]
}

T5Backbone::Encoded T5Backbone::encode(const BackboneInput& in, BackboneOutput& out) const {
  const auto& c = config_;
  PTLAB_CHECK(in.input_ids.defined() != in.inputs_embeds.defined(),
              "T5 forward: give exactly one of input_ids [B, T] and inputs_embeds [B, T, d] for the encoder (or "
              "encoder_hidden_states to skip it)");
  const auto dtype = shared_.scalar_type();
  const auto device = shared_.device();
  at::Tensor h = in.inputs_embeds.defined()
                     ? check_inputs_embeds(in.inputs_embeds, c.d_model, dtype, device, "T5 inputs_embeds")
                     : embed(in.input_ids);  // [B, T, d]
  const int64_t B = h.size(0), T = h.size(1);
  AttentionPast past(in.prefix, nullptr, c.num_layers, B, c.num_heads, c.d_kv, dtype, device, "T5 prefix");
  const int64_t P = past.length();
  auto key_mask = full_key_mask(past, in.attention_mask, B, T, "T5 attention_mask");  // [B, P + T]
  auto allowed = attention_allowed(key_mask, T, /*causal=*/false);                    // [B, 1, T, P + T]
  auto bias = position_bias(/*decoder=*/false, T, P);                                 // [1, H, T, P + T]

  if (in.output_hidden_states) out.encoder_hidden_states.push_back(h);
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const Block& b = encoder_[l];
    auto x = rms_norm(h, b.self_norm);
    auto [k, v] = past.append(l, split_heads(at::linear(x, b.self.k), c.num_heads),
                              split_heads(at::linear(x, b.self.v), c.num_heads));  // [B, H, P + T, d_kv]
    h = h + attend(b.self, x, k, v, allowed, bias);
    h = h + feed_forward(b.ff, rms_norm(h, b.ff_norm));
    if (in.output_hidden_states && l + 1 < c.num_layers) out.encoder_hidden_states.push_back(h);
  }
  h = rms_norm(h, encoder_final_norm_);  // [B, T, d]
  if (in.output_hidden_states) out.encoder_hidden_states.push_back(h);
  out.encoder_last_hidden_state = h;
  return {h, key_mask.slice(1, P, P + T)};
}

at::Tensor T5Backbone::head(const at::Tensor& h, const LogitsRequest& request) const {
  // v1.0 (tied) rescales the decoder output by d_model^-0.5 before the shared embedding; v1.1 does not.
  at::Tensor x = config_.tie_word_embeddings ? h * std::pow(static_cast<double>(config_.d_model), -0.5) : h;
  return compute_logits(x, lm_head_, request);  // [B, T or K, V or V']
}

BackboneOutput T5Backbone::forward(const BackboneInput& in, KVCache* cache) {
  const auto& c = config_;
  const int64_t H = c.num_heads;
  const auto dtype = shared_.scalar_type();
  const auto device = shared_.device();
  PTLAB_CHECK(!in.position_ids.defined(),
              "T5 forward: position_ids is not supported (T5 uses relative position buckets)");
  PTLAB_CHECK(!in.token_type_ids.defined(), "T5 forward: token_type_ids is not supported (T5 has no token types)");
  BackboneOutput out;

  // Decoder inputs.
  PTLAB_CHECK(in.decoder_input_ids.defined() != in.decoder_inputs_embeds.defined(),
              "T5 forward: give exactly one of decoder_input_ids [B, T_dec] and decoder_inputs_embeds [B, T_dec, d] "
              "(decoder_input_ids start with decoder_start_token_id {})",
              c.decoder_start_token_id);
  at::Tensor h = in.decoder_inputs_embeds.defined() ? check_inputs_embeds(in.decoder_inputs_embeds, c.d_model, dtype,
                                                                          device, "T5 decoder_inputs_embeds")
                                                    : embed(in.decoder_input_ids);  // [B, T, d]
  const int64_t B = h.size(0), T = h.size(1);

  // Cross-attention keys/values: from the cache, or from the encoder output (run here or given).
  std::vector<at::Tensor> cross_k, cross_v;
  at::Tensor cross_mask;  // [B, P_cross + S]
  if (cache != nullptr && !cache->cross_keys.empty()) {
    PTLAB_CHECK(static_cast<int64_t>(cache->cross_keys.size()) == c.num_decoder_layers &&
                    cache->cross_values.size() == cache->cross_keys.size() && cache->encoder_mask.defined() &&
                    cache->encoder_mask.dim() == 2 && cache->encoder_mask.size(0) == B,
                "T5 KV cache: expected cross keys/values of {} layers and an encoder mask of batch {}",
                c.num_decoder_layers, B);
    cross_k = cache->cross_keys;
    cross_v = cache->cross_values;
    cross_mask = cache->encoder_mask;
  } else {
    Encoded enc;
    if (in.encoder_hidden_states.defined()) {
      enc.hidden = check_inputs_embeds(in.encoder_hidden_states, c.d_model, dtype, device, "T5 encoder_hidden_states");
      AttentionPast none({}, nullptr, c.num_layers, enc.hidden.size(0), H, c.d_kv, dtype, device);
      enc.mask = full_key_mask(none, in.attention_mask, enc.hidden.size(0), enc.hidden.size(1),
                               "T5 attention_mask (of encoder_hidden_states)");  // [B, S]
    } else {
      enc = encode(in, out);
    }
    PTLAB_CHECK(enc.hidden.size(0) == B, "T5 forward: the encoder batch ({}) differs from the decoder batch ({})",
                enc.hidden.size(0), B);
    // The cross prefix is a past of every cross-attention: validated like a self-attention prefix.
    AttentionPast cross_past(in.cross_prefix, nullptr, c.num_decoder_layers, B, H, c.d_kv, dtype, device,
                             "T5 cross_prefix");
    cross_mask = cross_past.key_mask(enc.mask, B, enc.hidden.size(1));  // [B, Pc + S]
    for (int64_t l = 0; l < c.num_decoder_layers; ++l) {
      auto [k, v] =
          cross_past.append(l, split_heads(at::linear(enc.hidden, decoder_[l].cross.k), H),
                            split_heads(at::linear(enc.hidden, decoder_[l].cross.v), H));  // [B, H, Pc + S, d_kv]
      cross_k.push_back(k);
      cross_v.push_back(v);
    }
    if (cache != nullptr) {
      cache->cross_keys = cross_k;
      cache->cross_values = cross_v;
      cache->encoder_mask = cross_mask;
    }
  }

  // Decoder self-attention: past (prefix or cache), causal mask, relative position bias.
  AttentionPast past(in.decoder_prefix, cache, c.num_decoder_layers, B, H, c.d_kv, dtype, device, "T5 decoder_prefix");
  const int64_t P = past.length();
  auto key_mask = full_key_mask(past, in.decoder_attention_mask, B, T, "T5 decoder_attention_mask");  // [B, P + T]
  auto self_allowed = attention_allowed(key_mask, T, /*causal=*/true);      // [B, 1, T, P + T]
  auto self_bias = position_bias(/*decoder=*/true, T, P);                   // [1, H, T, P + T]
  auto cross_allowed = attention_allowed(cross_mask, T, /*causal=*/false);  // [B, 1, T, Pc + S]

  if (in.output_hidden_states) out.hidden_states.push_back(h);
  for (int64_t l = 0; l < c.num_decoder_layers; ++l) {
    const Block& b = decoder_[l];
    auto x = rms_norm(h, b.self_norm);
    auto [k, v] = past.append(l, split_heads(at::linear(x, b.self.k), H),
                              split_heads(at::linear(x, b.self.v), H));  // [B, H, P + T, d_kv]
    h = h + attend(b.self, x, k, v, self_allowed, self_bias);
    h = h + attend(b.cross, rms_norm(h, b.cross_norm), cross_k[l], cross_v[l], cross_allowed, {});
    h = h + feed_forward(b.ff, rms_norm(h, b.ff_norm));
    if (in.output_hidden_states && l + 1 < c.num_decoder_layers) out.hidden_states.push_back(h);
  }
  h = rms_norm(h, decoder_final_norm_);  // [B, T, d]
  if (in.output_hidden_states) out.hidden_states.push_back(h);
  past.commit(key_mask);
  out.last_hidden_state = h;
  if (in.logits.mode != LogitsRequest::Mode::kNone) out.logits = head(h, in.logits);
  return out;
}

}  // namespace ptlab::models
