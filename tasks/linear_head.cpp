#include "tasks/linear_head.h"

#include "framework/core/error.h"

#include <ATen/CPUGeneratorImpl.h>

namespace ptlab::tasks {

LinearHeadImpl::LinearHeadImpl(int64_t hidden_size, int64_t num_classes, double dropout, uint64_t seed)
    : dropout_(dropout) {
  PTLAB_CHECK(hidden_size >= 1 && num_classes >= 1, "a linear head needs a hidden size and classes, got d={} C={}",
              hidden_size, num_classes);
  PTLAB_CHECK(dropout >= 0 && dropout < 1, "linear head dropout must be in [0, 1), got {}", dropout);
  weight_ = register_parameter("weight", at::empty({num_classes, hidden_size}, at::kFloat));  // [C, d]
  bias_ = register_parameter("bias", at::empty({num_classes}, at::kFloat));                   // [C]
  reset_parameters(seed);
}

void LinearHeadImpl::reset_parameters(uint64_t seed, double std) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::NoGradGuard no_grad;
  // Drawn on the CPU so the values do not depend on the device, then copied in place.
  const at::Tensor drawn = at::normal(0.0, std, weight_.sizes(), generator, at::TensorOptions().dtype(at::kFloat));
  weight_.copy_(drawn);
  bias_.zero_();
}

at::Tensor LinearHeadImpl::forward(const at::Tensor& hidden) {
  PTLAB_ASSERT((hidden.dim() == 2 || hidden.dim() == 3) && hidden.size(-1) == weight_.size(1),
               "linear head of width {} given a rank-{} input of width {}", weight_.size(1), hidden.dim(),
               hidden.dim() > 0 ? hidden.size(-1) : -1);
  at::Tensor x = hidden.to(weight_.dtype());  // [B, d] or [B, T, d], float32
  if (dropout_ > 0) x = at::dropout(x, dropout_, is_training());
  return at::linear(x, weight_, bias_);  // [B, C] or [B, T, C]
}

at::Tensor gather_positions(const at::Tensor& hidden, const at::Tensor& positions) {
  PTLAB_ASSERT(hidden.dim() == 3 && positions.dim() == 1 && positions.size(0) == hidden.size(0),
               "gather_positions takes hidden [B, T, d] and positions [B]");
  const at::Tensor index = positions.to(hidden.device(), at::kLong).view({-1, 1, 1}).expand({-1, 1, hidden.size(2)});
  return hidden.gather(1, index).squeeze(1);  // [B, d]
}

}  // namespace ptlab::tasks
