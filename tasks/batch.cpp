#include "tasks/batch.h"

#include "framework/core/error.h"

#include <algorithm>

namespace ptlab::tasks {
namespace {

at::Tensor to_tensor(const std::vector<int64_t>& values, int64_t rows, int64_t cols) {
  // values: row-major [rows, cols]
  return at::tensor(values, at::kLong).view({rows, cols});
}

}  // namespace

Batch collate(const std::vector<RenderedExample>& examples, const CollateOptions& options,
              const std::vector<int64_t>& example_ids) {
  PTLAB_ASSERT(!examples.empty(), "collate of an empty batch");
  PTLAB_ASSERT(example_ids.empty() || example_ids.size() == examples.size(), "collate: {} ids for {} examples",
               example_ids.size(), examples.size());
  const auto rows = static_cast<int64_t>(examples.size());
  int64_t width = 0;
  int64_t target_width = 0;
  bool any_token_labels = false;
  bool any_targets = false;
  const int64_t soft = static_cast<int64_t>(examples[0].all_soft_positions().size());
  for (std::size_t i = 0; i < examples.size(); ++i) {
    const auto& e = examples[i];
    PTLAB_CHECK(static_cast<int64_t>(e.input_ids.size()) == e.length && e.length > 0,
                "batch row {}: an example of {} tokens with length {} (an empty example cannot be batched)", i,
                e.input_ids.size(), e.length);
    width = std::max(width, e.length);
    any_token_labels = any_token_labels || !e.token_labels.empty();
    if (options.seq2seq_targets && !e.target_ids.empty()) {
      any_targets = true;
      target_width = std::max<int64_t>(target_width, static_cast<int64_t>(e.target_ids.size()) +
                                                         (options.eos_id >= 0 ? 1 : 0));
    }
    PTLAB_CHECK((e.task_id >= 0) == (examples[0].task_id >= 0),
                "batch row {} {} but row 0 {}; a mixed-task batch needs a task id on every example", i,
                e.task_id >= 0 ? "has a task id" : "has no task id", examples[0].task_id >= 0 ? "has one" : "has none");
    const auto n = static_cast<int64_t>(e.all_soft_positions().size());
    PTLAB_CHECK(n == soft, "batch row {} has {} virtual tokens but row 0 has {}; every example of a batch needs the "
                "same soft slots", i, n, soft);
  }

  std::vector<int64_t> ids(rows * width, options.pad_id), mask(rows * width, 0), types(rows * width, 0);
  std::vector<int64_t> token_labels(any_token_labels ? rows * width : 0, kIgnoreIndex);
  std::vector<int64_t> soft_positions;
  soft_positions.reserve(rows * soft);
  std::vector<int64_t> labels(rows), mask_positions(rows), lengths(rows), task_ids(rows);
  Batch batch;
  for (int64_t r = 0; r < rows; ++r) {
    const auto& e = examples[r];
    std::copy(e.input_ids.begin(), e.input_ids.end(), ids.begin() + r * width);
    std::fill_n(mask.begin() + r * width, e.length, 1);
    if (!e.token_type_ids.empty()) std::copy(e.token_type_ids.begin(), e.token_type_ids.end(), types.begin() + r * width);
    if (!e.token_labels.empty()) {
      PTLAB_ASSERT(static_cast<int64_t>(e.token_labels.size()) == e.length, "token labels of row {}", r);
      std::copy(e.token_labels.begin(), e.token_labels.end(), token_labels.begin() + r * width);
    }
    for (int64_t p : e.all_soft_positions()) soft_positions.push_back(p);
    labels[r] = e.label;
    mask_positions[r] = e.mask_position;
    lengths[r] = e.length;
    task_ids[r] = e.task_id;
    batch.num_tokens += e.length;
  }
  batch.input_ids = to_tensor(ids, rows, width);               // [B, T]
  batch.attention_mask = to_tensor(mask, rows, width);         // [B, T]
  batch.token_type_ids = to_tensor(types, rows, width);        // [B, T]
  if (soft > 0) batch.soft_positions = to_tensor(soft_positions, rows, soft);  // [B, n]
  if (any_token_labels) batch.token_labels = to_tensor(token_labels, rows, width);  // [B, T]
  batch.labels = at::tensor(labels, at::kLong);                // [B]
  batch.mask_positions = at::tensor(mask_positions, at::kLong);
  batch.lengths = at::tensor(lengths, at::kLong);
  if (examples[0].task_id >= 0) batch.task_ids = at::tensor(task_ids, at::kLong);  // [B]
  batch.example_ids = example_ids;
  if (!examples[0].soft_labels.empty()) {
    // Soft targets: all rows or none, each with the same number of classes.
    const auto classes = static_cast<int64_t>(examples[0].soft_labels.size());
    std::vector<float> soft;
    soft.reserve(rows * classes);
    for (int64_t r = 0; r < rows; ++r) {
      PTLAB_CHECK(static_cast<int64_t>(examples[r].soft_labels.size()) == classes,
                  "batch row {} has {} soft labels but row 0 has {}; every row of a soft-label batch needs one per "
                  "class", r, examples[r].soft_labels.size(), classes);
      soft.insert(soft.end(), examples[r].soft_labels.begin(), examples[r].soft_labels.end());
    }
    batch.soft_labels = at::tensor(soft, at::kFloat).reshape({rows, classes});
  }

  if (any_targets) {
    // Decoder: input [start] + target[:-1], labels target (+ eos), right-padded.
    std::vector<int64_t> dec_in(rows * target_width, options.pad_id), dec_mask(rows * target_width, 0),
        dec_labels(rows * target_width, kIgnoreIndex);
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<int64_t> target = examples[r].target_ids;
      if (options.eos_id >= 0) target.push_back(options.eos_id);
      for (std::size_t t = 0; t < target.size(); ++t) {
        dec_labels[r * target_width + t] = target[t];
        dec_in[r * target_width + t] = t == 0 ? options.decoder_start_id : target[t - 1];
        dec_mask[r * target_width + t] = 1;
      }
    }
    batch.decoder_input_ids = to_tensor(dec_in, rows, target_width);
    batch.decoder_attention_mask = to_tensor(dec_mask, rows, target_width);
    batch.decoder_labels = to_tensor(dec_labels, rows, target_width);
  }
  return batch;
}

void prepend_soft_tokens(RenderedExample& example, int64_t n, int64_t placeholder) {
  PTLAB_ASSERT(n >= 0, "prepend_soft_tokens({})", n);
  if (n == 0) return;
  auto shift = [n](int64_t& p) {
    if (p >= 0) p += n;
  };
  example.input_ids.insert(example.input_ids.begin(), n, placeholder);
  if (!example.token_type_ids.empty()) example.token_type_ids.insert(example.token_type_ids.begin(), n, 0);
  if (!example.token_labels.empty()) example.token_labels.insert(example.token_labels.begin(), n, kIgnoreIndex);
  for (auto& group : example.soft_positions)
    for (auto& p : group) p += n;
  std::vector<int64_t> front(n);
  for (int64_t i = 0; i < n; ++i) front[i] = i;
  example.soft_positions.insert(example.soft_positions.begin(), std::move(front));
  shift(example.mask_position);
  shift(example.cls_position);
  shift(example.target_begin);
  shift(example.target_end);
  for (auto& p : example.word_starts) shift(p);
  example.length += n;
}

}  // namespace ptlab::tasks
