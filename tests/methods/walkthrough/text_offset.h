// The method of docs/adding-a-method.md: a hand-written prompt whose words stay fixed, plus one trained
// vector added to every one of its positions. Its parameters are d numbers — a small, real method to show
// every part a method has. The docs quote this file; tests/methods/walkthrough_test.cpp builds it, so the
// walkthrough cannot drift from code that compiles and trains.
//
//   method:
//     name: text_offset
//     text: "Decide if the review is positive or negative:"   # the prompt's words (required)
#pragma once

#include "methods/method.h"

#include <ATen/ATen.h>

#include <string>

namespace ptlab::methods::walkthrough {

struct TextOffsetConfig {
  std::string text;
  std::string where = "method";  ///< the key path of the mapping, for messages

  /// Decodes the `method:` mapping and calls reader.finish(), which rejects unknown keys.
  static TextOffsetConfig decode(config::Reader reader);
};

class TextOffset final : public Method {
 public:
  TextOffset(TextOffsetConfig config, const MethodContext& context);

  std::string name() const override { return "text_offset"; }

  /// The prompt goes in front when the template has no {soft:N} slot.
  int64_t front_soft_tokens(const tasks::Template& tmpl) const override;

  /// Hook point 1 (input embeddings): the text's embeddings + the offset, at the batch's soft positions.
  models::BackboneInput prompt(const tasks::Batch& batch) override;

  int64_t length() const { return words_.size(0); }
  const at::Tensor& offset() const { return offset_; }

 private:
  TextOffsetConfig config_;
  models::Backbone* backbone_;
  at::Tensor words_;   // [n, d] float32: the text's embeddings, a buffer (saved, never trained)
  at::Tensor offset_;  // [d] float32: the only parameter
};

}  // namespace ptlab::methods::walkthrough
