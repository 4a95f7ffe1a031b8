// The optimizers LibTorch ships, behind ptlab's Optimizer interface: AdamW (torch::optim::AdamW, the
// semantics of torch.optim.AdamW) and SGD (torch::optim::SGD, torch.optim.SGD without dampening or
// Nesterov). We wrap them rather than rewrite them (a well-kept library); what we add is named, checked
// state for checkpoints, the lr set per step by the schedule, and skipping parameters without a gradient.
//
// AdamW per parameter p with gradient g at its step t (PyTorch's single-tensor path):
//   p *= 1 - lr * weight_decay
//   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
//   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// SGD: d = g + weight_decay p;  b = d (first step) or momentum b + d;  p -= lr * (b if momentum else d).
#pragma once

#include "framework/train/optimizer.h"

#include <memory>

namespace torch::optim {
class AdamW;
class SGD;
}  // namespace torch::optim

namespace ptlab::train {

/// State names: "step" (int64), "exp_avg", "exp_avg_sq".
class AdamW : public Optimizer {
 public:
  /// `config` must be valid (make_optimizer validates it).
  AdamW(NamedParameters params, const OptimizerConfig& config);
  ~AdamW() override;

  std::string name() const override { return "adamw"; }

 protected:
  void update() override;
  std::vector<StateEntry> state_entries(std::size_t index) const override;
  std::map<std::string, at::Tensor> param_state(std::size_t index) const override;
  void set_param_state(std::size_t index, std::map<std::string, at::Tensor> state) override;

 private:
  std::unique_ptr<torch::optim::AdamW> impl_;
};

/// State names: "momentum_buffer" (only with momentum != 0; SGD without momentum has no state).
class Sgd : public Optimizer {
 public:
  Sgd(NamedParameters params, const OptimizerConfig& config);
  ~Sgd() override;

  std::string name() const override { return "sgd"; }

 protected:
  void update() override;
  std::vector<StateEntry> state_entries(std::size_t index) const override;
  std::map<std::string, at::Tensor> param_state(std::size_t index) const override;
  void set_param_state(std::size_t index, std::map<std::string, at::Tensor> state) override;

 private:
  double momentum_;
  std::unique_ptr<torch::optim::SGD> impl_;
};

}  // namespace ptlab::train
