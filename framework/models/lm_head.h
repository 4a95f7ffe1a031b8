// The output head hook (hook point 3): LM logits for every position, none, or only chosen positions and
// chosen vocabulary rows. The chosen-rows path gathers the hidden states first and projects only those
// rows, so a verbalizer scoring 2 label words at 1 position costs [B, 1, 2], never a [B, T, V] product.
#pragma once

#include "framework/models/backbone.h"

#include <ATen/ATen.h>

namespace ptlab::models {

/// Logits of `request` from hidden [B, T, d] and the output embedding weight [V, d] (+ optional bias [V]):
/// kAll -> [B, T, V]; kNone -> undefined; kPositions -> [B, K, V] or [B, K, V'] with vocab_rows [V'].
/// positions may be [B, K] or [K] (the same for every row); out-of-range positions or rows are Errors.
at::Tensor compute_logits(const at::Tensor& hidden, const at::Tensor& weight, const LogitsRequest& request,
                          const at::Tensor& bias = {});

/// Mean next-token cross-entropy over labels != ignore_index: logits[:, t] predicts labels[:, t + 1]
/// (transformers' causal-LM loss; labels [B, T], logits [B, T, V]). Computed in fp32; a scalar.
at::Tensor causal_lm_loss(const at::Tensor& logits, const at::Tensor& labels, int64_t ignore_index = -100);

}  // namespace ptlab::models
