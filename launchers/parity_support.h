// What the PEFT replay (parity.cpp) and the CPT replay (parity_cpt.cpp) share: the lm task a replay builds
// its method for, the method built from a golden's `method:` config, and the distance of two tensors.
#pragma once

#include "methods/method.h"

#include <ATen/ATen.h>
#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>

namespace ptlab::launchers::parity_support {

/// max |a - b| in double precision on the CPU (0 for empty tensors).
double max_abs_diff(const at::Tensor& a, const at::Tensor& b);

/// The method of the `method:` mapping `config`; errors name `origin` ("DIR/result.json (...)").
std::unique_ptr<methods::Method> make_method(const YAML::Node& config, const methods::MethodContext& context,
                                             const std::string& origin);

/// An lm task ('{text_a}', no length limit) for `tokenizer` and the backbone kind `info`: what a method is
/// built for when the golden's batch, not a task, gives the inputs.
std::unique_ptr<tasks::Task> lm_task(const text::Tokenizer& tokenizer, const models::BackboneInfo& info);

}  // namespace ptlab::launchers::parity_support
