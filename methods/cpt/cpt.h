// CPT, Context-aware Prompt Tuning (Blau et al. 2024, arXiv 2410.17222; Hugging Face PEFT's CPT, the
// authors' own implementation, PEFT 0.14): the "prompt" is a context of k in-context demonstrations, the
// token embeddings of their text plus a trained, norm-bounded offset, in front of every example. The
// context's label words are never changed and are predicted in the loss, alongside the query's label.
//
//   method:                      # configs/method/cpt.yaml
//     name: cpt
//     context_examples: 4        # k demonstrations drawn from the task's train split with the run's seed
//     separator: "\n"            # text after each demonstration (type 0)
//     context_token_ids: null    # or an explicit context (PEFT's cpt_token_ids) ...
//     context_type_mask: null    # ... with its type ids (PEFT's cpt_tokens_type_mask); then no draw
//     epsilon_input: 0.1         # PEFT's opt_projection_epsilon: L2 radius of an input token's offset
//     epsilon_format: 0.1        # PEFT's opt_projection_format_epsilon: the same for template tokens
//     loss_weighting: none       # none | decay (PEFT's opt_weighted_loss_type)
//     decay_factor: 1.0          # gamma in (0, 1] (PEFT's opt_loss_decay_factor)
//
// The context. n tokens with a type id each: demonstration j (0-based) has 4j+1 on its input template
// (the template's text before its last input field), 4j+2 on its input text (the fields), 4j+3 on its
// output template (the text after the last field), 4j+4 on its label word; separators, special tokens and
// anything else get 0. Drawn demonstrations are rendered part by part from the task's template (each part
// tokenised on its own, as PEFT's notebook does), the label word is the verbalizer's first word of the
// example's class, put at the {mask} or after the template's end. The context sits in front of every
// example (front_soft_tokens() = n), which is PEFT's layout: [context][tokens][pads], positions 0..n+T-1.
//
// Parameters. base = E[context ids] float32, frozen (PEFT's embedding.weight, a buffer here), and the
// trained delta [n, d] float32, init 0 (PEFT's delta_embedding.weight; export_state / prompt.safetensors
// hold "delta" plus the context: "context_embeddings", "context_token_ids", "context_type_mask").
//  - Gradient mask: a hook multiplies delta's gradient by 1[t % 4 in {1, 2, 3}], so label tokens and
//    separators (t % 4 == 0) never move.
//  - Projection at the start of every prompt() (PGD), in place: eps_i = epsilon_format * sqrt(d / 2048) for
//    template tokens (t > 0, t % 4 in {1, 3}), epsilon_input * sqrt(d / 2048) for inputs (t > 0, t % 4 == 2),
//    1e-10 otherwise; delta_i <- delta_i * eps_i / max(|delta_i|_2, eps_i).
//  - The context row i is base_i + delta_i, cast to the backbone's dtype.
//
// The loss (a method loss, Method::loss(): the trainer uses it instead of the objective's). Next-token
// cross-entropy over the full vocabulary at every label token of the context (t > 0, t % 4 == 0; the
// logits one position earlier) and at the query's label: the labelled tokens of batch.token_labels for lm
// batches, else (classification) the first token of the class's label word read at batch.read_positions.
// The query's label group is max(context type) + 4 (PEFT shifts the query's own 1..4 types by the context's
// maximum), so it is the last group. Weights: none = 1; decay = gamma^r for the r-th label group counted back
// from the last one present in the row (the query 1, the last demonstration gamma, ...). The loss is PEFT's
// mean of the weighted terms over every counted token of the batch (not a weighted mean).
//
// PEFT adapter (cpt_peft.cpp): adapter/ holds adapter_config.json (peft_type CPT with cpt_token_ids,
// cpt_mask, cpt_tokens_type_mask and the options) and prompt_embeddings = base + projected delta [n, d].
// Loading one (load_state of the directory) takes the context from the config and base = the saved rows,
// delta = 0, exactly what PEFT's from_pretrained does.
//
// Errors (one line each, with the key path): no context (k = 0 or an empty explicit list), both a draw and
// an explicit context, ids and type mask of different lengths, a negative type id, a context whose last
// group is not a label group (the query's label would not count), epsilon <= 0, a decay factor outside
// (0, 1], an unknown loss_weighting, a backbone that is not a causal LM (BERT, T5: PEFT's CPT is CAUSAL_LM
// only), a template with {soft:N} slots, fewer train examples than k, a context plus batch longer than the
// model's positions.
#pragma once

#include "methods/method.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ptlab::methods {

enum class CptLossWeighting { kNone, kDecay };

struct CptConfig {
  std::optional<int64_t> context_examples = 4;  ///< k drawn demonstrations; unused with an explicit context
  std::string separator = "\n";
  std::vector<int64_t> context_token_ids;  ///< explicit context (empty: draw k)
  std::vector<int64_t> context_type_mask;
  double epsilon_input = 0.1;
  double epsilon_format = 0.1;
  CptLossWeighting loss_weighting = CptLossWeighting::kNone;
  double decay_factor = 1.0;
  std::string where = "method";

  /// Decodes the `method:` mapping and calls reader.finish(); errors name the key path (see the top).
  static CptConfig decode(config::Reader reader);
  std::string at(const std::string& key) const { return where + "." + key; }
  bool explicit_context() const { return !context_token_ids.empty() || !context_type_mask.empty(); }
};

/// A CPT context: token ids and their type ids (see the top of this file).
struct CptContext {
  std::vector<int64_t> token_ids;
  std::vector<int64_t> type_mask;
};

/// k demonstrations of `train` (drawn without replacement with `seed`), rendered by `task`'s template with
/// the label word filled in, each followed by `separator`. Errors (naming `where`): a task without a
/// verbalizer's label words, a template with soft slots, fewer labelled examples than k.
CptContext draw_cpt_context(const tasks::Task& task, const text::Tokenizer& tokenizer,
                            const std::vector<data::Example>& train, int64_t k, const std::string& separator,
                            uint64_t seed, const std::string& where);

/// PEFT's projection radii per context token [n] float32: epsilon_format * sqrt(d / 2048) on template
/// tokens, epsilon_input * sqrt(d / 2048) on input tokens, 1e-10 elsewhere.
at::Tensor cpt_epsilon(const std::vector<int64_t>& type_mask, int64_t d, double epsilon_input, double epsilon_format);
/// delta [n, d] projected into the balls of radius eps [n] (rows of norm 0 stay 0).
at::Tensor cpt_project(const at::Tensor& delta, const at::Tensor& eps);

class Cpt final : public Method {
 public:
  /// Builds the context (explicit, or drawn from context.train) and the parameters. Without train examples
  /// (`ptlab eval`) the context is empty until load_state() / import_state() brings one. Errors: see the top.
  Cpt(CptConfig config, const MethodContext& context);

  std::string name() const override { return "cpt"; }
  int64_t front_soft_tokens(const tasks::Template& tmpl) const override { return length(); }

  /// Projects delta (in place), then inputs_embeds = E[input_ids] with base + delta at the n front soft
  /// positions. Errors: a batch with another number of soft tokens, or longer than max_positions.
  models::BackboneInput prompt(const tasks::Batch& batch) override;
  /// Asks for the logits at the context's and the query's label positions (CPT's loss).
  void request_loss(const tasks::Batch& batch, models::BackboneInput& input) override;
  /// CPT's loss (see the top) from the logits request_loss() asked for.
  at::Tensor loss(const models::BackboneOutput& output, const tasks::Batch& batch) override;

  NamedTensors trainable_parameters() override;
  std::map<std::string, at::Tensor> export_state() override;
  /// "delta" (and optionally the context tensors export_state() writes, which replace the context, of any
  /// length: a cpt built without train examples, as `ptlab eval` builds it, takes its context from here).
  void import_state(const std::map<std::string, at::Tensor>& state, const std::string& where) override;
  void save_exports(const std::string& dir) override;
  void load_state(const std::string& path) override;

  const CptConfig& config() const { return config_; }
  int64_t length() const { return static_cast<int64_t>(context_.token_ids.size()); }
  const CptContext& context() const { return context_; }
  /// base [n, d] float32 (frozen) and delta [n, d] float32 (trained).
  const at::Tensor& base() const { return base_; }
  const at::Tensor& delta() const { return delta_; }
  /// base + projected delta [n, d] float32 on the CPU: PEFT's saved prompt_embeddings.
  at::Tensor peft_prompt_embeddings() const;
  /// The label-group id of the query's label: max(context type) + 4.
  int64_t query_group() const { return query_group_; }

 private:
  void set_context(CptContext context);  // validates; sets masks, eps, query group
  void project();

  CptConfig config_;
  models::Backbone* backbone_;
  const tasks::Task* task_;
  CptContext context_;
  at::Tensor base_;       // [n, d] float32, buffer "context_embeddings"
  at::Tensor delta_;      // [n, d] float32, parameter "delta"
  at::Tensor grad_mask_;  // [n, 1] float32
  at::Tensor eps_;        // [n] float32
  int64_t query_group_ = 0;
  // The context's loss entries: logits position i - 1 predicts label token i.
  std::vector<int64_t> ctx_positions_, ctx_targets_, ctx_groups_;
  // What request_loss() prepared for loss(): targets [B, K] (-100 = not counted) and weights [B, K].
  at::Tensor loss_targets_, loss_weights_;
};

}  // namespace ptlab::methods
