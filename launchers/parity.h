// PEFT parity: replays a golden PEFT training run (../shared/golden/peft/<run>/<method>/; the layout is in
// golden/README.md) with ptlab's implementation of its method, and compares. `ptlab parity` prints the
// report; tests/methods/*_peft_test.cpp assert on it.
//
// The replay, for whichever method result.json's "method" names (the dispatch table, parity_methods()):
//  1. the method is built from the `method:` config that reproduces PEFT's (seed 0), on the base model;
//  2. every trainable tensor of init_full_state.safetensors is mapped onto a ptlab parameter (PEFT's
//     "prompt_encoder.default.<x>" through the table entry; BertForSequenceClassification's classifier,
//     which PEFT trains as modules_to_save, onto a tasks::LinearHead); the seeded init must equal PEFT's
//     bit for bit, then PEFT's init is loaded anyway so the replay starts from it;
//  3. batch.safetensors becomes a tasks::Batch the way the trainer builds one (the method's front virtual
//     tokens prepended, tasks::collate), checked against PEFT's layout;
//  4. N AdamW steps with result.json's optimizer settings, the loss of the golden's flavour (causal LM,
//     masked-token, seq2seq decoder, or pooler + classifier for seqcls), recording per-step losses,
//     step-0 gradients and the final parameters against PEFT's.
//
// A PEFT tensor with more rows than its ptlab parameter (T5 prompt tuning: PEFT allocates 2n rows and
// trains the first n) is compared on its leading rows; its other rows must have no gradient and keep
// their init exactly (tolerance 0).
//
// Tolerances (golden/README.md): losses 1e-5 relative per step; step-0 gradients 1e-6 + 1e-4 * max |PEFT's
// gradient| per tensor; final parameters 1e-4 absolute.
//
// Errors (ptlab::Error, one line: what is wrong, where, what would be right): a directory without
// result.json, a malformed result.json or golden file, a method without a ptlab implementation, a model
// directory that is not a model or not the golden's base model (its parameter count differs from
// result.json's), a PEFT tensor whose shape no ptlab parameter has.
#pragma once

#include "framework/train/optimizer.h"
#include "methods/method.h"

#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ptlab::launchers {

/// What the replay reads from a golden run's result.json.
struct GoldenRun {
  std::string dir;          ///< the golden run directory
  std::string peft_method;  ///< "method": prompt_random, prefix_proj_kvfix, ...
  std::string base_model;   ///< "base_model", relative to paths.shared ("golden/models/gpt2")
  std::string flavour;      ///< "flavour": causal | seqcls | mlm | seq2seq
  int64_t num_virtual_tokens = 0;
  /// all_params - trainable_params: the parameter count of the base model PEFT trained on.
  int64_t base_parameters = 0;
  train::OptimizerConfig optimizer;  ///< "optimizer" (torch.optim.AdamW)
  std::vector<double> losses;        ///< PEFT's loss before each step
  nlohmann::json adapter_config;     ///< adapter_init.adapter_config (PEFT's config of the method); CPT: cpt_config
  /// CPT goldens (golden/cpt/<model>/<variant>, their own result.json: model, variant, cpt_config, optimizer,
  /// losses, ...): the whole result.json; flavour "cpt", peft_method "cpt". Null for the other goldens.
  nlohmann::json cpt_result;

  /// adapter_config[key] as T (std::string, int64_t, bool, or nlohmann::json when it may be null); a missing
  /// key or another type is an Error naming result.json and the key path.
  template <class T>
  T adapter_value(const std::string& key) const;

  /// Reads DIR/result.json. Errors: DIR missing, no result.json, not JSON, a key missing or of the wrong
  /// type (named with its key path), an optimizer other than AdamW, a flavour not in the list above.
  static GoldenRun read(const std::string& dir);
};

struct ParityTolerances {
  double loss_relative = 1e-5;  ///< |ptlab - PEFT| / |PEFT| per step
  double grad_absolute = 1e-6;  ///< step-0 gradients: grad_absolute + grad_relative * max |PEFT's|
  double grad_relative = 1e-4;
  double state_absolute = 1e-4;  ///< final parameters
};

struct ParityOptions {
  std::string model_dir;         ///< the base model (a Hugging Face model directory)
  std::optional<int64_t> steps;  ///< at most the golden's steps; fewer skips the final-state comparison
  ParityTolerances tolerances;
};

struct StepLoss {
  double ptlab = 0, peft = 0;
  double relative_error = 0;  ///< |ptlab - peft| / |peft|
  double tolerance = 0;
  bool ok() const { return relative_error <= tolerance; }
};

/// One tensor compared with PEFT's (PEFT's name, "[a:b]" when a row range of it).
struct TensorDiff {
  std::string name;
  double max_abs_diff = 0;
  double peft_max_abs = 0;  ///< max |PEFT's tensor|: the scale of the gradient tolerance
  double tolerance = 0;
  bool ok() const { return max_abs_diff <= tolerance; }
};

/// A yes/no condition of the replay (the batch layout is PEFT's, the seeded init is PEFT's, ...).
struct ParityCheck {
  std::string what;
  bool ok = false;
};

struct ParityReport {
  GoldenRun golden;
  std::string method;  ///< ptlab's method ("prompt_tuning")
  std::string model_dir;
  ParityTolerances tolerances;
  std::vector<StepLoss> losses;         ///< one per step run
  std::vector<TensorDiff> step0_grads;  ///< every tensor of grads_step0.safetensors
  std::vector<TensorDiff> final_state;  ///< every tensor of final_full_state.safetensors (+ the method's own)
  bool final_state_compared = false;    ///< false when fewer steps ran than the golden's
  std::vector<ParityCheck> checks;

  /// Every loss, tensor and check within tolerance.
  bool passed() const;
  /// The entry of step0_grads / final_state called `name` (nullptr when absent).
  const TensorDiff* grad(const std::string& name) const;
  const TensorDiff* state(const std::string& name) const;
};

/// Replays `golden` on options.model_dir (see the top of this file).
ParityReport replay_peft_golden(const GoldenRun& golden, const ParityOptions& options);

/// Replays a CPT golden (flavour "cpt"; parity_cpt.cpp): the method built from cpt_config, PEFT's init
/// loaded, batch.safetensors with its input_type_mask as the query's label positions, N AdamW steps with
/// CPT's loss; then step-0 gradients and the final delta against PEFT's, the exported adapter against
/// adapter_final (prompt_embeddings and adapter_config.json), and the reloaded adapters' loss against
/// result.json's reload_check. replay_peft_golden() dispatches here.
ParityReport replay_cpt_golden(const GoldenRun& golden, const ParityOptions& options);

/// How ptlab replays PEFT's goldens of one method: one entry per ptlab method (parity_methods.cpp).
struct ParityMethod {
  std::string method;                     ///< ptlab's method registry name
  std::vector<std::string> peft_methods;  ///< result.json "method" values it replays
  /// The `method:` mapping that builds PEFT's configuration of `golden` (its adapter_config).
  std::function<YAML::Node(const GoldenRun& golden)> config;
  /// ptlab's parameter name for PEFT's "prompt_encoder.default.<peft_name>".
  std::function<std::string(const std::string& peft_name)> parameter_name;
  /// Optional: checks and comparisons only this method has, after training (e.g. PEFT's saved adapter).
  std::function<void(methods::Method& method, const GoldenRun& golden, ParityReport& report)> extra_checks;
};

/// The table, one entry per ptlab method that has PEFT goldens.
const std::vector<ParityMethod>& parity_methods();

/// The entry replaying `golden`; an Error for a method without one ("method 'X' of DIR has no ptlab
/// implementation yet (known: ...)").
const ParityMethod& parity_method_for(const GoldenRun& golden);

}  // namespace ptlab::launchers
