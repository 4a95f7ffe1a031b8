#include "framework/train/adafactor.h"

#include "framework/core/error.h"

#include <cmath>

namespace ptlab::train {
namespace {

bool is_half(at::ScalarType t) { return t == at::kHalf || t == at::kBFloat16; }

/// The dtype of the state and of the arithmetic: fp32 for fp16/bf16 parameters (as HF), else the param's.
at::ScalarType compute_dtype(const at::Tensor& p) { return is_half(p.scalar_type()) ? at::kFloat : p.scalar_type(); }

/// HF's _rms: ||t||_2 / numel^0.5, as a 0-d tensor ([]); numel ** 0.5 is Python's float pow.
at::Tensor rms(const at::Tensor& t) {
  return at::linalg_vector_norm(t, 2) / std::pow(static_cast<double>(t.numel()), 0.5);
}

}  // namespace

Adafactor::Adafactor(NamedParameters params, const OptimizerConfig& config)
    : Optimizer(std::move(params), config.lr), config_(config), state_(parameters().size()) {}

bool Adafactor::factored(std::size_t index) const { return parameters().at(index).second.dim() >= 2; }

void Adafactor::update() {
  for (std::size_t i = 0; i < parameters().size(); ++i) {
    const at::Tensor& p = parameters()[i].second;
    if (!p.grad().defined()) continue;
    PTLAB_CHECK(!p.grad().is_sparse(), "Adafactor does not support sparse gradients (parameter '{}')",
                parameters()[i].first);
    update_one(p, state_[i]);
  }
}

// The order of operations follows transformers.optimization.Adafactor.step so that results match it.
void Adafactor::update_one(const at::Tensor& param, ParamState& s) {
  at::Tensor grad = param.grad();
  if (is_half(grad.scalar_type())) grad = grad.to(at::kFloat);
  const bool factor = param.dim() >= 2;
  const bool first_moment = config_.adafactor_beta1.has_value();
  if (s.step == 0) {
    const auto shape = grad.sizes().vec();
    if (first_moment) s.exp_avg = at::zeros_like(grad);
    if (factor) {
      std::vector<int64_t> row(shape.begin(), shape.end() - 1);   // [..., R]
      std::vector<int64_t> col(shape.begin(), shape.end() - 2);   // [..., C]
      col.push_back(shape.back());
      s.exp_avg_sq_row = at::zeros(row, grad.options());
      s.exp_avg_sq_col = at::zeros(col, grad.options());
    } else {
      s.exp_avg_sq = at::zeros_like(grad);
    }
  }
  at::Tensor p32 = is_half(param.scalar_type()) ? param.to(at::kFloat) : param;

  s.step += 1;
  const double t = static_cast<double>(s.step);
  const at::Tensor param_rms = rms(p32);  // []
  double rel_step = lr();
  if (config_.relative_step) {
    const double min_step = config_.warmup_init ? 1e-6 * t : 1e-2;
    rel_step = std::min(min_step, 1.0 / std::sqrt(t));
  }
  // HF: lr = max(eps2, RMS) * rel_step — a 0-d fp32 tensor when the RMS wins, else a Python float.
  std::optional<at::Tensor> lr_tensor;
  double lr_value = rel_step;
  if (config_.scale_parameter) {
    if ((param_rms > config_.eps2).item<bool>())  // Python max(eps2, RMS): RMS > eps2 in fp32
      lr_tensor = param_rms * rel_step;  // []
    else
      lr_value = config_.eps2 * rel_step;
  }

  const double beta2t = 1.0 - std::pow(t, config_.decay_rate);
  at::Tensor update = grad.pow(2) + config_.eps1;  // like grad
  if (factor) {
    s.exp_avg_sq_row.mul_(beta2t).add_(update.mean(-1), 1.0 - beta2t);  // [..., R]
    s.exp_avg_sq_col.mul_(beta2t).add_(update.mean(-2), 1.0 - beta2t);  // [..., C]
    // HF _approx_sq_grad: rsqrt(row / mean(row))[..., R, 1] * rsqrt(col)[..., 1, C]
    const at::Tensor r_factor =
        (s.exp_avg_sq_row / s.exp_avg_sq_row.mean(-1, /*keepdim=*/true)).rsqrt_().unsqueeze(-1);
    const at::Tensor c_factor = s.exp_avg_sq_col.unsqueeze(-2).rsqrt();
    update = at::mul(r_factor, c_factor);  // [..., R, C]
    update.mul_(grad);
  } else {
    s.exp_avg_sq.mul_(beta2t).add_(update, 1.0 - beta2t);
    update = s.exp_avg_sq.rsqrt().mul_(grad);
  }
  update.div_((rms(update) / config_.clip_threshold).clamp_(1.0));
  if (lr_tensor)
    update.mul_(*lr_tensor);
  else
    update.mul_(lr_value);

  if (first_moment) {
    const double beta1 = *config_.adafactor_beta1;
    s.exp_avg.mul_(beta1).add_(update, 1 - beta1);
    update = s.exp_avg;
  }
  if (config_.weight_decay != 0) {
    // HF: alpha = -weight_decay * lr (a 0-d tensor converted to a Scalar when lr is one).
    const double alpha = lr_tensor ? (*lr_tensor * -config_.weight_decay).item<double>() : -config_.weight_decay * lr_value;
    p32.add_(p32, alpha);
  }
  p32.add_(-update);
  if (is_half(param.scalar_type())) param.copy_(p32);
}

std::vector<Optimizer::StateEntry> Adafactor::state_entries(std::size_t index) const {
  const at::Tensor& p = parameters()[index].second;
  const at::ScalarType dtype = compute_dtype(p);
  const auto shape = p.sizes().vec();
  std::vector<StateEntry> entries = {{"step", {}, at::kLong}};
  if (config_.adafactor_beta1) entries.push_back({"exp_avg", shape, dtype});
  if (p.dim() >= 2) {
    std::vector<int64_t> row(shape.begin(), shape.end() - 1), col(shape.begin(), shape.end() - 2);
    col.push_back(shape.back());
    entries.push_back({"exp_avg_sq_row", row, dtype});
    entries.push_back({"exp_avg_sq_col", col, dtype});
  } else {
    entries.push_back({"exp_avg_sq", shape, dtype});
  }
  return entries;
}

std::map<std::string, at::Tensor> Adafactor::param_state(std::size_t index) const {
  const ParamState& s = state_.at(index);
  if (s.step == 0) return {};
  std::map<std::string, at::Tensor> out = {{"step", at::scalar_tensor(s.step, at::kLong)}};
  if (s.exp_avg.defined()) out["exp_avg"] = s.exp_avg;
  if (s.exp_avg_sq.defined()) out["exp_avg_sq"] = s.exp_avg_sq;
  if (s.exp_avg_sq_row.defined()) out["exp_avg_sq_row"] = s.exp_avg_sq_row;
  if (s.exp_avg_sq_col.defined()) out["exp_avg_sq_col"] = s.exp_avg_sq_col;
  return out;
}

void Adafactor::set_param_state(std::size_t index, std::map<std::string, at::Tensor> state) {
  ParamState s;
  if (!state.empty()) {
    s.step = state.at("step").item<int64_t>();
    auto take = [&](const char* name) { return state.count(name) ? state.at(name) : at::Tensor(); };
    s.exp_avg = take("exp_avg");
    s.exp_avg_sq = take("exp_avg_sq");
    s.exp_avg_sq_row = take("exp_avg_sq_row");
    s.exp_avg_sq_col = take("exp_avg_sq_col");
  }
  state_.at(index) = std::move(s);
}

}  // namespace ptlab::train
