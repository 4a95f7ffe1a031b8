// full_finetune: model tuning — every weight of the backbone trains (the "model tuning" baseline of
// Lester et al. 2021 and of every soft-prompt paper). trains_backbone() tells the trainer to unfreeze the
// backbone (Backbone::set_trainable(true)) and put it in train mode; trainable_parameters() are then all
// of its parameters under their Hugging Face names ("model.layers.0.self_attn.q_proj.weight"), each tensor
// once (tied weights are one parameter). The trained state is the backbone itself: export_state() is
// empty and the trainer saves the model with models::save_backbone.
//
//   method:
//     name: full_finetune    # no other keys
#pragma once

#include "methods/baselines/token_input.h"

#include <map>
#include <memory>
#include <string>

namespace ptlab::methods {

class FullFinetune : public TokenInputMethod {
 public:
  explicit FullFinetune(const MethodContext& context) : FullFinetune(context, "full_finetune") {}

  static std::unique_ptr<Method> make(config::Reader reader, const MethodContext& context);

  std::string name() const override { return "full_finetune"; }
  bool trains_backbone() const override { return true; }

  /// Every backbone parameter by its Hugging Face name (shared tensors once, under their first name).
  NamedTensors trainable_parameters() override;
  /// Empty: the backbone is saved as a model directory, not as method state.
  std::map<std::string, at::Tensor> export_state() override { return {}; }
  /// Accepts only an empty state; a non-empty one is an Error (load a fine-tuned model with model.path).
  void import_state(const std::map<std::string, at::Tensor>& state, const std::string& where) override;

 protected:
  FullFinetune(const MethodContext& context, const std::string& method) : TokenInputMethod(context, method) {}
};

}  // namespace ptlab::methods
