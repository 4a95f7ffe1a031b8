#include "methods/baselines/linear_head.h"

#include "framework/core/error.h"

namespace ptlab::methods {

LinearHeadMethod::LinearHeadMethod(const MethodContext& context) : TokenInputMethod(context, "linear_head") {
  const tasks::Task& task = context.task;
  const tasks::Verbalizer* verbalizer = task.verbalizer();
  PTLAB_CHECK(verbalizer != nullptr && verbalizer->mode() == tasks::ScoringMode::kLinearHead,
              "method linear_head trains a classification head, so task {} needs verbalizer mode linear_head "
              "(task.verbalizer_name=linear_head){}",
              task.name(),
              verbalizer == nullptr ? fmt::format(", but it is of type {} (no classes)", task.type())
                                    : fmt::format(", but its verbalizer scores with mode {}",
                                                  tasks::scoring_mode_name(verbalizer->mode())));
  const int64_t hidden = context.backbone.info().hidden_size;
  head_ = register_module("head",
                          tasks::LinearHead(hidden, task.num_classes(), verbalizer->config().dropout, context.seed));
  head_->to(context.backbone.device());
}

std::unique_ptr<Method> LinearHeadMethod::make(config::Reader reader, const MethodContext& context) {
  reader.has("name");
  reader.finish();
  return std::make_unique<LinearHeadMethod>(context);
}

}  // namespace ptlab::methods
