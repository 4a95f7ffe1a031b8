// Optimizers for the trainable parameters (the soft prompt, a head, or a whole model): the configuration
// decoded from `trainer.optimizer:`, the Optimizer interface the Trainer drives, the factory, and gradient
// clipping.
//
//   OptimizerConfig cfg = OptimizerConfig::decode(trainer.child("optimizer"));
//   auto opt = make_optimizer(cfg, method.named_parameters());
//   for (step...) {
//     opt->zero_grad();  loss.backward();
//     clip_grad_norm(params, max_norm);
//     opt->set_lr(cfg.lr * lr_multiplier(schedule, opt->steps(), total));
//     opt->step();
//   }
//
// Implementations: "adamw" (torch.optim.AdamW, wraps LibTorch's torch::optim::AdamW — torch_optimizers.h),
// "sgd" (torch.optim.SGD, wraps torch::optim::SGD — torch_optimizers.h) and "adafactor" (Hugging Face
// transformers' Adafactor, written here because LibTorch has none — adafactor.h).
//
// Optimizer state is per parameter and named "<param name>/<state name>" so that a checkpoint is readable
// and a resumed run continues bit-exactly (see state_dict()).
#pragma once

#include "framework/config/origins.h"
#include "framework/config/reader.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ptlab::train {

/// Trainable parameters by name, in a fixed order (the order of the state dict and of the updates).
using NamedParameters = std::vector<std::pair<std::string, at::Tensor>>;

/// The optimizer settings, decoded once from the `trainer.optimizer:` mapping.
struct OptimizerConfig {
  std::string name = "adamw";  ///< adamw | adafactor | sgd
  double lr = 1e-3;            ///< the peak learning rate; a schedule multiplies it (see schedule.h)
  double weight_decay = 0.0;   ///< decoupled (adamw, adafactor) or L2 added to the gradient (sgd)

  // adamw: torch.optim.AdamW semantics (amsgrad off).
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;

  // sgd: torch.optim.SGD semantics (no dampening, no Nesterov).
  double momentum = 0.0;

  // adafactor: transformers.optimization.Adafactor semantics (Shazeer & Stern 2018).
  double eps1 = 1e-30;          ///< added to grad^2 (HF eps[0])
  double eps2 = 1e-3;           ///< floor of the parameter RMS when scale_parameter (HF eps[1])
  double clip_threshold = 1.0;  ///< the update's RMS is clipped to this
  double decay_rate = -0.8;     ///< beta2_t = 1 - t^decay_rate
  std::optional<double> adafactor_beta1;  ///< null = no first moment (the paper's and Lester et al.'s setting)
  bool scale_parameter = false;  ///< scale the step by max(eps2, RMS(param))
  bool relative_step = false;    ///< use min(1e-2, 1/sqrt(t)) (HF) instead of lr; the schedule's lr is then ignored
  bool warmup_init = false;      ///< with relative_step: min(1e-6 * t, 1/sqrt(t)); requires relative_step

  /// Decodes the mapping (absent keys keep the defaults above) and validates it. An unknown key is the
  /// Reader's error (finish()); a bad value is an Error naming the key path, the value, what would be
  /// right and, when `origins` is given, the file or override it came from.
  static OptimizerConfig decode(config::Reader reader, const config::Origins* origins = nullptr);

  /// Checks every value (lr > 0, betas in [0, 1), known name with a did-you-mean, ...). `path` is the
  /// config path used in messages ("trainer.optimizer").
  void validate(const std::string& path = "trainer.optimizer", const config::Origins* origins = nullptr) const;
};

/// The names make_optimizer accepts.
const std::vector<std::string>& optimizer_names();

/// A first-order optimizer over a fixed list of named parameters.
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  /// One update of every parameter from its .grad(); a parameter whose grad is undefined is skipped
  /// (no decay, its own step count does not advance) — as in PyTorch. Runs without autograd recording.
  void step();

  /// Resets every gradient to undefined (PyTorch's set_to_none), so a parameter that gets no gradient in
  /// the next backward is skipped by step().
  void zero_grad();

  /// The learning rate of the next step(); the schedule sets it before each step.
  void set_lr(double lr);
  double lr() const { return lr_; }

  /// The number of step() calls so far (restored by load_state_dict).
  int64_t steps() const { return steps_; }

  const NamedParameters& parameters() const { return params_; }

  /// Everything needed to resume bit-exactly: "<param name>/<state name>" -> tensor (exp_avg, exp_avg_sq,
  /// exp_avg_sq_row, exp_avg_sq_col, momentum_buffer, and each parameter's own int64 scalar "step"), plus
  /// "step" (the optimizer's step count) as an int64 scalar tensor. A parameter that has not been updated
  /// yet has no entries. The tensors are detached copies on the parameters' device.
  std::map<std::string, at::Tensor> state_dict() const;

  /// Loads a state_dict() of an optimizer of the same kind over parameters of the same names and shapes.
  /// A missing, mis-shaped or extra tensor is an Error naming it and `where` (the file it came from);
  /// on error nothing is changed. The tensors are copied (to the parameters' device).
  void load_state_dict(const std::map<std::string, at::Tensor>& state, const std::string& where);

  /// "adamw", "adafactor", "sgd".
  virtual std::string name() const = 0;

 protected:
  /// Checks the parameters (non-empty, unique non-empty names, defined floating-point tensors) and lr.
  Optimizer(NamedParameters params, double lr);

  /// One state tensor a parameter carries once it has been updated.
  struct StateEntry {
    std::string name;            ///< "exp_avg", "step", ...
    std::vector<int64_t> shape;  ///< {} for a scalar
    at::ScalarType dtype;
  };

  /// The update itself; step() calls it under NoGradGuard, then advances steps().
  virtual void update() = 0;
  /// The state entries parameter `index` has once it has been updated (all or none are present).
  virtual std::vector<StateEntry> state_entries(std::size_t index) const = 0;
  /// The state of parameter `index` by state name (empty when it has none yet); may alias live tensors.
  virtual std::map<std::string, at::Tensor> param_state(std::size_t index) const = 0;
  /// Replaces the state of parameter `index` (empty = no state); the tensors are fresh copies already of
  /// the entries' shapes and dtypes, on the parameter's device.
  virtual void set_param_state(std::size_t index, std::map<std::string, at::Tensor> state) = 0;

 private:
  NamedParameters params_;
  double lr_;
  int64_t steps_ = 0;
};

/// The optimizer `config.name` over `params` (config is validated first; unknown names are Errors).
std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& config, NamedParameters params);

/// torch.nn.utils.clip_grad_norm_ semantics: the total 2-norm over all defined grads (the
/// norm of the per-tensor norms), coef = max_norm / (norm + 1e-6) clamped to 1 and applied to every grad
/// only when < 1. Returns the total norm before clipping (0 when no grad is defined; inf/nan when a grad is
/// not finite — the caller decides what to do). max_norm <= 0 only computes the norm.
double clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm);

/// The parameter tensors of named parameters (for clip_grad_norm).
std::vector<at::Tensor> tensors_of(const NamedParameters& params);

}  // namespace ptlab::train
