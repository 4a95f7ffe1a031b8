#include "tasks/objective.h"

#include "framework/core/error.h"

#include <cmath>
#include <limits>

namespace ptlab::tasks {
namespace {

// Mean CE of logits [N, V] against labels [N], ignoring kIgnoreIndex (float32 math).
at::Tensor flat_cross_entropy(const at::Tensor& logits, const at::Tensor& labels) {
  return at::cross_entropy_loss(logits.to(at::kFloat), labels, {}, at::Reduction::Mean, kIgnoreIndex);
}

}  // namespace

at::Tensor causal_lm_loss(const at::Tensor& logits, const at::Tensor& labels) {
  // logits [B, T, V] vs labels [B, T]: position t predicts label t + 1.
  PTLAB_ASSERT(logits.dim() == 3 && labels.dim() == 2 && logits.size(1) == labels.size(1),
               "causal_lm_loss: logits of rank {} vs labels of rank {}", logits.dim(), labels.dim());
  const int64_t v = logits.size(2);
  auto shifted_logits = logits.narrow(1, 0, logits.size(1) - 1).reshape({-1, v});                   // [B*(T-1), V]
  auto shifted_labels = labels.narrow(1, 1, labels.size(1) - 1).reshape({-1}).to(logits.device());  // [B*(T-1)]
  return flat_cross_entropy(shifted_logits, shifted_labels);
}

at::Tensor token_loss(const at::Tensor& logits, const at::Tensor& labels) {
  PTLAB_ASSERT(logits.dim() == 3 && labels.dim() == 2 && logits.size(1) == labels.size(1),
               "token_loss: logits of rank {} vs labels of rank {}", logits.dim(), labels.dim());
  return flat_cross_entropy(logits.reshape({-1, logits.size(2)}), labels.reshape({-1}).to(logits.device()));
}

std::pair<double, int64_t> causal_lm_nll(const at::Tensor& logits, const at::Tensor& labels) {
  const int64_t v = logits.size(2);
  auto shifted_logits = logits.narrow(1, 0, logits.size(1) - 1).reshape({-1, v}).to(at::kFloat);
  auto shifted_labels = labels.narrow(1, 1, labels.size(1) - 1).reshape({-1}).to(logits.device());
  const int64_t count = shifted_labels.ne(kIgnoreIndex).sum().item<int64_t>();
  if (count == 0) return {0.0, 0};
  auto sum = at::cross_entropy_loss(shifted_logits, shifted_labels, {}, at::Reduction::Sum, kIgnoreIndex);
  return {sum.item<double>(), count};
}

Objective::Objective(const Task& task, const models::BackboneInfo& backbone, LinearHeadImpl* head)
    : task_(&task), backbone_(backbone), head_(head) {
  const std::string& type = task.type();
  if (type == "classification" || type == "pair_classification") {
    classification_ = true;
    const Verbalizer* verbalizer = task.verbalizer();
    PTLAB_ASSERT(verbalizer != nullptr, "classification task {} without a verbalizer", task.name());
    const ScoringMode mode = verbalizer->mode();
    if (mode == ScoringMode::kLinearHead) {
      PTLAB_CHECK(head_ != nullptr,
                  "task {}: verbalizer mode linear_head needs a method that trains a head (method=linear_head); "
                  "this method has none — pick a verbalizer with label words (task.verbalizer_name=...)",
                  task.name());
    } else {
      PTLAB_CHECK(mode == ScoringMode::kMlm || mode == ScoringMode::kNextToken,
                  "task {}: the trainer scores classes with verbalizer modes mlm, next_token or linear_head; mode "
                  "{} (rank classification / generation) is not supported by the trainer yet{}",
                  task.name(), scoring_mode_name(mode),
                  backbone.is_encoder_decoder ? " — encoder-decoder (T5) classification is not trainable yet" : "");
    }
    PTLAB_CHECK(!backbone.is_encoder_decoder,
                "task {}: classification with an encoder-decoder model ({}) is not supported by the trainer yet; "
                "use a decoder-only or BERT-style model",
                task.name(), backbone.model_type);
  } else if (type == "token_classification") {
    tokens_ = true;
    PTLAB_CHECK(head_ != nullptr,
                "task {}: token_classification is scored by a trained per-token head, and this method has none; use "
                "method=linear_head or method=p_tuning_v2",
                task.name());
    PTLAB_CHECK(head_->num_classes() == task.num_classes(),
                "task {}: the method's head predicts {} tags but the task has {}; build the method after the task "
                "learned its tag set",
                task.name(), head_->num_classes(), task.num_classes());
    PTLAB_CHECK(!backbone.is_encoder_decoder,
                "task {}: token classification with an encoder-decoder model ({}) is not supported; use a "
                "decoder-only or BERT-style model",
                task.name(), backbone.model_type);
  } else if (type == "lm") {
    classification_ = false;
  } else {
    PTLAB_FAIL(
        "task {}: the trainer handles task types classification, pair_classification, token_classification "
        "and lm; type {} is not supported yet",
        task.name(), type);
  }
}

Batch Objective::collate(const std::vector<RenderedExample>& examples, const std::vector<int64_t>& example_ids) const {
  CollateOptions options;
  const int pad = task_->tokenizer().pad_id();
  options.pad_id = pad >= 0 ? pad : (task_->tokenizer().eos_id() >= 0 ? task_->tokenizer().eos_id() : 0);
  Batch batch = tasks::collate(examples, options, example_ids);
  if (classification_) {
    const Verbalizer& verbalizer = *task_->verbalizer();
    std::vector<int64_t> reads(examples.size());
    for (std::size_t i = 0; i < examples.size(); ++i) {
      reads[i] = verbalizer.mode() == ScoringMode::kLinearHead ? verbalizer.head_position(examples[i])
                                                               : verbalizer.answer_position(examples[i]);
    }
    batch.read_positions = at::tensor(reads, at::kLong);  // [B]
  }
  return batch;
}

void Objective::request(const Batch& batch, models::BackboneInput& input) const {
  if (tokens_) {
    input.logits.mode = models::LogitsRequest::Mode::kNone;  // the head reads every hidden state
    return;
  }
  if (!classification_) {
    input.logits.mode = models::LogitsRequest::Mode::kAll;
    return;
  }
  const Verbalizer& verbalizer = *task_->verbalizer();
  if (verbalizer.mode() == ScoringMode::kLinearHead) {
    input.logits.mode = models::LogitsRequest::Mode::kNone;  // the head reads hidden states
    return;
  }
  auto device = input.attention_mask.defined() ? input.attention_mask.device() : batch.read_positions.device();
  input.logits = verbalizer.logits_request(batch.read_positions.to(device).view({-1, 1}));  // [B, 1]
}

at::Tensor Objective::class_scores(const models::BackboneOutput& output, const Batch& batch) const {
  const Verbalizer& verbalizer = *task_->verbalizer();
  if (verbalizer.mode() == ScoringMode::kLinearHead) {
    at::Tensor pooled;
    if (verbalizer.config().pooling == HeadPooling::kPooler) {
      PTLAB_CHECK(output.pooled.defined(),
                  "task {}: linear_head pooling pooler needs a model with a pooler; use "
                  "pooling: cls, mask or last",
                  task_->name());
      pooled = output.pooled;  // [B, d]
    } else {
      pooled = gather_positions(output.last_hidden_state, batch.read_positions);  // [B, d]
    }
    return mask_other_tasks(head_->forward(pooled), batch);  // [B, C] float32
  }
  return mask_other_tasks(verbalizer.class_scores(output.logits), batch);  // logits [B, 1, V'] -> [B, C]
}

at::Tensor Objective::mask_other_tasks(const at::Tensor& scores, const Batch& batch) const {
  const auto& per_task = task_->task_class_mask();
  if (per_task.empty()) return scores;
  PTLAB_CHECK(batch.task_ids.defined(), "task {}: task.task_classes needs a task id on every example",
              task_->name());
  const auto tasks = static_cast<int64_t>(per_task.size()), classes = scores.size(1);
  std::vector<int64_t> flat;
  for (const auto& row : per_task) flat.insert(flat.end(), row.begin(), row.end());
  PTLAB_ASSERT(static_cast<int64_t>(flat.size()) == tasks * classes, "task class mask of the wrong size");
  const at::Tensor allowed = at::tensor(flat, at::kLong).view({tasks, classes}).to(scores.device()).ne(0);  // [T, C]
  const at::Tensor rows = allowed.index_select(0, batch.task_ids.to(scores.device()));                // [B, C]
  return scores.masked_fill(rows.logical_not(), -std::numeric_limits<float>::infinity());
}

at::Tensor Objective::tag_scores(const models::BackboneOutput& output, const Batch& batch) const {
  PTLAB_CHECK(batch.token_labels.defined(), "task {}: a token_classification batch without token labels",
              task_->name());
  PTLAB_ASSERT(output.last_hidden_state.defined() && output.last_hidden_state.size(1) == batch.token_labels.size(1),
               "the hidden states [B, T, d] do not line up with the token labels [B, T]");
  return head_->forward(output.last_hidden_state);  // [B, T, d] -> [B, T, C] float32
}

at::Tensor Objective::loss(const models::BackboneOutput& output, const Batch& batch) const {
  if (tokens_) return token_loss(tag_scores(output, batch), batch.token_labels);
  if (!classification_) {
    PTLAB_CHECK(batch.token_labels.defined(), "task {}: an lm batch without token labels", task_->name());
    return causal_lm_loss(output.logits, batch.token_labels);
  }
  auto scores = class_scores(output, batch).to(at::kFloat);  // [B, C]: the loss in fp32 whatever the backbone dtype
  if (batch.soft_labels.defined()) {
    PTLAB_CHECK(batch.soft_labels.size(1) == scores.size(1),
                "task {}: soft labels with {} classes for a task of {} classes", task_->name(),
                batch.soft_labels.size(1), scores.size(1));
    return soft_label_loss(scores, batch.soft_labels.to(scores.device()));
  }
  auto labels = batch.labels.to(scores.device());
  PTLAB_CHECK(labels.ge(0).all().item<bool>(),
              "task {}: a training example without a label (class -1); training "
              "needs labeled examples",
              task_->name());
  return at::cross_entropy_loss(scores, labels, {}, at::Reduction::Mean, kIgnoreIndex);
}

at::Tensor soft_label_loss(const at::Tensor& scores, const at::Tensor& q) {
  PTLAB_ASSERT(scores.dim() == 2 && q.dim() == 2 && q.size(0) == scores.size(0) && q.size(1) == scores.size(1),
               "soft_label_loss: scores and q differ in shape");
  auto log_p = at::log_softmax(scores.to(at::kFloat), 1);
  // 0 * log p(-inf) is taken as 0: a class masked out (task_classes) with q = 0 adds nothing.
  auto terms = at::where(q > 0, q.to(at::kFloat) * log_p, at::zeros_like(log_p));
  return -terms.sum(1).mean();
}

at::Tensor Objective::predict(const models::BackboneOutput& output, const Batch& batch) const {
  PTLAB_ASSERT(classification_, "predict on task type {}", task_->type());
  at::Tensor scores = class_scores(output, batch);
  if (calibrate_) scores = calibrate_(scores.to(at::kFloat));
  return scores.argmax(1);
}

std::pair<double, int64_t> Objective::score(const models::BackboneOutput& output, const Batch& batch,
                                            MetricSet& metrics) const {
  if (tokens_) {
    const at::Tensor scores = tag_scores(output, batch);                                    // [B, T, C]
    const at::Tensor gold = batch.token_labels.to(at::kCPU).reshape({-1}).contiguous();     // [B*T]
    const at::Tensor predicted = scores.argmax(2).to(at::kCPU).reshape({-1}).contiguous();  // [B*T]
    metrics.add_tags(
        std::vector<int64_t>(predicted.data_ptr<int64_t>(), predicted.data_ptr<int64_t>() + predicted.numel()),
        std::vector<int64_t>(gold.data_ptr<int64_t>(), gold.data_ptr<int64_t>() + gold.numel()));
    const int64_t count = gold.ne(kIgnoreIndex).sum().item<int64_t>();
    if (count == 0) return {0.0, 0};
    const at::Tensor sum = at::cross_entropy_loss(scores.reshape({-1, scores.size(2)}), gold.to(scores.device()), {},
                                                  at::Reduction::Sum, kIgnoreIndex);
    return {sum.item<double>(), count};
  }
  if (!classification_) {
    auto [nll, count] = causal_lm_nll(output.logits, batch.token_labels);
    metrics.add_token_loss(nll, count);
    return {nll, count};
  }
  auto scores = class_scores(output, batch).to(at::kFloat);  // [B, C]: the loss in fp32 whatever the backbone dtype
  if (calibrate_) scores = calibrate_(scores);
  auto predicted = scores.argmax(1).to(at::kCPU);
  std::vector<int64_t> pred(predicted.data_ptr<int64_t>(), predicted.data_ptr<int64_t>() + predicted.numel());
  auto gold_t = batch.labels.to(at::kCPU).contiguous();
  std::vector<int64_t> gold(gold_t.data_ptr<int64_t>(), gold_t.data_ptr<int64_t>() + gold_t.numel());
  metrics.add_classes(pred, gold);
  auto labeled = gold_t.ge(0);
  const int64_t count = labeled.sum().item<int64_t>();
  if (count == 0) return {0.0, 0};
  auto rows = labeled.nonzero().view({-1}).to(scores.device());
  auto sum = at::cross_entropy_loss(scores.index_select(0, rows),
                                    batch.labels.to(scores.device()).index_select(0, rows), {}, at::Reduction::Sum);
  return {sum.item<double>(), count};
}

}  // namespace ptlab::tasks
