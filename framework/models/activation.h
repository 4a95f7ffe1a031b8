// Activation functions by their config.json names (hidden_act, activation_function, dense_act_fn), with
// transformers' definitions: gelu = exact erf GELU, gelu_new / gelu_pytorch_tanh / gelu_fast = tanh
// approximation, silu = swish, relu, quick_gelu = x * sigmoid(1.702 x).
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace ptlab::models {

/// The supported names.
const std::vector<std::string>& activation_names();

/// Error naming `where` (a config path and field) and the supported names when `name` is unknown.
void check_activation(const std::string& name, const std::string& where);

/// f(x) for a checked name.
at::Tensor apply_activation(const std::string& name, const at::Tensor& x);

}  // namespace ptlab::models
