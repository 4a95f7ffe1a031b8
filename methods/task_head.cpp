#include "methods/task_head.h"

#include "framework/core/error.h"

namespace ptlab::methods {

bool task_takes_head(const tasks::Task& task) {
  if (task.type() == "token_classification") return true;
  const tasks::Verbalizer* verbalizer = task.verbalizer();
  return verbalizer != nullptr && verbalizer->mode() == tasks::ScoringMode::kLinearHead;
}

tasks::LinearHead make_task_head(const MethodContext& context, const std::string& method) {
  const tasks::Task& task = context.task;
  const int64_t hidden = context.backbone.info().hidden_size;
  double dropout = kTokenHeadDropout;
  if (task.type() == "token_classification") {
    PTLAB_CHECK(task.num_classes() >= 1,
                "method {}: task {} has no tag set yet, so the per-token head cannot be sized; list the tags in "
                "task.data.labels (ptlab train learns them from the data before building the method)",
                method, task.name());
  } else {
    const tasks::Verbalizer* verbalizer = task.verbalizer();
    PTLAB_CHECK(verbalizer != nullptr,
                "method {} trains a task head, which needs a classification or token_classification task, but task "
                "{} is of type {} (nothing for a head to predict)",
                method, task.name(), task.type());
    PTLAB_CHECK(verbalizer->mode() == tasks::ScoringMode::kLinearHead,
                "method {} trains a classification head, so task {} needs verbalizer mode linear_head "
                "(task.verbalizer_name=linear_head), but its verbalizer scores with mode {}",
                method, task.name(), tasks::scoring_mode_name(verbalizer->mode()));
    dropout = verbalizer->config().dropout;
  }
  tasks::LinearHead head(hidden, task.num_classes(), dropout, context.seed);
  head->to(context.backbone.device());
  return head;
}

}  // namespace ptlab::methods
