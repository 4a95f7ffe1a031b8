// Multitask Prompt Tuning (Wang et al. 2023, ICLR, "Multitask Prompt Tuning Enables Parameter-Efficient
// Transfer Learning"; Hugging Face PEFT's MULTITASK_PROMPT_TUNING): one shared prompt P* [N, d] and, per
// task t, a rank-r multiplicative update U[t] @ V[t] (U [T, N, r], V [T, r, d]). Example b of task t_b gets
//
//   P_b = P* ⊙ (U[t_b] @ V[t_b])                                   // [N, d], Hadamard with a rank-r matrix
//
// at its soft positions (hook point 1, placed exactly as prompt_tuning.h places its rows). Task ids come
// from the batch (methods::batch_task_ids), so one batch may mix tasks: each row sees its own task's prompt.
//
//   method:                     # configs/method/mpt.yaml
//     name: mpt
//     length: 100               # N virtual tokens (per transformer submodule, see T5 below)
//     num_tasks: 1              # T: the task ids the batches carry run over 0..T-1 (null: task.task_names)
//     rank: 1                   # r of the task factors (PEFT's num_ranks)
//     init: normal              # the shared prompt: normal | uniform | sampled_vocab | text (prompt_init.h),
//                               #   or from a source stage: average_source_tasks | exact_source_task |
//                               #   only_source_shared (init_file)
//     init_std: 1.0             # normal (PEFT's RANDOM: N(0, 1))
//     init_range: 0.5           # uniform
//     sample_top_k: 5000        # sampled_vocab
//     init_text: null           # text
//     init_file: null           # the source checkpoint: ptlab's prompt.safetensors of an mpt run, or a PEFT
//                               #   MULTITASK_PROMPT_TUNING adapter (directory or adapter_model.safetensors)
//     init_task: 0              # exact_source_task: which source task
//     factor_init_std: 0.02     # U and V start N(0, std^2) (PEFT's 0.02)
//     teachers: []              # source training: one prompt_tuning prompt.safetensors per task, or one of
//                               #   prompt_tuning with num_tasks T (its [T*N, d] prompt) (distillation)
//     distill_weight: 1.0       # lambda of the distillation terms
//
// Parameters (export_state() / prompt.safetensors): "prompt" [N*S, d], "task_cols" [T, N*S, r], "task_rows"
// [T, r, d], float32 on the backbone's device (cast to the backbone dtype where they enter). Seeded init is
// PEFT's bit for bit: normal_prompt() of [N*S, d] (nn.Embedding's N(0,1)), then N(0, 0.02^2) draws of U
// and V from the same CPU generator.
//
// Target adaptation (paper stage 2; PEFT's init modes). init_file names the source checkpoint:
//  - average_source_tasks (the paper's choice): P* := source P*, U[t] := mean over source tasks of U_src,
//    V[t] := mean of V_src, for every target task t (PEFT: T must be 1; here every target task starts there);
//  - exact_source_task: U[t], V[t] := source task init_task's factors;
//  - only_source_shared: P* := source P*; U, V get their fresh N(0, 0.02^2) init.
// The source's N, d and r must be this method's (the source's T may differ); another shape is an Error
// naming the file and both shapes.
//
// Source training with prompt distillation (paper stage 1; PEFT has none, issue #1124). With `teachers`
// (T files, teacher t a prompt_tuning prompt.safetensors "prompt" [N, d] trained on task t alone; or one
// file of a prompt_tuning run with num_tasks T on the mixed data, whose task t rows N*t..N*t+N-1 saw only
// task t's examples), the
// training loss becomes (extra_loss(); the trainer adds it to the task objective's loss)
//
//   L = L_task + lambda * (L_logits + L_hidden)
//
// evaluated with the frozen backbone run a second time under no_grad, each row with its own task's teacher
// prompt at the same soft positions:
//  - L_logits: KL(teacher || student) of the softmax over the logits the task objective scores (the label
//    words at the read position for classification; every vocabulary entry at every position for lm),
//    summed over the vocabulary, averaged over the scored positions (for all-position logits only those
//    with attention mask 1);
//  - L_hidden: mean squared error of the last layer's hidden states (BackboneOutput::last_hidden_state,
//    after the final norm: transformers' hidden_states[-1]), averaged over d and over the positions with
//    attention mask 1 (virtual tokens included).
// This is the paper's L_Total = L_PLM + lambda (L_Logits + L_Hidden) as we read it (KL of teacher to student
// output distributions, MSE of hidden states); the paper does not pin the reductions — ours are above, and
// tests/fixtures/references/make_mpt_distill_reference.py computes the same with transformers.
//
// Encoder-decoder models (T5): PEFT's layout, S = 2. The table holds 2N rows; rows 0..N-1 go in front of
// the encoder input, rows N..2N-1 in front of the decoder input (decoder_inputs_embeds = [P_dec;
// E[decoder_input_ids]], the decoder mask gets N ones), so the decoder's logits have N leading positions
// that a loss must skip (PEFT pads its labels with N x -100; launchers/parity.cpp does the same). ptlab's
// trainer does not train T5 yet, and distillation is refused on T5 (the teachers are encoder prompts).
#pragma once

#include "methods/method.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ptlab::methods {

enum class MptInit {
  kNormal,
  kUniform,
  kSampledVocab,
  kText,
  kAverageSourceTasks,
  kExactSourceTask,
  kOnlySourceShared,
};

/// "normal", "uniform", "sampled_vocab", "text", "average_source_tasks", "exact_source_task",
/// "only_source_shared".
const char* mpt_init_name(MptInit init);

struct MptConfig {
  int64_t length = 100;
  std::optional<int64_t> num_tasks = 1;  ///< nullopt: the task's task_names count (1 when it has none)
  int64_t rank = 1;
  MptInit init = MptInit::kNormal;
  double init_std = 1.0;
  double init_range = 0.5;
  int64_t sample_top_k = 5000;
  std::optional<std::string> init_text;
  std::optional<std::string> init_file;
  int64_t init_task = 0;
  double factor_init_std = 0.02;
  std::vector<std::string> teachers;
  double distill_weight = 1.0;
  std::string where = "method";

  /// Decodes the `method:` mapping and calls reader.finish(). Errors name the key path: length,
  /// num_tasks or rank < 1, an unknown init (did-you-mean), init_std / init_range / factor_init_std <= 0,
  /// text without init_text, a source init without init_file, init_task < 0, a teachers list whose
  /// length is neither num_tasks nor 1, distill_weight < 0.
  static MptConfig decode(config::Reader reader);

  std::string at(const std::string& key) const { return where + "." + key; }
};

/// A source checkpoint's tensors: the shared prompt [N*S, d], U [T, N*S, r], V [T, r, d] (float32, CPU).
struct MptState {
  at::Tensor prompt, task_cols, task_rows;
};

/// Reads an MPT state from `path`: a ptlab prompt.safetensors of an mpt run ("prompt", "task_cols",
/// "task_rows"), a PEFT adapter_model.safetensors ("prompt_embeddings", "prefix_task_cols",
/// "prefix_task_rows"), or a PEFT adapter directory holding one. A missing file or tensor, or tensors whose
/// shapes do not fit together, are Errors naming `where` and the path.
MptState read_mpt_state(const std::string& path, const std::string& where);

class MultitaskPromptTuning final : public Method {
 public:
  MultitaskPromptTuning(MptConfig config, const MethodContext& context);

  std::string name() const override { return "mpt"; }

  /// `length` when `tmpl` has no soft groups (the tokens go in front), else 0.
  int64_t front_soft_tokens(const tasks::Template& tmpl) const override;

  /// inputs_embeds with row i of each example's prompt P_b at its i-th soft position (+ T5's decoder
  /// prompt, see the top of this file). Errors: a batch without task ids when num_tasks > 1, a task id out
  /// of range, a soft-token count other than `length`.
  models::BackboneInput prompt(const tasks::Batch& batch) override;

  /// With teachers: lambda * (L_logits + L_hidden) (see the top of this file); else undefined.
  at::Tensor extra_loss(const tasks::Batch& batch, const models::BackboneInput& input,
                        const models::BackboneOutput& output) override;

  /// Writes dir/adapter: a PEFT MULTITASK_PROMPT_TUNING adapter (prompt_embeddings, prefix_task_cols,
  /// prefix_task_rows; mpt_peft.cpp).
  void save_exports(const std::string& dir) override;
  /// A prompt.safetensors of this method, or a PEFT MPT adapter directory of the same shapes.
  void load_state(const std::string& path) override;

  const MptConfig& config() const { return config_; }
  int64_t length() const { return config_.length; }
  /// T, resolved (num_tasks null: the task's task_names count).
  int64_t num_tasks() const { return num_tasks_; }
  /// S: 2 for encoder-decoder backbones (a decoder prompt too), else 1.
  int64_t submodules() const { return submodules_; }
  const at::Tensor& shared_prompt() const { return prompt_; }  ///< [N*S, d]
  const at::Tensor& task_cols() const { return task_cols_; }   ///< [T, N*S, r]
  const at::Tensor& task_rows() const { return task_rows_; }   ///< [T, r, d]
  /// Every example's prompt P_b for task ids [B] (int64, on the parameters' device): [B, N*S, d] float32.
  at::Tensor task_prompts(const at::Tensor& task_ids) const;

 private:
  // inputs_embeds of `batch` with `rows` [B, N, d] at the soft positions; backbone dtype.
  at::Tensor place(const tasks::Batch& batch, const at::Tensor& embeds, const at::Tensor& rows) const;
  void init_from_source(const MethodContext& context, at::Tensor& prompt, at::Tensor& cols, at::Tensor& rows);

  MptConfig config_;
  models::Backbone* backbone_;
  int64_t submodules_ = 1;
  int64_t num_tasks_ = 1;
  at::Tensor prompt_;     // [N*S, d] "prompt"
  at::Tensor task_cols_;  // [T, N*S, r] "task_cols"
  at::Tensor task_rows_;  // [T, r, d] "task_rows"
  at::Tensor teachers_;   // [T, N, d] float32 teacher prompts (distillation), or undefined
};

}  // namespace ptlab::methods
