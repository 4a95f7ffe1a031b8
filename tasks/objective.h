// Objective: how a task turns the backbone's output into a training loss and into predictions for its
// metrics (hook point 3). The trainer calls, per batch:
//
//   Batch b = objective.collate(rendered, ids);     // pads, and records where the verbalizer reads
//   BackboneInput in = method.prompt(b);            // the method places its virtual tokens
//   objective.request(b, in);                       // which logits to compute (never [B, T, V] for classes)
//   BackboneOutput out = backbone.forward(in);
//   at::Tensor loss = objective.loss(out, b);       // training
//   objective.score(out, b, metrics);               // evaluation
//
// Losses (all means over the counted items, as Hugging Face computes them):
//  - classification / pair_classification: cross-entropy over the class scores — verbalizer (mlm,
//    next_token) log-probs over the label words at the read position, or the linear head's logits.
//    Encoder-decoder models (verbalizer `generate`) read the first decoder position, given the decoder
//    start token, over the label words' first tokens.
//    A batch with soft targets (Batch::soft_labels, PET's distillation) uses soft_label_loss instead:
//    mean over rows of -sum_c q_c log softmax(scores)_c.
//  - token_classification: the method's head (linear_head, P-Tuning v2) on every position's last hidden
//    state, [B, T, d] -> [B, T, C] tag scores, and cross-entropy over the positions whose token_labels are
//    not -100 (each word's first sub-token: Hugging Face's *ForTokenClassification loss). Predictions are
//    the argmax per labelled position, fed to the tag metrics (token_accuracy, and macro_f1 etc. over tags).
//    Hidden states line up with token_labels: prefix methods put their positions in the attention keys
//    only, and prompt tuning's input positions carry -100 (tasks::prepend_soft_tokens).
//  - lm: next-token cross-entropy over token_labels (causal); the decoder's labels (encoder-decoder).
// Rank scoring and generation are not trained by this objective yet: building one for them is an Error
// saying so.
#pragma once

#include "framework/models/backbone.h"
#include "tasks/batch.h"
#include "tasks/linear_head.h"
#include "tasks/metrics.h"
#include "tasks/task.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

namespace ptlab::tasks {

/// Hugging Face's causal-LM loss: mean cross-entropy of logits[:, t] against labels[:, t + 1] over the
/// labels that are not kIgnoreIndex. logits [B, T, V] (any float dtype; computed in float32), labels [B, T].
at::Tensor causal_lm_loss(const at::Tensor& logits, const at::Tensor& labels);
/// The same without the shift (seq2seq decoders, masked LM, token classification): logits [B, T, V]
/// against labels [B, T].
at::Tensor token_loss(const at::Tensor& logits, const at::Tensor& labels);
/// The soft-label loss (distillation, PET): mean over rows of -sum_c q[b, c] * log_softmax(scores[b])_c, scores
/// [B, C] (float32), q [B, C] rows of probabilities. Classes scored -inf (task_classes) must have q = 0.
at::Tensor soft_label_loss(const at::Tensor& scores, const at::Tensor& q);
/// Summed next-token NLL (nats) and the number of counted tokens, for perplexity.
std::pair<double, int64_t> causal_lm_nll(const at::Tensor& logits, const at::Tensor& labels);

class Objective {
 public:
  /// For `task` on a backbone of kind `backbone`; `head` (may be null) is the method's trained linear
  /// head, required when the verbalizer mode is linear_head and for token_classification (where it must
  /// predict the task's num_classes() tags). Unsupported task types / modes are Errors.
  Objective(const Task& task, const models::BackboneInfo& backbone, LinearHeadImpl* head = nullptr);

  /// Pads `examples` (tasks::collate) and fills read_positions and, for encoder-decoder models, the
  /// decoder input.
  Batch collate(const std::vector<RenderedExample>& examples, const std::vector<int64_t>& example_ids = {}) const;

  /// Sets input.logits (and, for encoder-decoder classification, the decoder input) for `batch`.
  void request(const Batch& batch, models::BackboneInput& input) const;

  /// The mean training loss of the batch: a float32 scalar with a graph to the trainable parameters.
  at::Tensor loss(const models::BackboneOutput& output, const Batch& batch) const;

  /// Adds the batch's predictions (and token losses for lm) to `metrics`; returns the batch's summed
  /// loss and the number of items it sums over (examples, labelled tokens for token_classification, or
  /// tokens for lm), for eval/loss.
  std::pair<double, int64_t> score(const models::BackboneOutput& output, const Batch& batch, MetricSet& metrics) const;

  /// Class predictions [B] (argmax of the class scores); classification only.
  at::Tensor predict(const models::BackboneOutput& output, const Batch& batch) const;

  bool is_classification() const { return classification_; }

  /// Classification: a map applied to the class scores [B, C] float32 before predict() and score() use
  /// them (a method's score calibration, Method::score_calibration); loss() ignores it. Empty: none.
  void set_calibration(std::function<at::Tensor(const at::Tensor&)> calibrate) { calibrate_ = std::move(calibrate); }

  /// Class scores [B, C] float32 (verbalizer log-probs of the label words, or the linear head's logits;
  /// before any calibration); classification only. PET's ensemble reads them.
  at::Tensor class_scores(const models::BackboneOutput& output, const Batch& batch) const;

 private:
  // scores [B, C] with -inf where a row's task does not score the class (task.task_classes).
  at::Tensor mask_other_tasks(const at::Tensor& scores, const Batch& batch) const;
  /// token_classification: tag scores [B, T, C] float32.
  at::Tensor tag_scores(const models::BackboneOutput& output, const Batch& batch) const;

  const Task* task_;
  models::BackboneInfo backbone_;
  LinearHeadImpl* head_;
  bool classification_ = false;
  bool tokens_ = false;  ///< token_classification
  std::function<at::Tensor(const at::Tensor&)> calibrate_;  ///< set_calibration(); empty: none
};

}  // namespace ptlab::tasks
