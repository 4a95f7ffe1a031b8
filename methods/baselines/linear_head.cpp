#include "methods/baselines/linear_head.h"

#include "methods/task_head.h"

namespace ptlab::methods {

LinearHeadMethod::LinearHeadMethod(const MethodContext& context) : TokenInputMethod(context, "linear_head") {
  head_ = register_module("head", make_task_head(context, "linear_head"));
}

std::unique_ptr<Method> LinearHeadMethod::make(config::Reader reader, const MethodContext& context) {
  reader.has("name");
  reader.finish();
  return std::make_unique<LinearHeadMethod>(context);
}

}  // namespace ptlab::methods
