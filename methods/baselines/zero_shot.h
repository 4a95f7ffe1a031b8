// zero_shot: prompt design / zero-shot evaluation — the frozen model reads the task's template as it is
// and the verbalizer scores the classes (GPT-3-style prompt design, the baseline of Lester et al. 2021).
// Nothing trains: trains() is false and the trainer only evaluates.
//
//   method:
//     name: zero_shot      # no other keys
#pragma once

#include "methods/baselines/token_input.h"

#include <memory>

namespace ptlab::methods {

class ZeroShot final : public TokenInputMethod {
 public:
  explicit ZeroShot(const MethodContext& context);

  /// The registry factory: decodes the (empty) `method:` mapping.
  static std::unique_ptr<Method> make(config::Reader reader, const MethodContext& context);

  std::string name() const override { return "zero_shot"; }
  bool trains() const override { return false; }
};

}  // namespace ptlab::methods
