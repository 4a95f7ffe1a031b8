#include "framework/models/activation.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"

#include <algorithm>

namespace ptlab::models {

const std::vector<std::string>& activation_names() {
  static const std::vector<std::string> names = {"gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast",
                                                 "silu", "swish",    "relu",              "quick_gelu"};
  return names;
}

void check_activation(const std::string& name, const std::string& where) {
  const auto& names = activation_names();
  PTLAB_CHECK(std::find(names.begin(), names.end(), name) != names.end(),
              "{}: activation '{}' is not supported{}; supported: {}", where, name, did_you_mean(name, names),
              join_names(names));
}

at::Tensor apply_activation(const std::string& name, const at::Tensor& x) {
  if (name == "gelu") return at::gelu(x);
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") return at::gelu(x, "tanh");
  if (name == "silu" || name == "swish") return at::silu(x);
  if (name == "relu") return at::relu(x);
  if (name == "quick_gelu") return x * at::sigmoid(1.702 * x);
  PTLAB_ASSERT(false, "unchecked activation '{}'", name);
  return x;
}

}  // namespace ptlab::models
