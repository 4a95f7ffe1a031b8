// Attention pieces every family shares: which keys a query may see (padding, causality, sliding window),
// the past of a self-attention stack (KV prefix and KV cache, hook point 2), grouped-query head repeat and
// softmax(q k^T) v itself.
//
// The product is LibTorch's fused at::scaled_dot_product_attention for every family (T5's relative position
// bias rides in its additive mask). Masked scores are filled with the dtype's lowest finite value (as
// transformers does), so a query that may see nothing (a left-padding position) gets uniform weights, never NaN.
#pragma once

#include "framework/models/backbone.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <utility>

namespace ptlab::models {

/// The lowest finite value of a floating dtype (transformers' torch.finfo(dtype).min).
double lowest_value(at::ScalarType dtype);

/// Which keys each query may attend to: [B, 1, T, S] bool (true = attend).
/// key_mask: [B, S] (1 = real key) covering past + current positions; the T queries are the last T of the
/// S positions. causal: query i (absolute position S - T + i) sees keys j <= S - T + i. sliding_window > 0
/// also hides keys more than sliding_window - 1 positions behind the query (Mistral).
at::Tensor attention_allowed(const at::Tensor& key_mask, int64_t query_len, bool causal, int64_t sliding_window = 0);

/// Grouped-query attention: [B, H_kv, S, D] -> [B, H_kv * n_rep, S, D]; query head h uses KV head h / n_rep.
at::Tensor repeat_kv(const at::Tensor& x, int64_t n_rep);

/// softmax(q k^T * scale + bias, masked by allowed) v.
/// q: [B, H, T, D]; k, v: [B, H_kv, S, D] with H a multiple of H_kv; allowed: [B or 1, 1, T, S] bool;
/// bias: optional, broadcastable to [B, H, T, S] (T5's relative position bias). Returns [B, H, T, D].
/// Softmax runs in fp32 and is cast back, as transformers' eager attention does.
at::Tensor scaled_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& allowed,
                            double scale, const at::Tensor& bias = {});

/// One forward call's view of a self-attention stack's past: the KV prefix (hook point 2) and/or the KV
/// cache. With a cache, an empty cache is first seeded with the prefix (a prefix *is* the initial content
/// of a cache), so later decoding steps pass no prefix; a prefix given with a non-empty cache is an Error.
class AttentionPast {
 public:
  /// Validates the prefix: `num_layers` keys and values of [B or 1, kv_heads, P, head_dim] (batch 1 is
  /// expanded to B), cast to dtype/device. `what` names the stack in messages ("prefix", "decoder_prefix").
  AttentionPast(const KVPrefix& prefix, KVCache* cache, int64_t num_layers, int64_t batch, int64_t kv_heads,
                int64_t head_dim, at::ScalarType dtype, at::Device device, const char* what = "prefix");

  /// Positions before this call: prefix length, or the (seeded) cache length.
  int64_t length() const { return length_; }
  /// [B, length()] of 0/1 for the past positions (ones for a prefix, the stored mask for a cache).
  const at::Tensor& mask() const { return mask_; }
  /// [B, length() + T]: the past's mask followed by attention_mask ([B, T]; undefined = all ones), int64.
  at::Tensor key_mask(const at::Tensor& attention_mask, int64_t batch, int64_t query_len) const;

  /// Layer `layer`'s past keys/values followed by this call's k, v ([B, H_kv, T, D]):
  /// returns [B, H_kv, length() + T, D] each; with a cache, they also replace the cache's entries.
  std::pair<at::Tensor, at::Tensor> append(int64_t layer, const at::Tensor& k, const at::Tensor& v);

  /// Stores the full key mask in the cache (call once, after the last layer). No-op without a cache.
  void commit(const at::Tensor& key_mask);

 private:
  KVCache* cache_;
  std::vector<at::Tensor> keys_, values_;  // the prefix, when there is no cache
  at::Tensor mask_;
  int64_t length_ = 0;
};

/// Positions past .. past + T - 1 for every row: [B, T] int64.
at::Tensor default_position_ids(int64_t past, int64_t batch, int64_t query_len, at::Device device);

/// Positions counted over real tokens only: cumsum(mask) - 1 over [past mask ; attention_mask], the last T
/// columns; padding positions get 1 (transformers' generate() convention for left padding). [B, T] int64.
at::Tensor position_ids_from_mask(const at::Tensor& key_mask, int64_t query_len);

}  // namespace ptlab::models
