// TokenInputMethod: the base of the baselines, whose backbone input is the batch's own token ids — no
// virtual tokens anywhere. A task template with {soft:N} slots would feed placeholder ids to the model as
// if they were words, so building one of these methods for such a template is an Error, and so is a batch
// with soft positions.
#pragma once

#include "methods/method.h"

#include <string>

namespace ptlab::methods {

class TokenInputMethod : public Method {
 public:
  /// input_ids, masks and (T5) decoder tensors of `batch` as they are (batch_input(..., with_ids=true)).
  models::BackboneInput prompt(const tasks::Batch& batch) override;

 protected:
  /// Checks that context.task's template has no soft slots (`method` names the method in the message).
  TokenInputMethod(const MethodContext& context, const std::string& method);

  models::Backbone& backbone() const { return *backbone_; }

 private:
  models::Backbone* backbone_;
};

}  // namespace ptlab::methods
