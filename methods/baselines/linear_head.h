// linear_head: a trained head on the frozen backbone (linear probing) — tasks::LinearHead, Linear(d, C)
// with dropout (methods/task_head.h, shared with P-Tuning v2). Classification: on the hidden state the
// task's verbalizer names (mask, [CLS], last token or BERT's pooler; verbalizer mode linear_head, see
// tasks/verbalizer.h). Token classification (task=brown_pos): a per-token linear probe on every position.
// Only the head trains; its parameters are "head.weight" [C, d] and "head.bias" [C] (float32, on the
// backbone's device), drawn from the run's seed (N(0, 0.02^2), bias 0, as Hugging Face initialises BERT
// heads).
//
//   method:
//     name: linear_head    # no other keys; the head's dropout is the verbalizer's `dropout` (tokens: 0.1)
//
// A classification task must have its verbalizer in mode linear_head (task.verbalizer_name=linear_head in
// the shipped task configs); otherwise the objective would score with label words and the head would
// never train, so that is an Error (so are generation and lm tasks).
#pragma once

#include "methods/baselines/token_input.h"
#include "tasks/linear_head.h"

#include <memory>

namespace ptlab::methods {

class LinearHeadMethod final : public TokenInputMethod {
 public:
  explicit LinearHeadMethod(const MethodContext& context);

  static std::unique_ptr<Method> make(config::Reader reader, const MethodContext& context);

  std::string name() const override { return "linear_head"; }
  tasks::LinearHeadImpl* head() override { return head_.get(); }

 private:
  tasks::LinearHead head_{nullptr};
};

}  // namespace ptlab::methods
