// Rotary position embeddings (RoPE) as transformers defines them (rotate-half convention, the same for
// Llama, Mistral, Qwen2 and GPT-NeoX): inv_freq = 1 / theta^(2i / rotary_dim), cos/sin of position *
// inv_freq duplicated over both halves, x' = x * cos + rotate_half(x) * sin on the first rotary_dim
// features of each head (all of them for Llama; head_dim * rotary_pct for GPT-NeoX), the rest untouched.
//
// rope_scaling (config.json, "type" or "rope_type"):
//  - linear:  positions / factor.
//  - dynamic: NTK-aware; when the longest position + 1 exceeds max_position_embeddings, theta becomes
//             theta * (factor * len / max_pos - (factor - 1))^(dim / (dim - 2)) for that call.
//  - llama3:  inv_freq rescaled per wavelength: long waves (> original_max / low_freq_factor) divided by
//             factor, short waves (< original_max / high_freq_factor) kept, smooth interpolation between.
// Anything else is an Error naming the supported types.
#pragma once

#include "framework/models/hf_config.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <utility>

namespace ptlab::models {

struct RopeConfig {
  int64_t rotary_dim = 0;  ///< features rotated per head (even)
  double theta = 10000.0;
  std::string scaling;  ///< "", "linear", "dynamic", "llama3"
  double factor = 1.0;
  double low_freq_factor = 1.0, high_freq_factor = 4.0;
  int64_t original_max_positions = 8192;  ///< llama3
  int64_t max_positions = 2048;           ///< dynamic: max_position_embeddings

  /// Reads theta from `theta_key` (default 10000) and rope_scaling from config.json.
  static RopeConfig from_hf(const HFConfig& config, int64_t rotary_dim, const std::string& theta_key = "rope_theta");
};

class RotaryEmbedding {
 public:
  explicit RotaryEmbedding(RopeConfig config);

  const RopeConfig& config() const { return config_; }
  /// inv_freq [rotary_dim / 2] fp32 (after llama3 rescaling; before dynamic NTK).
  const at::Tensor& inv_freq() const { return inv_freq_; }

  /// cos and sin for positions [B, T]: each [B, 1, T, rotary_dim] (broadcast over heads), computed in
  /// fp32 and cast to dtype, on the positions' device.
  std::pair<at::Tensor, at::Tensor> cos_sin(const at::Tensor& position_ids, at::ScalarType dtype) const;

 private:
  RopeConfig config_;
  at::Tensor inv_freq_;
};

/// Applies RoPE to the first cos.size(-1) features of x [B, H, T, D]; cos, sin: [B, 1, T, rotary_dim].
at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

}  // namespace ptlab::models
