#include "methods/baselines/token_input.h"

#include "framework/core/error.h"

namespace ptlab::methods {

TokenInputMethod::TokenInputMethod(const MethodContext& context, const std::string& method)
    : backbone_(&context.backbone) {
  const tasks::Template& tmpl = context.task.prompt();
  PTLAB_CHECK(tmpl.num_soft_tokens() == 0,
              "method {} places no virtual tokens, but {} ('{}') has {{soft:N}} slots; pick a template without them "
              "(task.template_name=...) or a soft-prompt method such as prompt_tuning",
              method, tmpl.name(), tmpl.text());
}

models::BackboneInput TokenInputMethod::prompt(const tasks::Batch& batch) {
  PTLAB_CHECK(batch.num_soft_tokens() == 0,
              "method {} places no virtual tokens, but the batch has {} soft positions per row; use a template "
              "without {{soft:N}} slots",
              name(), batch.num_soft_tokens());
  return batch_input(batch, *backbone_, /*with_ids=*/true);
}

}  // namespace ptlab::methods
