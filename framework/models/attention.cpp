#include "framework/models/attention.h"

#include "framework/core/error.h"

#include <limits>

namespace ptlab::models {

double lowest_value(at::ScalarType dtype) {
  switch (dtype) {
    case at::kDouble: return std::numeric_limits<double>::lowest();
    case at::kFloat: return std::numeric_limits<float>::lowest();
    case at::kHalf: return -65504.0;
    case at::kBFloat16: return -3.3895313892515355e38;
    default: PTLAB_ASSERT(false, "lowest_value of non-floating dtype {}", c10::toString(dtype));
  }
  return 0;
}

at::Tensor attention_allowed(const at::Tensor& key_mask, int64_t query_len, bool causal, int64_t sliding_window) {
  const int64_t batch = key_mask.size(0), keys = key_mask.size(1);
  // A causal query sees its own key, so there are at least as many keys; cross-attention queries (T5's
  // decoder) may outnumber the encoder's keys.
  PTLAB_ASSERT(!causal || query_len <= keys, "{} causal queries but only {} keys", query_len, keys);
  // allowed: [B, 1, T, S] — real keys only.
  at::Tensor allowed = key_mask.to(at::kBool).view({batch, 1, 1, keys}).expand({batch, 1, query_len, keys});
  if (causal) {
    auto opts = at::TensorOptions().dtype(at::kLong).device(key_mask.device());
    at::Tensor query_pos = at::arange(keys - query_len, keys, opts).view({query_len, 1});  // [T, 1]
    at::Tensor key_pos = at::arange(keys, opts).view({1, keys});                          // [1, S]
    at::Tensor visible = key_pos <= query_pos;                                             // [T, S]
    if (sliding_window > 0) visible = visible & ((query_pos - key_pos) < sliding_window);
    allowed = allowed & visible.view({1, 1, query_len, keys});
  }
  return allowed;
}

at::Tensor repeat_kv(const at::Tensor& x, int64_t n_rep) {
  if (n_rep == 1) return x;
  const auto b = x.size(0), h = x.size(1), s = x.size(2), d = x.size(3);
  // [B, H_kv, S, D] -> [B, H_kv, n_rep, S, D] -> [B, H_kv * n_rep, S, D]
  return x.unsqueeze(2).expand({b, h, n_rep, s, d}).reshape({b, h * n_rep, s, d});
}

at::Tensor scaled_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& allowed,
                            double scale, const at::Tensor& bias) {
  const int64_t heads = q.size(1), kv_heads = k.size(1);
  PTLAB_ASSERT(heads % kv_heads == 0, "{} query heads are not a multiple of {} KV heads", heads, kv_heads);
  at::Tensor keys = repeat_kv(k, heads / kv_heads);    // [B, H, S, D]
  at::Tensor values = repeat_kv(v, heads / kv_heads);  // [B, H, S, D]
  const double fill = lowest_value(q.scalar_type());
  // Additive float mask (0 / lowest) rather than a boolean one: a fully masked row stays finite (uniform
  // weights, as transformers' eager path gives) where a boolean mask would give NaN.
  at::Tensor mask = at::zeros(allowed.sizes(), q.options()).masked_fill_(allowed.logical_not(), fill);  // [B,1,T,S]
  if (bias.defined()) mask = mask + bias.to(q.scalar_type());
  return at::scaled_dot_product_attention(q, keys, values, mask, 0.0, false, scale);
}

AttentionPast::AttentionPast(const KVPrefix& prefix, KVCache* cache, int64_t num_layers, int64_t batch,
                             int64_t kv_heads, int64_t head_dim, at::ScalarType dtype, at::Device device,
                             const char* what)
    : cache_(cache) {
  auto long_opts = at::TensorOptions().dtype(at::kLong).device(device);
  std::vector<at::Tensor> keys, values;
  if (!prefix.empty()) {
    PTLAB_CHECK(prefix.keys.size() == static_cast<std::size_t>(num_layers) &&
                    prefix.values.size() == static_cast<std::size_t>(num_layers),
                "{}: expected keys and values for each of the {} layers, got {} keys and {} values", what, num_layers,
                prefix.keys.size(), prefix.values.size());
    const int64_t p = prefix.length();
    for (int64_t l = 0; l < num_layers; ++l) {
      for (const at::Tensor* t : {&prefix.keys[l], &prefix.values[l]}) {
        PTLAB_CHECK(t->defined() && t->dim() == 4 && (t->size(0) == batch || t->size(0) == 1) &&
                        t->size(1) == kv_heads && t->size(2) == p && t->size(3) == head_dim,
                    "{}: layer {} {} must be [B={} (or 1), H_kv={}, P={}, d_head={}], got {}", what, l,
                    t == &prefix.keys[l] ? "keys" : "values", batch, kv_heads, p, head_dim,
                    t->defined() ? fmt::format("[{}]", fmt::join(t->sizes(), ", ")) : std::string("undefined"));
      }
      // [1 or B, H_kv, P, D] -> [B, H_kv, P, D] in the backbone's dtype (trainable prefixes stay fp32 upstream).
      keys.push_back(prefix.keys[l].to(device, dtype).expand({batch, kv_heads, p, head_dim}));
      values.push_back(prefix.values[l].to(device, dtype).expand({batch, kv_heads, p, head_dim}));
    }
  }

  if (cache_) {
    if (cache_->length() == 0) {
      cache_->keys = keys.empty() ? std::vector<at::Tensor>(num_layers) : keys;
      cache_->values = values.empty() ? std::vector<at::Tensor>(num_layers) : values;
      cache_->mask = at::ones({batch, keys.empty() ? 0 : prefix.length()}, long_opts);
    } else {
      PTLAB_CHECK(prefix.empty(),
                  "{} given together with a non-empty KV cache: the prefix belongs to the first call only (it "
                  "seeds the cache)",
                  what);
    }
    PTLAB_CHECK(cache_->keys.size() == static_cast<std::size_t>(num_layers) &&
                    cache_->values.size() == static_cast<std::size_t>(num_layers),
                "KV cache holds {} layers, the model has {}", cache_->keys.size(), num_layers);
    PTLAB_CHECK(cache_->mask.defined() && cache_->mask.dim() == 2 && cache_->mask.size(0) == batch &&
                    cache_->mask.size(1) == cache_->length(),
                "KV cache mask must be [B={}, S={}], got {}", batch, cache_->length(),
                cache_->mask.defined() ? fmt::format("[{}]", fmt::join(cache_->mask.sizes(), ", ")) : "undefined");
    length_ = cache_->length();
    mask_ = cache_->mask.to(long_opts);
  } else {
    keys_ = std::move(keys);
    values_ = std::move(values);
    length_ = prefix.length();
    mask_ = at::ones({batch, length_}, long_opts);
  }
}

at::Tensor AttentionPast::key_mask(const at::Tensor& attention_mask, int64_t batch, int64_t query_len) const {
  at::Tensor current = attention_mask.defined() ? attention_mask.to(mask_.device(), at::kLong)
                                                : at::ones({batch, query_len}, mask_.options());  // [B, T]
  return at::cat({mask_, current}, 1);                                                           // [B, past + T]
}

std::pair<at::Tensor, at::Tensor> AttentionPast::append(int64_t layer, const at::Tensor& k, const at::Tensor& v) {
  at::Tensor past_k, past_v;
  if (cache_) {
    past_k = cache_->keys[layer];
    past_v = cache_->values[layer];
  } else if (!keys_.empty()) {
    past_k = keys_[layer];
    past_v = values_[layer];
  }
  // [B, H_kv, past, D] ++ [B, H_kv, T, D] -> [B, H_kv, past + T, D]
  at::Tensor full_k = past_k.defined() && past_k.size(2) > 0 ? at::cat({past_k, k}, 2) : k;
  at::Tensor full_v = past_v.defined() && past_v.size(2) > 0 ? at::cat({past_v, v}, 2) : v;
  if (cache_) {
    cache_->keys[layer] = full_k;
    cache_->values[layer] = full_v;
  }
  return {full_k, full_v};
}

void AttentionPast::commit(const at::Tensor& key_mask) {
  if (cache_) cache_->mask = key_mask;
}

at::Tensor default_position_ids(int64_t past, int64_t batch, int64_t query_len, at::Device device) {
  auto opts = at::TensorOptions().dtype(at::kLong).device(device);
  return at::arange(past, past + query_len, opts).unsqueeze(0).expand({batch, query_len});  // [B, T]
}

at::Tensor position_ids_from_mask(const at::Tensor& key_mask, int64_t query_len) {
  at::Tensor mask = key_mask.to(at::kLong);
  at::Tensor pos = mask.cumsum(1) - 1;  // [B, S]
  pos.masked_fill_(mask == 0, 1);
  return pos.narrow(1, mask.size(1) - query_len, query_len);  // [B, T]
}

}  // namespace ptlab::models
