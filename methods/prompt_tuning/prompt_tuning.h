// Prompt Tuning (Lester et al. 2021, "The Power of Scale for Parameter-Efficient Prompt Tuning"; Hugging
// Face PEFT's PROMPT_TUNING): n trainable input embeddings, the only parameters that train, put where the
// task template has its {soft:N} slots (hook point 1 of DESIGN.md). The backbone stays frozen.
//
//   method:                  # configs/method/prompt_tuning.yaml
//     name: prompt_tuning
//     length: 20             # n virtual tokens; null = the template's {soft:N} total
//     init: sampled_vocab    # uniform | normal | sampled_vocab | text | class_label | file | mask
//     init_range: 0.5        # uniform: U[-r, r]
//     init_std: 1.0          # normal: N(0, std^2)
//     sample_top_k: 5000     # sampled_vocab (and class_label's leftover rows): the first k rows; 0 (or k
//                            #   beyond the vocabulary) = all
//     init_text: null        # text: the words whose embeddings start the prompt
//     init_file: null        # file: a ptlab prompt.safetensors or a PEFT adapter directory
//     num_tasks: 1           # mixed-task batches: one prompt per task id (null: one per task.task_names)
//
// Where the virtual tokens go. A template with {soft:N} groups decides: the prompt's rows fill the soft
// positions in template order (rows 0..N1-1 the first group, and so on), so prefix, infix and suffix
// prompts are all one rule. A template without soft groups gets `length` tokens in front of everything
// (front_soft_tokens(); the trainer calls tasks::prepend_soft_tokens), which is PEFT's layout exactly:
// [prompt][tokens][pads], positions 0..n+T-1, attention 1 on the prompt, n ignored labels in front.
// `length` null takes the template's total; a template whose total differs from `length` is an Error.
//
// Initialisations (prompt_init.h): uniform (Lester's "random uniform", U[-0.5, 0.5]), normal (PEFT's
// RANDOM: nn.Embedding's N(0, 1), bit-identical for the same seed), sampled_vocab (Lester: rows of the
// 5,000 first vocabulary entries; sample_top_k 0 = PEFT's SAMPLE_VOCAB over the whole vocabulary), text
// (PEFT's TEXT: the embeddings of tokenizer(init_text) with special tokens, cut or repeated to n), class_label
// (Lester: the mean sub-token embedding of each class's label word in the first C rows, sampled vocabulary
// after), file (transfer: a prompt saved before), mask (PPT's init for prompt pre-training, Gu et al. 2022:
// every row the embedding of the token a template writes at {mask} — the tokenizer's mask token, else T5's
// <extra_id_0>, else the placeholder id, tasks::Template::mask_token_id). Random draws use a CPU generator seeded with the run's
// seed, so every rank of a data-parallel trial starts from the same prompt.
//
// Mixed-task batches. With num_tasks T > 1 every task has its own n-token prompt and each batch row gets
// the prompt of its task id (Batch::task_ids, from the task's `task_names`), so one run trains and
// serves T tasks in one batch; PEFT's prompt tuning has one prompt per adapter. Each task's prompt is
// initialised as a single prompt would be (random inits draw task after task from the one seeded
// generator; text, class_label and file give every task the same start). The PEFT export writes one
// adapter per task (dir/adapter/<task name>/), each loadable by PEFT on its own.
//
// Parameter: "prompt" [T * n, d] float32 (rows t*n .. t*n+n-1: task t; T = 1 is [n, d]) on the backbone's device (export_state() / prompt.safetensors hold it
// under that name); it is cast to the backbone's dtype (bf16 on GPU) where it enters the embeddings.
//
// Encoder-decoder models (T5). PEFT allocates n * 2 rows for SEQ_2_SEQ_LM (num_transformer_submodules 2)
// but its prompt-tuning forward feeds only rows 0..n-1, to the encoder; rows n..2n-1 never change. ptlab
// keeps just the n encoder rows as the parameter (no dead weights, no dead optimizer state) and prompts the
// encoder input; the decoder input passes through. Import: file init from a PEFT adapter takes its rows
// 0..n-1. Export: peft_prompt_embeddings() gives the [n * S, d] table PEFT loads, the n trained rows
// followed (T5) by n rows of zeros in the unused decoder half — PEFT reads back exactly what it would use.
#pragma once

#include "methods/method.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ptlab::methods {

enum class PromptInit { kUniform, kNormal, kSampledVocab, kText, kClassLabel, kFile, kMask };

/// "uniform", "normal", "sampled_vocab", "text", "class_label", "file", "mask".
const char* prompt_init_name(PromptInit init);
/// All of them, in that order.
std::vector<std::string> prompt_init_names();

struct PromptTuningConfig {
  std::optional<int64_t> length = 20;  ///< nullopt: the template's {soft:N} total
  PromptInit init = PromptInit::kSampledVocab;
  double init_range = 0.5;
  double init_std = 1.0;
  int64_t sample_top_k = 5000;
  std::optional<std::string> init_text;
  std::optional<std::string> init_file;
  std::optional<int64_t> num_tasks = 1;  ///< nullopt: the task's task_names count (1 when it has none)
  std::string where = "method";  ///< the key path of the mapping, for messages ("method")

  /// Decodes the `method:` mapping (its `name` is accepted and ignored) and calls reader.finish(). Errors
  /// name the key path: length < 1, an unknown init (with did-you-mean), init_range / init_std <= 0,
  /// sample_top_k < 0, init text without init_text or with an empty one, init file without init_file,
  /// num_tasks < 1.
  static PromptTuningConfig decode(config::Reader reader);

  /// "method.length" for key "length".
  std::string at(const std::string& key) const { return where + "." + key; }
};

class PromptTuning final : public Method {
 public:
  /// Resolves the length against context.task's template, checks it against the backbone's
  /// max_positions, and initialises the prompt (see the top of this file). Errors name the key path.
  PromptTuning(PromptTuningConfig config, const MethodContext& context);

  std::string name() const override { return "prompt_tuning"; }

  /// `length` when `tmpl` has no soft groups (the tokens go in front), else 0.
  int64_t front_soft_tokens(const tasks::Template& tmpl) const override;

  /// inputs_embeds = backbone.embed(input_ids) [B, T, d] with prompt row i written at soft position i of
  /// every row (cast to the backbone dtype), plus the batch's masks (batch_input()). Errors: a batch whose
  /// soft-token count differs from the prompt length, or longer than the model's max_positions.
  models::BackboneInput prompt(const tasks::Batch& batch) override;

  const PromptTuningConfig& config() const { return config_; }
  /// n, the number of virtual tokens (of each task).
  int64_t length() const { return prompt_.size(0) / num_tasks_; }
  /// T, the number of per-task prompts (1 unless num_tasks says otherwise).
  int64_t num_tasks() const { return num_tasks_; }
  /// The parameter [T * n, d] float32 (task t: rows t*n .. t*n+n-1).
  const at::Tensor& prompt_embeddings() const { return prompt_; }
  /// Task t's prompt [n, d] (a view of the parameter).
  at::Tensor task_prompt(int64_t t) const { return prompt_.narrow(0, t * length(), length()); }
  /// The ids whose embeddings started the prompt (text init), else empty.
  const std::vector<int64_t>& init_token_ids() const { return init_token_ids_; }
  /// PEFT's prompt_embeddings table [n * S, d] float32 on the CPU of task `task`'s prompt: S = 2 for
  /// encoder-decoder backbones (the decoder half zero, unused by PEFT's prompt tuning), else 1. For
  /// io::export_peft_prompt_adapter.
  at::Tensor peft_prompt_embeddings(int64_t task = 0) const;

  /// Writes dir/adapter: a PEFT PROMPT_TUNING adapter of the prompt (prompt_tuning_peft.cpp), loadable by
  /// PeftModel.from_pretrained on the same base model; with T > 1 one per task, dir/adapter/<task name>.
  void save_exports(const std::string& dir) override;
  /// A prompt.safetensors, or a PEFT prompt-tuning adapter directory (its first n rows: the encoder's for
  /// seq2seq; T = 1 only). A prompt of another shape is an Error naming both shapes.
  void load_state(const std::string& path) override;

 private:
  // One task's initial prompt [n, d] float32; sets init_token_ids_.
  at::Tensor initial_prompt(const MethodContext& context, at::Generator& generator);

  PromptTuningConfig config_;
  models::Backbone* backbone_;
  std::vector<int64_t> init_token_ids_;
  int64_t num_tasks_ = 1;
  std::vector<std::string> task_names_;  // the task's task_names when there are num_tasks_ of them
  at::Tensor prompt_;  // [T * n, d] float32, registered as "prompt"
};

}  // namespace ptlab::methods
