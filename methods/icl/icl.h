// In-context learning (Brown et al. 2020, GPT-3's "few-shot" setting) with optional contextual
// calibration (Zhao et al. 2021, "Calibrate Before Use"): k labelled demonstrations drawn from the task's
// train split are written in front of every query, and the frozen model's verbalizer scores the query's
// classes. Nothing trains: trains() is false, so the trainer only evaluates the dev and test splits.
//
//   method:                      # configs/method/icl.yaml
//     name: icl
//     shots: 4                   # k: demonstrations per class (per_class: true) or in all (false)
//     per_class: true
//     order: shuffled            # shuffled | grouped (class by class) | interleaved (c0 c1 c2 c0 c1 ...)
//     separator: "\n\n"          # text after each demonstration (so also between the last one and the query)
//     calibrate: false           # contextual calibration
//     content_free: ["N/A", "", "[MASK]"]   # its content-free inputs (p_cf is the mean of their p)
//
// The draw. Only train rows with a class of the task's verbalizer count. per_class: for each class c (class
// order), a permutation of its rows from a generator seeded with the run's seed, first k taken; else one
// permutation of all labelled rows, first k. The same demonstrations serve every query of the run (and
// `ptlab eval`, which loads the train split for this method: MethodEntry::needs_train_split, and draws the
// same ones with the same seed). Order: shuffled = the drawn demonstrations permuted by the same generator;
// grouped = class by class (per_class) or in draw order grouped by class; interleaved = round robin over the
// classes in class order.
//
// A demonstration's tokens. The task renders the example exactly as it renders a query (task.encode: the
// same template, pieces, spacing and truncation), then its class's first label word goes into the answer
// slot the way rank classification puts it (Verbalizer::rank_candidates: at {mask}, or appended when the
// template has none — the tokens the verbalizer scores for the query). The tokenizer's wrapping special
// tokens are then dropped from the demonstration: leading bos / cls and trailing eos / sep ids. Every
// demonstration is followed by the separator (tokenised on its own, attached). So each demonstration reads
// exactly as the query does, and the whole input is one text:
//   GPT-2:   demo1 SEP demo2 SEP ... query
//   Llama:   <s> demo1 SEP ... query            (one BOS, at the very start)
//   BERT:    [CLS] demo1 SEP ... query [SEP]    (the query keeps its [MASK])
// Consequences of "rendered as a query is": a demonstration longer than task.max_length is shortened the
// same way (its shortenable fields, from their end); with SentencePiece (Llama) every demonstration and the
// query start with the dummy prefix "▁", so after a "\n" separator they decode with a leading space
// (tokenising the joined string in one go would not put it there); a causal LM's query keeps the mask
// placeholder (GPT-2: <|endoftext|>, Llama: <unk>) after its answer position, where nothing reads it.
//
// Layout. front_soft_tokens() = n, the demonstrations' tokens with their separators, so the trainer puts n
// placeholder positions in front of each rendered query; prompt() writes the query's leading special tokens
// (its first tokens among the bos / cls ids) to position 0.., then the n demonstration ids, and feeds
// input_ids (no embeddings): every position after the n + lead first ones is untouched, so the task's read
// positions (mask, answer position) stay right. Position ids are 0..T-1 as for any text.
//
// Contextual calibration (calibrate: true). p = softmax of the verbalizer's class scores [B, C]; p_cf = the
// mean over the content-free strings of p for the query whose text_a and text_b are that string, with the
// same demonstrations; calibrated scores q = softmax(W p), W = diag(p_cf)^-1 (Zhao et al.'s diagonal W, b =
// 0), and predictions argmax q. The objective gets it as Method::score_calibration (eval/loss is then the
// cross-entropy of log q); p_cf is computed at the first scoring (backbone in eval mode, no gradient) and
// recorded by export_state ("content_free_probs").
//
// State. export_state() (prompt.safetensors, metrics.h5 artifacts) holds "context_token_ids" [n], the
// demonstrations' "demonstration_lengths" [m] (tokens with separator), "demonstration_rows" [m] (their
// Example::index: the 0-based data row in the train file), "demonstration_classes" [m]; import_state()
// (load_state, `ptlab eval --from RUN_DIR`) takes the demonstrations from there. save_exports() writes
// dir/demonstrations.jsonl (one line per demonstration: row, source, label, text fields, the exact text the
// model reads) and dir/icl_context.txt (the decoded demonstrations with their separators: exactly what stands
// between a query's leading special token, if any, and the query's own text).
//
// Errors (one line each, with the key path): shots < 1, per_class with a class that has fewer than k train
// examples, k larger than the labelled train split, no train split, an empty content_free list with
// calibrate, an unknown order, a task without verbalizer label words, a template with {soft:N} slots,
// demonstrations that alone fill the model's positions, and at scoring a query that with the demonstrations
// exceeds the positions (the message says how many demonstrations fit and suggests method.shots=N).
#pragma once

#include "methods/method.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ptlab::methods {

enum class IclOrder { kShuffled, kGrouped, kInterleaved };

struct IclConfig {
  int64_t shots = 4;
  bool per_class = true;
  IclOrder order = IclOrder::kShuffled;
  std::string separator = "\n\n";
  bool calibrate = false;
  std::vector<std::string> content_free = {"N/A", "", "[MASK]"};
  std::string where = "method";

  /// Decodes the `method:` mapping and calls reader.finish(); errors name the key path (see the top).
  static IclConfig decode(config::Reader reader);
  std::string at(const std::string& key) const { return where + "." + key; }
};

/// One drawn demonstration: the train row and its class, and its tokens in the prompt.
struct IclDemonstration {
  int64_t row = -1;         ///< index into the train split vector
  int64_t index = -1;       ///< data::Example::index of that row (stable row id in its file)
  int64_t class_index = -1;
  std::vector<int64_t> token_ids;  ///< the rendered demonstration with its label word, then the separator
};

/// The train rows to show, in prompt order, as (row, class) pairs (see the top for the draw and the order).
/// Errors name `config.at(...)`: shots < 1, a class with fewer than k rows (per_class), fewer labelled rows
/// than k, a task without verbalizer label words.
std::vector<std::pair<int64_t, int64_t>> draw_icl_rows(const tasks::Task& task, const std::vector<data::Example>& train,
                                                       const IclConfig& config, uint64_t seed);

/// The tokens of `example` shown as a demonstration of class `class_index` (without the separator): the
/// task's rendering with the class's first label word in the answer slot, the wrapping specials dropped.
std::vector<int64_t> render_icl_demonstration(const tasks::Task& task, const data::Example& example,
                                              int64_t class_index);

/// Contextual calibration: log q = log_softmax(p / p_cf) with p = softmax(scores); scores [B, C] (log-probs or
/// any class scores), p_cf [C] > 0. Returns [B, C] float32.
at::Tensor contextual_calibration(const at::Tensor& scores, const at::Tensor& p_cf);

class InContextLearning final : public Method {
 public:
  /// Draws and renders the demonstrations from context.train. Errors: see the top.
  InContextLearning(IclConfig config, const MethodContext& context);

  std::string name() const override { return "icl"; }
  bool trains() const override { return false; }
  int64_t front_soft_tokens(const tasks::Template& tmpl) const override { return length(); }

  /// input_ids with the demonstrations in the n front positions and the query's leading special tokens
  /// moved to the very front. Errors: another number of front positions, a batch longer than the model's
  /// positions (saying how many demonstrations fit).
  models::BackboneInput prompt(const tasks::Batch& batch) override;

  std::function<at::Tensor(const at::Tensor&)> score_calibration() override;

  NamedTensors trainable_parameters() override { return {}; }
  std::map<std::string, at::Tensor> export_state() override;
  void import_state(const std::map<std::string, at::Tensor>& state, const std::string& where) override;
  void save_exports(const std::string& dir) override;

  const IclConfig& config() const { return config_; }
  const std::vector<IclDemonstration>& demonstrations() const { return demos_; }
  /// n: all demonstration tokens with their separators.
  int64_t length() const { return static_cast<int64_t>(context_ids_.size()); }
  /// The demonstrations' tokens in prompt order [n].
  const std::vector<int64_t>& context_ids() const { return context_ids_; }
  /// The model's positions (BackboneInfo::max_positions, else config.json's max_position_embeddings; 0: none).
  int64_t max_positions() const { return max_positions_; }
  /// p_cf [C] float32 (computed on first use; calibrate only).
  at::Tensor content_free_probs();
  /// The number of leading demonstrations that fit before a query of `query_tokens` tokens.
  int64_t demonstrations_that_fit(int64_t query_tokens) const;

 private:
  void set_demonstrations(std::vector<IclDemonstration> demos);
  // "use method.shots=N" for `fit` leading demonstrations that fit (per class when per_class).
  std::string fit_advice(int64_t fit) const;
  /// The batch's input_ids with the context written in (rows, on the CPU).
  at::Tensor context_input_ids(const tasks::Batch& batch) const;

  IclConfig config_;
  models::Backbone* backbone_;
  const tasks::Task* task_;
  const std::vector<data::Example>* train_;
  std::vector<IclDemonstration> demos_;
  std::vector<int64_t> context_ids_;
  std::vector<int64_t> lead_ids_;  // bos / cls ids: a query's leading special tokens
  int64_t query_lead_ = 0;         // how many of them a rendered query starts with
  int64_t max_positions_ = 0;
  at::Tensor p_cf_;  // [C] float32 on the CPU; undefined until computed
};

}  // namespace ptlab::methods
