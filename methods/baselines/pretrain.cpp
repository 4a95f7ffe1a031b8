#include "methods/baselines/pretrain.h"

#include "framework/core/error.h"

namespace ptlab::methods {

Pretrain::Pretrain(const MethodContext& context) : FullFinetune(context, "pretrain") {
  PTLAB_CHECK(context.task.type() == "lm",
              "method pretrain trains a language model on a task of type lm, but task {} is of type {}; use "
              "method=full_finetune to fine-tune on it, or an lm task (task=brown_lm)",
              context.task.name(), context.task.type());
}

std::unique_ptr<Method> Pretrain::make(config::Reader reader, const MethodContext& context) {
  reader.has("name");
  reader.finish();
  return std::make_unique<Pretrain>(context);
}

}  // namespace ptlab::methods
