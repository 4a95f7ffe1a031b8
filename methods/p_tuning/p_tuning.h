// P-Tuning (Liu et al. 2021, "GPT Understands, Too"; Hugging Face PEFT's P_TUNING): P virtual tokens whose
// input embeddings are the output of a small trained prompt encoder over P trained rows, on a frozen model.
// The encoder re-parameterises the prompt (the paper: it makes the virtual tokens depend on each other and
// eases optimisation); after training only its output matters, which is what PEFT saves.
//
//   method:                     # configs/method/p_tuning.yaml
//     name: p_tuning
//     length: 20                # P virtual tokens; null = the template's {soft:N} total
//     encoder: mlp              # mlp | lstm (PEFT's encoder_reparameterization_type)
//     encoder_hidden_size: null # h; null = the model's hidden size d (PEFT's default)
//     encoder_num_layers: null  # lstm only: LSTM layers; null = 2 (PEFT's default)
//     encoder_dropout: null     # lstm only: dropout between LSTM layers while training; null = 0
//     num_tasks: 1              # T: per-task prompts for mixed-task batches (see below); null = the number
//                               #   of task.task_names (1 when it has none)
//     init: normal              # normal (PEFT's init) | file
//     init_file: null           # file: a p_tuning prompt.safetensors (encoder weights + rows)
//
// Parameters, exactly PEFT's PromptEncoder (d = hidden size, h = encoder_hidden_size):
//   "embedding"  [T * S * P, d]  the encoder's input rows (nn.Embedding; task t owns rows t*SP .. t*SP+SP-1;
//                                S = 2 for encoder-decoder models, else 1: see the end of this comment)
//   mlp:  "mlp_head.{0,2,4}.{weight,bias}"  Linear(d, h) - ReLU - Linear(h, h) - ReLU - Linear(h, d)
//   lstm: "lstm_head.{weight,bias}_{ih,hh}_l<k>[_reverse]"  bidirectional LSTM(d, h, encoder_num_layers,
//         encoder_dropout), then "mlp_head.{0,2}.{weight,bias}"  Linear(2h, 2h) - ReLU - Linear(2h, d)
// All float32 on the backbone's device; the output is cast to the backbone's dtype where it enters.
// init normal draws them in PEFT's order from a CPU generator seeded with the run's seed: the embedding
// N(0, 1), then (lstm) every LSTM tensor U(+-1/sqrt(h)) layer by layer, forward then reverse, w_ih, w_hh,
// b_ih, b_hh, then each Linear's weight and bias U(+-1/sqrt(fan_in)) — bit-identical to PEFT after
// torch.manual_seed(seed) (the PEFT parity replay checks it). With T > 1 the embedding is drawn as one
// [T * S * P, d] table (T = 1 is PEFT's).
//
// The encoder runs over the P rows of a task jointly, as one sequence in template order (the LSTM reads it
// both ways), giving the prompt [P, d]. Like PEFT's (prompt_encoder(prompt_tokens [B, P])) it runs once per
// batch row: the same prompt in every row, computed in PEFT's floating-point order — AdamW turns rounding in
// near-zero gradients into visible weight differences, and the PEFT replay compares weights. The encoder is
// tiny next to the backbone (P rows per example against T tokens through every layer).
//
// Where it goes (hook point 1): a template with {soft:N} groups decides — output row i fills soft position
// i in template order, so the paper's interleaving of prompt tokens with anchor tokens ("{soft:3} {text_a}
// {soft:3} It was {mask}.") is one rule with prefix prompts (checked against a transformers reference:
// tests/fixtures/references/make_p_tuning_interleaved_reference.py).
// A template without slots gets the P tokens in front (front_soft_tokens(); PEFT's layout exactly:
// [prompt][tokens][pads], attention 1 on the prompt, P ignored labels).
//
// Mixed-task batches (num_tasks T > 1): each task has its own P embedding rows and all share the encoder;
// every batch row gets its task's prompt (methods::batch_task_ids: the task's `task_names` and each
// example's meta.task). The encoder runs per batch row over that row's task rows, so a row's prompt does not
// depend on which other tasks share its batch (up to float rounding of the batched matmuls). With T = 1 the
// batch's task ids are ignored: one prompt serves every example (PEFT's P_TUNING has no task ids).
//
// Saving. prompt.safetensors (export_state) holds every parameter above, so a run resumes and transfers
// (init: file, `ptlab eval --from`). Loading a state of another encoder (an lstm checkpoint into an mlp
// p_tuning), another hidden size, layer count, length or task count is a one-line Error naming both.
// save_exports writes dir/adapter, a PEFT P_TUNING adapter as PEFT's save_pretrained writes it
// (adapter_config.json with the encoder settings; adapter_model.safetensors "prompt_embeddings" [S * P, d]
// = the encoder's output, "folded": PEFT keeps only that in inference mode). With T > 1, one adapter per
// task (dir/adapter/<task name>/, or task<t>/ without task_names), each its task's folded prompt, loadable
// by PEFT on its own (the shared encoder is not in them; prompt.safetensors keeps it).
//
// Loading a PEFT adapter directory (load_state, for `ptlab eval --from` / `ptlab generate`): the file holds
// the encoder's output, not its weights, so the encoder cannot be restored. ptlab loads it as a frozen
// output table: prompt() then places those rows (eval and generation give PEFT's results) and the encoder
// parameters are unused; training such a method (prompt() in train mode) is an Error saying why. init: file
// takes a prompt.safetensors only, for the same reason.
//
// Encoder-decoder models (T5): the prompt goes to the encoder input. PEFT allocates S * P = 2P rows
// (num_transformer_submodules 2), runs its encoder over all of them as one sequence and places the first P
// outputs (its seq2seq forward drops the rest). ptlab does the same, so that it is PEFT's method exactly:
// with the LSTM the rows P..2P-1 shape rows 0..P-1 through the reverse direction and train; with the MLP
// (row-wise) they get no gradient and stay at their init — dead weights, kept for parity and the adapter.
#pragma once

#include "methods/method.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/rnn.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ptlab::methods {

enum class PromptEncoderType { kMlp, kLstm };

/// "mlp", "lstm".
const char* prompt_encoder_name(PromptEncoderType type);

struct PTuningConfig {
  std::optional<int64_t> length = 20;  ///< nullopt: the template's {soft:N} total
  PromptEncoderType encoder = PromptEncoderType::kMlp;
  std::optional<int64_t> encoder_hidden_size;  ///< nullopt: the model's hidden size
  std::optional<int64_t> encoder_num_layers;   ///< lstm only; nullopt: 2
  std::optional<double> encoder_dropout;       ///< lstm only; nullopt: 0
  std::optional<int64_t> num_tasks = 1;        ///< nullopt: the task's task_names count (1 when it has none)
  std::string init = "normal";                 ///< normal | file
  std::optional<std::string> init_file;
  std::string where = "method";  ///< the key path of the mapping, for messages

  /// LSTM layers (2 unless set).
  int64_t lstm_layers() const { return encoder_num_layers.value_or(2); }
  /// LSTM inter-layer dropout (0 unless set).
  double lstm_dropout() const { return encoder_dropout.value_or(0.0); }

  /// Decodes the `method:` mapping (its `name` is accepted and ignored) and calls reader.finish(). Errors
  /// name the key path: length < 1, an unknown encoder or init (with did-you-mean), encoder_hidden_size < 1,
  /// encoder_num_layers < 1 or encoder_dropout outside [0, 1) or either set for the mlp encoder (PEFT
  /// ignores them there), num_tasks < 1, init file without init_file, init_file without init file. (A
  /// num_tasks other than 1 or task.task_names' count is the constructor's Error.)
  static PTuningConfig decode(config::Reader reader);

  /// "method.length" for key "length".
  std::string at(const std::string& key) const { return where + "." + key; }
};

class PTuning final : public Method {
 public:
  /// Resolves the length against context.task's template, checks it against the backbone's max_positions,
  /// builds and initialises the encoder (see the top of this file). Errors name the key path.
  PTuning(PTuningConfig config, const MethodContext& context);

  std::string name() const override { return "p_tuning"; }

  /// `length` when `tmpl` has no soft groups (the tokens go in front), else 0.
  int64_t front_soft_tokens(const tasks::Template& tmpl) const override;

  /// inputs_embeds = backbone.embed(input_ids) [B, T, d] with row i of the row's task prompt written at soft
  /// position i (cast to the backbone dtype), plus the batch's masks. Errors: a batch whose soft-token count
  /// differs from P or longer than max_positions, task ids out of range (num_tasks > 1), train mode after a
  /// PEFT adapter was loaded.
  models::BackboneInput prompt(const tasks::Batch& batch) override;

  /// Checks that `state` is a p_tuning state of this encoder (kind, hidden size, layers, rows, width) before
  /// the generic checks; a mismatch is one Error naming both. Leaves the frozen-output mode.
  void import_state(const std::map<std::string, at::Tensor>& state, const std::string& where) override;

  /// Writes dir/adapter: a PEFT P_TUNING adapter of the folded prompt (p_tuning_peft.cpp); with num_tasks
  /// > 1, dir/adapter/<task name>/ per task.
  void save_exports(const std::string& dir) override;
  /// A prompt.safetensors (import_state), or a PEFT P_TUNING adapter directory: its folded rows become a
  /// frozen output table (see the top). Errors: another peft_type, another P or d, num_tasks > 1.
  void load_state(const std::string& path) override;

  const PTuningConfig& config() const { return config_; }
  /// P, virtual tokens per task.
  int64_t length() const { return *config_.length; }
  int64_t num_tasks() const { return num_tasks_; }
  /// h.
  int64_t hidden_size() const { return hidden_; }
  /// The parameter [T * P, d] float32.
  const at::Tensor& embedding() const { return embedding_; }
  /// The prompts [T, S * P, d] float32, with autograd: the encoder's output (dropout applies in train mode),
  /// or the loaded PEFT table [1, S * P, d] in frozen-output mode. prompt() places rows 0..P-1.
  at::Tensor encoded_prompts();
  /// Whether a PEFT adapter was loaded (the frozen-output mode).
  bool frozen_output() const { return folded_.defined(); }
  /// PEFT's prompt_embeddings table [S * P, d] float32 on the CPU: the encoder's output in eval mode (S = 2
  /// for encoder-decoder backbones, else 1), of task `task`.
  at::Tensor peft_prompt_embeddings(int64_t task = 0);

 private:
  PTuningConfig config_;
  models::Backbone* backbone_;
  int64_t hidden_ = 0;
  int64_t num_tasks_ = 1;                // T
  std::vector<std::string> task_names_;  // task.task_names when there is one prompt per name
  int64_t submodules_ = 1;               // S
  at::Tensor embedding_;                 // [T S P, d], registered as "embedding"
  torch::nn::LSTM lstm_{nullptr};        // "lstm_head" (lstm encoder)
  torch::nn::Sequential mlp_{nullptr};   // "mlp_head"
  at::Tensor folded_;                    // [S P, d] frozen output table from a PEFT adapter, or undefined

  at::Tensor encode(const at::Tensor& indices);         // embedding rows [N, S P] -> encoder output [N, S P, d]
  at::Tensor task_rows(const at::Tensor& tasks) const;  // task ids [N] -> their embedding rows [N, S P]
};

}  // namespace ptlab::methods
