// pretrain: trains every backbone weight on a language-modelling task (task type lm) — pretraining or
// continued pretraining of a model, e.g. the ladder of small Llama-style models on the synthetic corpus
// (DESIGN.md). It is full_finetune restricted to lm tasks: any other task type is an Error.
//
//   method:
//     name: pretrain    # no other keys
#pragma once

#include "methods/baselines/full_finetune.h"

#include <memory>
#include <string>

namespace ptlab::methods {

class Pretrain final : public FullFinetune {
 public:
  /// Errors when context.task is not of type lm.
  explicit Pretrain(const MethodContext& context);

  static std::unique_ptr<Method> make(config::Reader reader, const MethodContext& context);

  std::string name() const override { return "pretrain"; }
};

}  // namespace ptlab::methods
