// Method: a soft-prompt method (or a baseline) as the trainer sees it — its trainable parameters, their
// initialisation, and `Batch -> BackboneInput` (DESIGN.md, hook points). A method never edits the backbone
// and the backbone never knows which method runs; the trainer knows nothing method-specific.
//
//   method:                     # configs/method/<name>.yaml; `name` picks the registry entry
//     name: prompt_tuning
//     ...                       # the method's own keys, decoded by its factory (unknown keys are Errors)
//
// Adding a method: one folder methods/<name>/ with its config struct and a subclass of Method, one YAML
// under configs/method/, one test, and one line in register_builtin_methods() (methods/builtin_methods.cpp).
// A method with PEFT goldens also gets one entry in launchers/parity_methods.cpp: `ptlab parity` and its
// PEFT test then replay them (launchers/parity.h). docs/adding-a-method.md walks through a small method,
// states what a method may and may not touch, and compiles as part of the tests.
#pragma once

#include "framework/config/reader.h"
#include "framework/core/registry.h"
#include "framework/models/backbone.h"
#include "framework/text/tokenizer.h"
#include "tasks/batch.h"
#include "tasks/linear_head.h"
#include "tasks/task.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ptlab::methods {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

/// What a method is built for. References must outlive the method.
struct MethodContext {
  models::Backbone& backbone;
  const text::Tokenizer& tokenizer;
  const tasks::Task& task;
  uint64_t seed = 0;  ///< the run's seed: every rank draws the same initial parameters from it
  /// The task's training split when the run loaded one (methods built from examples: CPT's
  /// demonstrations), else null.
  const std::vector<data::Example>* train = nullptr;
};

class Method : public torch::nn::Module {
 public:
  ~Method() override = default;

  /// The registry name ("prompt_tuning").
  virtual std::string name() const = 0;

  /// Virtual tokens this method needs at the front of every example when the task template has no
  /// {soft:N} slot (0: none). The trainer prepends them (tasks::prepend_soft_tokens) before collating.
  virtual int64_t front_soft_tokens(const tasks::Template& tmpl) const { return 0; }

  /// Whether there is anything to train (zero_shot: no — the trainer only evaluates).
  virtual bool trains() const { return true; }
  /// Whether the backbone's own weights train (full fine-tuning, pretraining). The trainer then
  /// unfreezes it and puts it in train mode.
  virtual bool trains_backbone() const { return false; }

  /// The parameters the optimizer updates, with stable names (checkpoints and all-reduce order use
  /// them). Default: this module's own parameters, by their registered names.
  virtual NamedTensors trainable_parameters();

  /// Builds the backbone input for `batch` (hook points 1 and 2): virtual tokens placed at
  /// batch.soft_positions, the attention mask, layer prefixes. The logits request is left to the task's
  /// objective.
  virtual models::BackboneInput prompt(const tasks::Batch& batch) = 0;

  /// Methods with their own training loss (CPT): widens the logits request the objective made for a
  /// training batch (the trainer calls it after objective.request). Default: nothing.
  virtual void request_loss(const tasks::Batch& batch, models::BackboneInput& input) {
    (void)batch;
    (void)input;
  }
  /// The method's own training loss of `batch` (a float32 scalar with a graph to the trainable parameters),
  /// or an undefined tensor (default): the trainer then takes the objective's loss.
  virtual at::Tensor loss(const models::BackboneOutput& output, const tasks::Batch& batch) {
    (void)output;
    (void)batch;
    return {};
  }

  /// A term the method adds to the task objective's training loss for this step (MPT's prompt
  /// distillation), given the batch, the input prompt() built (with the objective's logits request) and
  /// the backbone's output for it: a float32 scalar with a graph to the trainable parameters, or an
  /// undefined tensor (the default: nothing to add). The trainer adds it while training only.
  virtual at::Tensor extra_loss(const tasks::Batch& batch, const models::BackboneInput& input,
                                const models::BackboneOutput& output) {
    (void)batch, (void)input, (void)output;
    return {};
  }

  /// Evaluation-time calibration of the class scores (ICL's contextual calibration): a function from the
  /// objective's class scores [B, C] float32 to the scores that predictions and eval/loss use, or an empty
  /// function (the default: the scores as they are). The trial hands it to Objective::set_calibration; the
  /// training loss never sees it.
  virtual std::function<at::Tensor(const at::Tensor&)> score_calibration() { return {}; }

  /// A classification head the method trains with its parameters (linear_head / P-Tuning v2), or
  /// nullptr: the objective then scores with the task's verbalizer.
  virtual tasks::LinearHeadImpl* head() { return nullptr; }

  /// The state that defines the trained method, for `prompt.safetensors` and transfer (`file` inits):
  /// name -> tensor. Default: trainable_parameters() (detached copies).
  virtual std::map<std::string, at::Tensor> export_state();
  /// Loads what export_state() wrote; a missing or mis-shaped tensor is an Error naming it and `where`.
  virtual void import_state(const std::map<std::string, at::Tensor>& state, const std::string& where);

  /// Writes the method's interchange formats into the run directory `dir`, besides the trainer's
  /// prompt.safetensors (prompt_tuning: a PEFT adapter in dir/adapter, loadable by PEFT). Default: nothing.
  virtual void save_exports(const std::string& dir) { (void)dir; }

  /// Loads the state `path` names — a file this method's export_state() wrote (prompt.safetensors), or a
  /// format save_exports() writes (a PEFT adapter directory) — for `ptlab eval` and transfer. Default:
  /// a safetensors file through import_state().
  virtual void load_state(const std::string& path);
};

/// A registry entry: how to build the method from its `method:` config.
/// (The one-line description for `ptlab list methods` is the registry's.)
struct MethodEntry {
  std::function<std::unique_ptr<Method>(config::Reader reader, const MethodContext& context)> make;
  /// The method is built from the task's train split even when nothing trains (ICL's demonstrations):
  /// `ptlab eval` then loads that split too, so that MethodContext::train is set.
  bool needs_train_split = false;
};

/// The method registry; register_builtin_methods() fills it once.
Registry<MethodEntry>& method_registry();

/// Registers the built-in methods (once; thread safe).
void register_builtin_methods();

/// Builds the method the `method:` mapping at `reader` names (`name` key). An unknown name is an Error
/// listing the registered ones and the closest. The factory's Reader::finish() reports unknown keys.
std::unique_ptr<Method> make_method(config::Reader reader, const MethodContext& context);

/// The parts of a backbone input every method takes from the batch as they are, on the backbone's
/// device: attention_mask [B, T], token_type_ids (BERT only: T5 rejects them, decoder-only models have
/// none), and for encoder-decoder models the decoder's input ids and mask. With `with_ids` also
/// input_ids [B, T] (methods that place no virtual tokens); without, the caller sets inputs_embeds.
models::BackboneInput batch_input(const tasks::Batch& batch, const models::Backbone& backbone, bool with_ids);

/// The number of virtual tokens of a method that puts them at the template's {soft:N} slots or in front:
/// `length`, or the slots' total when it is null. Errors name `length_key`: null with a template without
/// slots, a length other than the slots' total (`nullable`: the message offers null), more tokens than the
/// model's max_positions.
int64_t resolve_soft_length(std::optional<int64_t> length, const tasks::Template& tmpl,
                            const models::BackboneInfo& info, const std::string& length_key, bool nullable = true);

/// A method's number of per-task prompts: `num_tasks`, or the task's task_names count when null (1 when
/// it has none). A count other than 1 (shared) and task_names' is an Error naming `key`; `per_task` says
/// what the method keeps per task ("one prompt per task").
int64_t resolve_num_tasks(std::optional<int64_t> num_tasks, const tasks::TaskConfig& task, const std::string& key,
                          const std::string& per_task);

/// Hook point 1 for methods that put n virtual tokens at batch.soft_positions (prompt tuning, P-Tuning,
/// MPT): the batch has n soft positions, inside its width, and fits the model's max_positions. Errors
/// name `method` ("prompt_tuning") and its length key ("method.length").
void check_soft_batch(const tasks::Batch& batch, int64_t n, const models::BackboneInfo& info, const std::string& method,
                      const std::string& length_key);

/// embeds [B, T, d] with rows [B, n, d] (cast to embeds' dtype) written at soft_positions [B, n], out of
/// place: the embeddings stay untouched and the gradient reaches `rows` only.
at::Tensor place_soft_rows(const at::Tensor& embeds, const at::Tensor& soft_positions, const at::Tensor& rows);

/// Mixed-task batches: the batch's task ids [B] int64 on `device`, checked against a method with
/// `num_tasks` per-task prompts. With num_tasks 1 every row gets 0 (one prompt shared by all tasks,
/// whatever ids the batch carries); otherwise a batch without task ids, or an id outside [0, num_tasks),
/// is an Error naming the row, the id and `where` (the method's key path, "method.num_tasks").
at::Tensor batch_task_ids(const tasks::Batch& batch, int64_t num_tasks, const std::string& where,
                          const c10::Device& device);

}  // namespace ptlab::methods
