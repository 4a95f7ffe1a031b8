#include "framework/models/decoder_only.h"

#include "framework/core/error.h"
#include "framework/models/lm_head.h"

namespace ptlab::models {
namespace {

std::string dims(const at::Tensor& t) { return fmt::format("[{}]", fmt::join(t.sizes(), ", ")); }

}  // namespace

at::Tensor DecoderOnlyBackbone::embed(const at::Tensor& ids) const {
  PTLAB_CHECK(ids.defined() && ids.dim() == 2, "input_ids must be [B, T] int64, got {}",
              ids.defined() ? dims(ids) : "undefined");
  PTLAB_CHECK(!at::isFloatingType(ids.scalar_type()), "input_ids must be integer token ids, got {}",
              c10::toString(ids.scalar_type()));
  if (ids.numel() > 0) {
    const int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
    PTLAB_CHECK(lo >= 0 && hi < info_.vocab_size, "input_ids must lie in [0, {}) (the vocabulary), got values in [{}, {}]",
                info_.vocab_size, lo, hi);
  }
  return embed_tokens(ids.to(device(), at::kLong));
}

BackboneOutput DecoderOnlyBackbone::forward(const BackboneInput& input, KVCache* cache) {
  PTLAB_CHECK(input.input_ids.defined() != input.inputs_embeds.defined(),
              "{} forward needs exactly one of input_ids and inputs_embeds (got {})", info_.family,
              input.input_ids.defined() ? "both" : "neither");
  PTLAB_CHECK(!input.decoder_input_ids.defined() && !input.decoder_inputs_embeds.defined() &&
                  input.decoder_prefix.empty() && input.cross_prefix.empty() && !input.encoder_hidden_states.defined(),
              "{} is decoder-only: decoder_input_ids / decoder_prefix / cross_prefix / encoder_hidden_states are for "
              "encoder-decoder models (T5)",
              info_.family);
  // x: [B, T, d]
  at::Tensor x;
  if (input.input_ids.defined()) {
    x = embed(input.input_ids);
  } else {
    const auto& e = input.inputs_embeds;
    PTLAB_CHECK(e.dim() == 3 && e.size(2) == info_.hidden_size, "inputs_embeds must be [B, T, d={}], got {}",
                info_.hidden_size, dims(e));
    x = e.to(device(), dtype());  // trainable fp32 prompts are cast here, at the hook point
  }
  const int64_t batch = x.size(0), len = x.size(1);
  PTLAB_CHECK(len > 0, "{} forward: the sequence is empty (T = 0)", info_.family);
  if (input.attention_mask.defined())
    PTLAB_CHECK(input.attention_mask.dim() == 2 && input.attention_mask.size(0) == batch &&
                    input.attention_mask.size(1) == len,
                "attention_mask must be [B={}, T={}], got {}", batch, len, dims(input.attention_mask));

  AttentionPast past(input.prefix, cache, info_.num_layers, batch, info_.num_kv_heads, info_.head_dim, dtype(),
                     device());
  const at::Tensor key_mask = past.key_mask(input.attention_mask, batch, len);  // [B, past + T]

  DecoderStep step;
  step.past = &past;
  step.allowed = attention_allowed(key_mask, len, /*causal=*/true, sliding_window_);  // [B, 1, T, S]
  if (input.position_ids.defined()) {
    const auto& p = input.position_ids;
    PTLAB_CHECK(p.dim() == 2 && (p.size(0) == batch || p.size(0) == 1) && p.size(1) == len,
                "position_ids must be [B={}, T={}] (or [1, T]), got {}", batch, len, dims(p));
    step.position_ids = p.to(device(), at::kLong).expand({batch, len});
  } else {
    step.position_ids = default_position_ids(past.length(), batch, len, device());
  }

  BackboneOutput out;
  x = begin(x, step);
  for (int64_t l = 0; l < info_.num_layers; ++l) {
    if (input.output_hidden_states) out.hidden_states.push_back(x);
    x = layer(l, x, step);
  }
  x = final_norm(x);
  if (input.output_hidden_states) out.hidden_states.push_back(x);
  out.last_hidden_state = x;
  out.logits = compute_logits(x, output_weight(), input.logits);
  past.commit(key_mask);
  return out;
}

void DecoderOnlyBackbone::count_parameters_into_info(int64_t embedding_parameters) {
  info_.num_parameters = count_parameters(*this);
  info_.num_embedding_parameters = embedding_parameters;
}

}  // namespace ptlab::models
