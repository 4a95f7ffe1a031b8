// The trained task head a method owns (linear_head, P-Tuning v2): one tasks::LinearHead, Linear(d, C) with
// dropout, sized and checked against the task here so that every method that trains a head accepts the
// same tasks and says the same thing about the others.
//
//  - classification / pair_classification: C = the task's classes, read at the position the verbalizer's
//    `pooling` names (mask, cls, last, pooler; tasks/objective.h). The verbalizer must be in mode
//    linear_head — otherwise the objective would score with label words and the head would never train —
//    and the head's dropout is the verbalizer's `dropout`.
//  - token_classification: the per-token head, the same Linear(d, C) on every position's last hidden
//    state, C = the task's tag set (known once learn_labels() has run). Dropout kTokenHeadDropout, as
//    Hugging Face's BertForTokenClassification (hidden_dropout_prob) and THUDM's P-tuning-v2.
// Other task types (generation, lm) have nothing for a head to predict: an Error.
//
// Parameters "weight" [C, d] and "bias" [C], float32 on the backbone's device, drawn from the run's seed
// (N(0, 0.02^2), bias 0: Hugging Face's init of BERT heads).
#pragma once

#include "methods/method.h"
#include "tasks/linear_head.h"

#include <string>

namespace ptlab::methods {

/// The head's dropout on token-classification tasks (which have no verbalizer to carry one).
inline constexpr double kTokenHeadDropout = 0.1;

/// Whether `task` is scored by a trained head: a token-classification task, or a classification task whose
/// verbalizer is in mode linear_head.
bool task_takes_head(const tasks::Task& task);

/// The head for context.task (see the top of this file), on the backbone's device. `method` names the
/// method in errors: a classification task whose verbalizer is not in mode linear_head, a token task with
/// no tag set yet, any other task type.
tasks::LinearHead make_task_head(const MethodContext& context, const std::string& method);

}  // namespace ptlab::methods
