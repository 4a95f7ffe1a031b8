#include "framework/train/torch_optimizers.h"

#include "framework/core/error.h"

#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>


namespace ptlab::train {
namespace {

/// LibTorch's key of a parameter's optimizer state: its TensorImpl.
void* state_key(const at::Tensor& p) { return p.unsafeGetTensorImpl(); }

template <class ParamState, class TorchOptimizer>
ParamState* find_state(TorchOptimizer& impl, const at::Tensor& p) {
  auto& states = impl.state();
  auto it = states.find(state_key(p));
  return it == states.end() ? nullptr : static_cast<ParamState*>(it->second.get());
}

void set_group_lr(torch::optim::Optimizer& impl, double lr) {
  for (auto& group : impl.param_groups()) group.options().set_lr(lr);
}

}  // namespace

// ---- AdamW ---------------------------------------------------------------------------------------------

AdamW::AdamW(NamedParameters params, const OptimizerConfig& config) : Optimizer(std::move(params), config.lr) {
  auto options = torch::optim::AdamWOptions(config.lr)
                     .betas(std::make_tuple(config.beta1, config.beta2))
                     .eps(config.eps)
                     .weight_decay(config.weight_decay)
                     .amsgrad(false);
  impl_ = std::make_unique<torch::optim::AdamW>(tensors_of(parameters()), options);
}

AdamW::~AdamW() = default;

void AdamW::update() {
  set_group_lr(*impl_, lr());
  impl_->step();
}

std::vector<Optimizer::StateEntry> AdamW::state_entries(std::size_t index) const {
  const at::Tensor& p = parameters()[index].second;
  return {{"step", {}, at::kLong}, {"exp_avg", p.sizes().vec(), p.scalar_type()},
          {"exp_avg_sq", p.sizes().vec(), p.scalar_type()}};
}

std::map<std::string, at::Tensor> AdamW::param_state(std::size_t index) const {
  const auto* s = find_state<torch::optim::AdamWParamState>(*impl_, parameters()[index].second);
  if (!s) return {};
  return {{"step", at::scalar_tensor(s->step(), at::kLong)}, {"exp_avg", s->exp_avg()},
          {"exp_avg_sq", s->exp_avg_sq()}};
}

void AdamW::set_param_state(std::size_t index, std::map<std::string, at::Tensor> state) {
  auto& states = impl_->state();
  void* const key = state_key(parameters()[index].second);
  if (state.empty()) {
    states.erase(key);
    return;
  }
  auto s = std::make_unique<torch::optim::AdamWParamState>();
  s->step(state.at("step").item<int64_t>());
  s->exp_avg(state.at("exp_avg"));
  s->exp_avg_sq(state.at("exp_avg_sq"));
  states[key] = std::move(s);
}

// ---- SGD -----------------------------------------------------------------------------------------------

Sgd::Sgd(NamedParameters params, const OptimizerConfig& config)
    : Optimizer(std::move(params), config.lr), momentum_(config.momentum) {
  auto options = torch::optim::SGDOptions(config.lr)
                     .momentum(config.momentum)
                     .dampening(0.0)
                     .weight_decay(config.weight_decay)
                     .nesterov(false);
  impl_ = std::make_unique<torch::optim::SGD>(tensors_of(parameters()), options);
}

Sgd::~Sgd() = default;

void Sgd::update() {
  set_group_lr(*impl_, lr());
  impl_->step();
}

std::vector<Optimizer::StateEntry> Sgd::state_entries(std::size_t index) const {
  if (momentum_ == 0) return {};
  const at::Tensor& p = parameters()[index].second;
  return {{"momentum_buffer", p.sizes().vec(), p.scalar_type()}};
}

std::map<std::string, at::Tensor> Sgd::param_state(std::size_t index) const {
  const auto* s = find_state<torch::optim::SGDParamState>(*impl_, parameters()[index].second);
  if (!s || !s->momentum_buffer().defined()) return {};
  return {{"momentum_buffer", s->momentum_buffer()}};
}

void Sgd::set_param_state(std::size_t index, std::map<std::string, at::Tensor> state) {
  auto& states = impl_->state();
  void* const key = state_key(parameters()[index].second);
  if (state.empty()) {
    states.erase(key);
    return;
  }
  auto s = std::make_unique<torch::optim::SGDParamState>();
  s->momentum_buffer(state.at("momentum_buffer"));
  states[key] = std::move(s);
}

}  // namespace ptlab::train
