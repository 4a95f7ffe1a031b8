#include "tests/methods/walkthrough/text_offset.h"

#include "framework/core/error.h"
#include "methods/prompt_tuning/prompt_init.h"

namespace ptlab::methods::walkthrough {

TextOffsetConfig TextOffsetConfig::decode(config::Reader reader) {
  TextOffsetConfig c;
  c.where = reader.path();
  reader.has("name");  // the registry's key
  c.text = reader.require<std::string>("text");
  PTLAB_CHECK(!c.text.empty(), "{}.text: the prompt needs words, got an empty string", c.where);
  reader.finish();
  return c;
}

TextOffset::TextOffset(TextOffsetConfig config, const MethodContext& context)
    : config_(std::move(config)), backbone_(&context.backbone) {
  const text::Encoding encoding = context.tokenizer.encode(config_.text, /*add_special_tokens=*/false);
  const std::vector<int64_t> ids(encoding.ids.begin(), encoding.ids.end());
  PTLAB_CHECK(!ids.empty(), "{}.text: '{}' encodes to no token; write some words", config_.where, config_.text);
  const int64_t slots = context.task.prompt().num_soft_tokens();
  PTLAB_CHECK(slots == 0 || slots == static_cast<int64_t>(ids.size()),
              "{}.text: encodes to {} tokens but the template has {{soft:N}} slots for {}; make them equal",
              config_.where, ids.size(), slots);
  const at::Tensor words = embedding_rows(backbone_->word_embeddings(), ids, config_.where + ".text");
  words_ = register_buffer("words", words.detach().clone());
  offset_ = register_parameter("offset", at::zeros({words.size(1)}, words.options()), /*requires_grad=*/true);
}

int64_t TextOffset::front_soft_tokens(const tasks::Template& tmpl) const {
  return tmpl.num_soft_tokens() == 0 ? length() : 0;
}

models::BackboneInput TextOffset::prompt(const tasks::Batch& batch) {
  const int64_t n = length();
  PTLAB_CHECK(batch.num_soft_tokens() == n, "text_offset has {} tokens but the batch has {} soft positions", n,
              batch.num_soft_tokens());
  models::BackboneInput input = batch_input(batch, *backbone_, /*with_ids=*/false);  // masks, types, decoder
  const at::Device device = backbone_->device();
  const at::Tensor embeds = backbone_->embed(batch.input_ids.to(device));  // [B, T, d] in the backbone's dtype
  const int64_t rows = embeds.size(0), d = embeds.size(2);
  const at::Tensor prompt = (words_ + offset_).to(embeds.scalar_type());  // [n, d]: fp32 cast at the hook
  const at::Tensor index = batch.soft_positions.to(device).unsqueeze(2).expand({rows, n, d});
  input.inputs_embeds = embeds.scatter(1, index, prompt.unsqueeze(0).expand({rows, n, d}));
  return input;
}

}  // namespace ptlab::methods::walkthrough
