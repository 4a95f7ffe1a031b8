#include "framework/models/rope.h"

#include "framework/core/error.h"

#include <cmath>

namespace ptlab::models {
namespace {

// 1 / theta^(arange(0, dim, 2) / dim) in fp32, computed the way transformers does (int64 arange -> float).
at::Tensor base_inv_freq(double theta, int64_t dim) {
  at::Tensor exponent = at::arange(0, dim, 2, at::kLong).to(at::kFloat) / static_cast<double>(dim);  // [dim/2]
  return 1.0 / at::pow(theta, exponent);
}

at::Tensor rotate_half(const at::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

}  // namespace

RopeConfig RopeConfig::from_hf(const HFConfig& config, int64_t rotary_dim, const std::string& theta_key) {
  RopeConfig rope;
  rope.rotary_dim = rotary_dim;
  PTLAB_CHECK(rotary_dim > 0 && rotary_dim % 2 == 0, "config.json ({}): rotary dimension {} must be even and > 0",
              config.path(), rotary_dim);
  rope.max_positions = config.get_int("max_position_embeddings", 2048);
  // transformers >= 5 saves `rope_parameters` ({rope_theta, rope_type, factor, ...}) in place of rope_theta and
  // rope_scaling; a config.json written that way keeps its theta and scaling here too.
  const bool has_parameters = config.has("rope_parameters");
  if (has_parameters)
    PTLAB_CHECK(config.json()["rope_parameters"].is_object(),
                "config.json ({}): field 'rope_parameters' must be an object or null, got {}", config.path(),
                config.json()["rope_parameters"].dump());
  rope.theta = config.get_double(theta_key, 10000.0);
  if (!config.has(theta_key) && has_parameters && config.json()["rope_parameters"].contains("rope_theta")) {
    const auto& t = config.json()["rope_parameters"]["rope_theta"];
    PTLAB_CHECK(t.is_number(), "config.json ({}): field 'rope_parameters.rope_theta' must be a number, got {}",
                config.path(), t.dump());
    rope.theta = t.get<double>();
  }
  const std::string scaling_key = config.has("rope_scaling") ? "rope_scaling" : has_parameters ? "rope_parameters" : "";
  if (scaling_key.empty()) return rope;
  const auto& s = config.json()[scaling_key];
  PTLAB_CHECK(s.is_object(), "config.json ({}): field '{}' must be an object or null, got {}", config.path(),
              scaling_key, s.dump());
  auto field = [&](const char* key) -> const nlohmann::json& {
    PTLAB_CHECK(s.contains(key) && s[key].is_number(), "config.json ({}): field '{}.{}' must be a number",
                config.path(), scaling_key, key);
    return s[key];
  };
  const char* type_key = s.contains("rope_type") ? "rope_type" : "type";
  if (scaling_key == "rope_parameters" && !s.contains(type_key)) return rope;  // theta only
  PTLAB_CHECK(s.contains(type_key) && s[type_key].is_string(),
              "config.json ({}): field '{}' needs a string 'type' (or 'rope_type'), got {}", config.path(),
              scaling_key, s.dump());
  const std::string type = s[type_key].get<std::string>();
  if (type == "default") return rope;
  rope.scaling = type;
  if (type == "linear" || type == "dynamic") {
    rope.factor = field("factor").get<double>();
  } else if (type == "llama3") {
    rope.factor = field("factor").get<double>();
    rope.low_freq_factor = field("low_freq_factor").get<double>();
    rope.high_freq_factor = field("high_freq_factor").get<double>();
    rope.original_max_positions = field("original_max_position_embeddings").get<int64_t>();
    PTLAB_CHECK(rope.high_freq_factor != rope.low_freq_factor,
                "config.json ({}): {} low_freq_factor and high_freq_factor must differ", config.path(), scaling_key);
  } else {
    PTLAB_FAIL("config.json ({}): {} type '{}' is not supported; supported: linear, dynamic, llama3 (or "
               "rope_scaling: null)",
               config.path(), scaling_key, type);
  }
  PTLAB_CHECK(rope.factor > 0, "config.json ({}): {}.factor must be > 0, got {}", config.path(), scaling_key,
              rope.factor);
  return rope;
}

RotaryEmbedding::RotaryEmbedding(RopeConfig config) : config_(std::move(config)) {
  inv_freq_ = base_inv_freq(config_.theta, config_.rotary_dim);  // [dim/2]
  if (config_.scaling == "llama3") {
    const double pi = 3.14159265358979323846;
    const double old_len = static_cast<double>(config_.original_max_positions);
    const double low_wavelen = old_len / config_.low_freq_factor;
    const double high_wavelen = old_len / config_.high_freq_factor;
    at::Tensor wavelen = 2 * pi / inv_freq_;
    at::Tensor scaled = at::where(wavelen > low_wavelen, inv_freq_ / config_.factor, inv_freq_);
    at::Tensor smooth = (old_len / wavelen - config_.low_freq_factor) /
                        (config_.high_freq_factor - config_.low_freq_factor);
    at::Tensor smoothed = (1 - smooth) * scaled / config_.factor + smooth * scaled;
    at::Tensor medium = (wavelen >= high_wavelen) & (wavelen <= low_wavelen);
    inv_freq_ = at::where(medium, smoothed, scaled);
  }
}

std::pair<at::Tensor, at::Tensor> RotaryEmbedding::cos_sin(const at::Tensor& position_ids,
                                                           at::ScalarType dtype) const {
  at::Tensor inv_freq = inv_freq_;
  if (config_.scaling == "dynamic") {
    const int64_t len = position_ids.numel() ? position_ids.max().item<int64_t>() + 1 : 0;
    if (len > config_.max_positions) {
      const double dim = static_cast<double>(config_.rotary_dim);
      const double theta = config_.theta * std::pow(config_.factor * len / config_.max_positions - (config_.factor - 1),
                                                    dim / (dim - 2));
      inv_freq = base_inv_freq(theta, config_.rotary_dim);
    }
  }
  at::Tensor pos = position_ids.to(at::kFloat);  // [B, T]
  if (config_.scaling == "linear") pos = pos / config_.factor;
  // freqs: [B, T, 1] * [1, 1, dim/2] -> [B, T, dim/2]; emb = [freqs, freqs]: [B, T, dim]
  at::Tensor freqs = pos.unsqueeze(-1) * inv_freq.to(pos.device()).view({1, 1, -1});
  at::Tensor emb = at::cat({freqs, freqs}, -1).unsqueeze(1);  // [B, 1, T, dim]
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t rot = cos.size(-1), dim = x.size(-1);
  if (rot == dim) return x * cos + rotate_half(x) * sin;
  at::Tensor rotated = x.narrow(-1, 0, rot);          // [B, H, T, rot]
  at::Tensor passed = x.narrow(-1, rot, dim - rot);   // [B, H, T, D - rot]
  return at::cat({rotated * cos + rotate_half(rotated) * sin, passed}, -1);
}

}  // namespace ptlab::models
