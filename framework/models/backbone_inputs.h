// Validation of BackboneInput fields for the encoder families (BERT, T5): token ids in range, inputs_embeds
// of the right width, the attention mask of a stack with a past, chosen logit positions. Every violation is
// a ptlab::Error naming the input, its shape or offending value and what was expected, so that a bad batch
// never reaches an ATen kernel (whose index errors are neither clear nor always caught on GPU).
#pragma once

#include "framework/models/attention.h"

#include <ATen/ATen.h>

#include <string>

namespace ptlab::models {

/// ids: a non-empty [B, T] integer tensor with values in [0, limit). `what` names it ("BERT input_ids").
void check_token_ids(const at::Tensor& ids, int64_t limit, const std::string& what);

/// embeds: non-empty [B, T, width] floating; returned cast to dtype/device (hook-point inputs are often fp32
/// trainable parameters while the backbone is bf16).
at::Tensor check_inputs_embeds(const at::Tensor& embeds, int64_t width, at::ScalarType dtype, at::Device device,
                               const std::string& what);

/// The key mask [B, P + T] (int64) of a stack whose past is `past` (length P): `mask` may be [B, T] (the
/// past's mask is prepended: ones for a prefix, the stored mask for a cache), [B, P + T] (Hugging Face's
/// convention, which lets a caller mask prefix entries) or undefined (every token real). Values must be 0/1.
at::Tensor full_key_mask(const AttentionPast& past, const at::Tensor& mask, int64_t batch, int64_t length,
                         const std::string& what);

/// h [B, T, d] at positions [B, K] or [K] (integers in [0, T)) -> [B, K, d].
at::Tensor gather_positions(const at::Tensor& h, const at::Tensor& positions);

}  // namespace ptlab::models
