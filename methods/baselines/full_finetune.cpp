#include "methods/baselines/full_finetune.h"

#include "framework/core/error.h"

#include <set>

namespace ptlab::methods {

std::unique_ptr<Method> FullFinetune::make(config::Reader reader, const MethodContext& context) {
  reader.has("name");
  reader.finish();
  return std::make_unique<FullFinetune>(context);
}

NamedTensors FullFinetune::trainable_parameters() {
  NamedTensors out;
  std::set<const void*> seen;  // a tied weight registered under two names is one parameter
  for (const auto& item : backbone().named_parameters(/*recurse=*/true)) {
    if (seen.insert(item.value().unsafeGetTensorImpl()).second) out.emplace_back(item.key(), item.value());
  }
  return out;
}

void FullFinetune::import_state(const std::map<std::string, at::Tensor>& state, const std::string& where) {
  PTLAB_CHECK(state.empty(),
              "{}: method {} keeps no state of its own ({} tensors given); a fine-tuned model is a "
              "model directory — load it with model.path=...",
              where, name(), state.size());
}

}  // namespace ptlab::methods
