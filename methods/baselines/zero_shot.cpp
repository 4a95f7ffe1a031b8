#include "methods/baselines/zero_shot.h"

namespace ptlab::methods {

ZeroShot::ZeroShot(const MethodContext& context) : TokenInputMethod(context, "zero_shot") {}

std::unique_ptr<Method> ZeroShot::make(config::Reader reader, const MethodContext& context) {
  reader.has("name");
  reader.finish();
  return std::make_unique<ZeroShot>(context);
}

}  // namespace ptlab::methods
