// Batch: rendered examples (template.h) padded into tensors — what a method turns into backbone input.
//
// Layout. Rows are padded on the right to the longest row (attention_mask 0 there, input ids = pad id).
// Soft slots keep the template's placeholder id; soft_positions says where they are, so a method can put
// its virtual tokens at the front (Lester et al. / PEFT), in the middle or at the end — wherever the
// template has its {soft:N} groups. Every row of a batch has the same number of soft tokens (the
// template fixes it).
//
// Front prompts. A task template without soft slots can still be prompt-tuned: prepend_soft_tokens()
// puts n virtual tokens before every other token (special tokens included), which is exactly PEFT's
// layout: [prompt][tokens][pads], token labels prefixed with n ignored labels, positions 0..n+T-1.
#pragma once

#include "tasks/template.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace ptlab::tasks {

inline constexpr int64_t kIgnoreIndex = -100;

struct Batch {
  at::Tensor input_ids;         ///< [B, T] int64; soft slots hold the placeholder id, pads the pad id
  at::Tensor attention_mask;    ///< [B, T] int64, 1 = real token
  at::Tensor token_type_ids;    ///< [B, T] int64
  at::Tensor soft_positions;    ///< [B, n] int64 positions of the virtual tokens; undefined when n = 0
  at::Tensor labels;            ///< [B] int64 class index, -1 when unlabeled
  at::Tensor token_labels;      ///< [B, T] int64 (unshifted, kIgnoreIndex where ignored); undefined if none
  at::Tensor mask_positions;    ///< [B] int64: the {mask} position, else -1
  at::Tensor read_positions;    ///< [B] int64: where the objective reads logits / the hidden state
                                ///< (Objective::collate sets it; -1 = not one position); else undefined
  at::Tensor lengths;           ///< [B] int64: real tokens per row
  // Encoder-decoder (T5) training: the decoder reads [start] + target[:-1] and predicts target.
  at::Tensor decoder_input_ids;       ///< [B, T_dec] int64; undefined unless the batch has targets
  at::Tensor decoder_attention_mask;  ///< [B, T_dec]
  at::Tensor decoder_labels;          ///< [B, T_dec] (kIgnoreIndex at pads)
  /// [B] int64: each row's task id (mixed-task batches: each example gets its own task's prompt);
  /// undefined when the examples carry none (RenderedExample::task_id -1).
  at::Tensor task_ids;
  /// [B, C] float32 soft targets (RenderedExample::soft_labels); undefined unless every row has them.
  at::Tensor soft_labels;
  std::vector<int64_t> example_ids;   ///< caller's index of each row's example (for predictions)
  int64_t num_tokens = 0;             ///< real tokens in the batch (throughput counts these)

  int64_t size() const { return input_ids.defined() ? input_ids.size(0) : 0; }
  int64_t num_soft_tokens() const { return soft_positions.defined() ? soft_positions.size(1) : 0; }
};

struct CollateOptions {
  int64_t pad_id = 0;
  /// Encoder-decoder: build decoder tensors from each example's target_ids (+ eos) when they have one.
  bool seq2seq_targets = false;
  int64_t decoder_start_id = 0;
  int64_t eos_id = -1;  ///< appended to decoder targets when >= 0
};

/// Pads `examples` into one batch. All must have the same number of soft tokens (else an Error naming
/// the first row that differs), and either all or none carry a task id (task_ids); `example_ids`
/// (optional, same size) is copied into the batch.
Batch collate(const std::vector<RenderedExample>& examples, const CollateOptions& options,
              const std::vector<int64_t>& example_ids = {});

/// Puts `n` virtual tokens (placeholder id `placeholder`) before every token of `example` and shifts
/// every recorded position; token labels get n ignored labels in front, token types n zeros. Existing
/// soft groups stay (the new group comes first).
void prepend_soft_tokens(RenderedExample& example, int64_t n, int64_t placeholder);

}  // namespace ptlab::tasks
