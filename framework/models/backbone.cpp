#include "framework/models/backbone.h"

#include "framework/core/error.h"

namespace ptlab::models {

void Backbone::set_trainable(bool trainable) {
  for (auto& p : parameters()) p.set_requires_grad(trainable);
}

const HFConfig& Backbone::config() const {
  PTLAB_ASSERT(config_.has_value(), "backbone '{}' has no config: build it through load_backbone/build_backbone",
               info().family);
  return *config_;
}

at::Tensor register_hf_parameter(torch::nn::Module& root, const std::string& name, const at::Tensor& value) {
  torch::nn::Module* module = &root;
  std::size_t start = 0;
  for (std::size_t dot = name.find('.'); dot != std::string::npos; dot = name.find('.', start)) {
    const std::string part = name.substr(start, dot - start);
    PTLAB_ASSERT(!part.empty(), "bad parameter name '{}'", name);
    auto children = module->named_children();
    if (auto* child = children.find(part)) {
      module = child->get();
    } else {
      module = module->register_module(part, std::make_shared<torch::nn::Module>(part)).get();
    }
    start = dot + 1;
  }
  return module->register_parameter(name.substr(start), value, value.requires_grad());
}

int64_t count_parameters(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

}  // namespace ptlab::models
