// Adafactor (Shazeer & Stern 2018) with the semantics and order of operations of Hugging Face
// transformers.optimization.Adafactor — the optimizer of Lester et al.'s prompt tuning.
//
// Written here because LibTorch ships no Adafactor. Per parameter p with gradient g at its step t:
//   rho_t   = lr, or min(1e-2 | 1e-6 t, 1/sqrt(t)) with relative_step (| warmup_init)
//   step    = rho_t * max(eps2, RMS(p)) with scale_parameter, else rho_t
//   beta2_t = 1 - t^decay_rate
//   u       = g^2 + eps1
//   p with >= 2 dims (factored over the last two dims, p: [..., R, C]):
//     row = beta2_t row + (1 - beta2_t) mean_C(u)      // row: [..., R]
//     col = beta2_t col + (1 - beta2_t) mean_R(u)      // col: [..., C]
//     u   = rsqrt(row / mean_R(row))[..., :, None] * rsqrt(col)[..., None, :] * g
//   otherwise: v = beta2_t v + (1 - beta2_t) u;  u = rsqrt(v) * g
//   u /= max(1, RMS(u) / clip_threshold);  u *= step
//   with beta1: m = beta1 m + (1 - beta1) u;  u = m
//   p -= weight_decay * step * p;  p -= u
// fp16/bf16 parameters are updated in fp32 and copied back; their state is fp32.
#pragma once

#include "framework/train/optimizer.h"

namespace ptlab::train {

class Adafactor : public Optimizer {
 public:
  /// `config` must be valid (make_optimizer validates it). State names: "step", "exp_avg" (with beta1),
  /// "exp_avg_sq_row" + "exp_avg_sq_col" (factored) or "exp_avg_sq" (unfactored).
  Adafactor(NamedParameters params, const OptimizerConfig& config);

  std::string name() const override { return "adafactor"; }

  /// Whether parameter `index` uses factored second moments (it has >= 2 dims).
  bool factored(std::size_t index) const;

 protected:
  void update() override;
  std::vector<StateEntry> state_entries(std::size_t index) const override;
  std::map<std::string, at::Tensor> param_state(std::size_t index) const override;
  void set_param_state(std::size_t index, std::map<std::string, at::Tensor> state) override;

 private:
  struct ParamState {
    int64_t step = 0;                       // 0 = not updated yet (no state)
    at::Tensor exp_avg;                     // like p (with beta1)
    at::Tensor exp_avg_sq;                  // like p (unfactored)
    at::Tensor exp_avg_sq_row;              // p.shape[:-1] (factored)
    at::Tensor exp_avg_sq_col;              // p.shape[:-2] + p.shape[-1:] (factored)
  };
  void update_one(const at::Tensor& param, ParamState& state);

  OptimizerConfig config_;
  std::vector<ParamState> state_;
};

}  // namespace ptlab::train
