#include "framework/train/optimizer.h"

#include "framework/core/error.h"
#include "framework/core/log.h"
#include "framework/core/suggest.h"
#include "framework/train/adafactor.h"
#include "framework/train/torch_optimizers.h"

#include <ATen/core/grad_mode.h>
#include <fmt/ranges.h>

#include <cmath>
#include <set>

namespace ptlab::train {
namespace {

std::string origin_of(const config::Origins* origins, const std::string& key) {
  return origins ? origins->from(key) : std::string();
}

std::string shape_str(at::IntArrayRef shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

/// Checks one value: `ok` or an Error "<path>.<key>: <what>, got <value> (from ...)".
void check_value(bool ok, const std::string& path, const std::string& key, const std::string& what, double value,
                 const config::Origins* origins) {
  const std::string kp = config::child_key_path(path, key);
  PTLAB_CHECK(ok, "{}: {}, got {}{}", kp, what, value, origin_of(origins, kp));
}

bool in_unit_interval(double v) { return std::isfinite(v) && v >= 0.0 && v < 1.0; }

}  // namespace

const std::vector<std::string>& optimizer_names() {
  static const std::vector<std::string> names = {"adamw", "adafactor", "sgd"};
  return names;
}

// ---- config -----------------------------------------------------------------------------------------

OptimizerConfig OptimizerConfig::decode(config::Reader r, const config::Origins* origins) {
  OptimizerConfig c;
  c.name = r.get<std::string>("name", c.name);
  c.lr = r.get<double>("lr", c.lr);
  c.weight_decay = r.get<double>("weight_decay", c.weight_decay);
  c.beta1 = r.get<double>("beta1", c.beta1);
  c.beta2 = r.get<double>("beta2", c.beta2);
  c.eps = r.get<double>("eps", c.eps);
  c.momentum = r.get<double>("momentum", c.momentum);
  c.eps1 = r.get<double>("eps1", c.eps1);
  c.eps2 = r.get<double>("eps2", c.eps2);
  c.clip_threshold = r.get<double>("clip_threshold", c.clip_threshold);
  c.decay_rate = r.get<double>("decay_rate", c.decay_rate);
  c.adafactor_beta1 = r.get<std::optional<double>>("adafactor_beta1", c.adafactor_beta1);
  c.scale_parameter = r.get<bool>("scale_parameter", c.scale_parameter);
  c.relative_step = r.get<bool>("relative_step", c.relative_step);
  c.warmup_init = r.get<bool>("warmup_init", c.warmup_init);
  r.finish();
  c.validate(r.path(), origins);

  // Settings of another optimizer are accepted (one trainer file can serve a sweep over optimizers) but
  // a non-default one is probably a mistake: say that it has no effect.
  const OptimizerConfig d;
  auto unused = [&](bool changed, const char* key, const char* owner) {
    if (changed && c.name != owner)
      log_warn("{}: applies to the {} optimizer only; ignored with {}", r.key_path(key), owner, c.name);
  };
  unused(c.momentum != d.momentum, "momentum", "sgd");
  unused(c.beta1 != d.beta1, "beta1", "adamw");
  unused(c.beta2 != d.beta2, "beta2", "adamw");
  unused(c.eps != d.eps, "eps", "adamw");
  unused(c.adafactor_beta1.has_value(), "adafactor_beta1", "adafactor");
  unused(c.relative_step, "relative_step", "adafactor");
  unused(c.scale_parameter, "scale_parameter", "adafactor");
  if (c.name == "adafactor" && c.relative_step)
    log_warn("{}: relative_step=true: Adafactor uses its own step size min(1e-2, 1/sqrt(t)); {} and the "
             "learning-rate schedule are ignored", r.key_path("relative_step"), r.key_path("lr"));
  return c;
}

void OptimizerConfig::validate(const std::string& path, const config::Origins* origins) const {
  const std::string name_key = config::child_key_path(path, "name");
  PTLAB_CHECK(std::find(optimizer_names().begin(), optimizer_names().end(), name) != optimizer_names().end(),
              "{}: unknown optimizer '{}'{}; known: {}{}", name_key, name, did_you_mean(name, optimizer_names()),
              join_names(optimizer_names()), origin_of(origins, name_key));
  check_value(std::isfinite(lr) && lr > 0, path, "lr", "the learning rate must be a number > 0", lr, origins);
  check_value(std::isfinite(weight_decay) && weight_decay >= 0, path, "weight_decay", "must be >= 0", weight_decay,
              origins);
  check_value(in_unit_interval(beta1), path, "beta1", "must be in [0, 1)", beta1, origins);
  check_value(in_unit_interval(beta2), path, "beta2", "must be in [0, 1)", beta2, origins);
  check_value(std::isfinite(eps) && eps >= 0, path, "eps", "must be >= 0", eps, origins);
  check_value(std::isfinite(momentum) && momentum >= 0, path, "momentum", "must be >= 0", momentum, origins);
  check_value(std::isfinite(eps1) && eps1 >= 0, path, "eps1", "must be >= 0", eps1, origins);
  check_value(std::isfinite(eps2) && eps2 >= 0, path, "eps2", "must be >= 0", eps2, origins);
  check_value(std::isfinite(clip_threshold) && clip_threshold > 0, path, "clip_threshold", "must be > 0",
              clip_threshold, origins);
  check_value(std::isfinite(decay_rate) && decay_rate <= 0, path, "decay_rate",
              "must be <= 0 (beta2_t = 1 - t^decay_rate; the paper uses -0.8)", decay_rate, origins);
  if (adafactor_beta1)
    check_value(in_unit_interval(*adafactor_beta1), path, "adafactor_beta1", "must be in [0, 1) or null",
                *adafactor_beta1, origins);
  const std::string wk = config::child_key_path(path, "warmup_init");
  PTLAB_CHECK(!warmup_init || relative_step, "{}: warmup_init=true requires relative_step=true (as in Hugging Face "
              "Adafactor){}", wk, origin_of(origins, wk));
}

// ---- Optimizer ----------------------------------------------------------------------------------------

Optimizer::Optimizer(NamedParameters params, double lr) : params_(std::move(params)), lr_(lr) {
  PTLAB_CHECK(!params_.empty(), "the optimizer has no parameters to train (does the method have trainable "
              "parameters?)");
  std::set<std::string> seen;
  for (const auto& [name, p] : params_) {
    PTLAB_CHECK(!name.empty(), "a trainable parameter has an empty name; every parameter needs a unique name");
    PTLAB_CHECK(seen.insert(name).second, "trainable parameter name '{}' appears twice; names must be unique", name);
    PTLAB_CHECK(p.defined(), "trainable parameter '{}' is an undefined tensor", name);
    PTLAB_CHECK(at::isFloatingType(p.scalar_type()), "trainable parameter '{}' is {}; only floating-point "
                "parameters can be optimized", name, c10::toString(p.scalar_type()));
  }
  set_lr(lr);
}

void Optimizer::step() {
  at::NoGradGuard no_grad;
  update();
  ++steps_;
}

void Optimizer::zero_grad() {
  for (auto& [name, p] : params_)
    if (p.grad().defined()) p.mutable_grad() = at::Tensor();
}

void Optimizer::set_lr(double lr) {
  PTLAB_CHECK(std::isfinite(lr) && lr >= 0, "learning rate {} is not a number >= 0 (check trainer.optimizer.lr and "
              "the schedule)", lr);
  lr_ = lr;
}

std::map<std::string, at::Tensor> Optimizer::state_dict() const {
  std::map<std::string, at::Tensor> out;
  for (std::size_t i = 0; i < params_.size(); ++i)
    for (const auto& [key, t] : param_state(i)) out[params_[i].first + "/" + key] = t.detach().clone();
  out["step"] = at::scalar_tensor(steps_, at::kLong);  // []
  return out;
}

namespace {

/// An integer scalar tensor's value (>= 0), or an Error naming `key` and `where`.
int64_t read_count(const at::Tensor& t, const std::string& key, const std::string& where) {
  PTLAB_CHECK(t.defined() && t.numel() == 1 && at::isIntegralType(t.scalar_type(), /*includeBool=*/false),
              "{}: optimizer state '{}' must be an integer scalar, got {} of shape {}", where, key,
              t.defined() ? c10::toString(t.scalar_type()) : "undefined", t.defined() ? shape_str(t.sizes()) : "[]");
  const int64_t v = t.item<int64_t>();
  PTLAB_CHECK(v >= 0, "{}: optimizer state '{}' is {}; a step count is >= 0", where, key, v);
  return v;
}

}  // namespace

void Optimizer::load_state_dict(const std::map<std::string, at::Tensor>& state, const std::string& where) {
  auto step_it = state.find("step");
  PTLAB_CHECK(step_it != state.end(), "{}: the optimizer state has no 'step' tensor (was it written by a ptlab {} "
              "optimizer?)", where, name());
  const int64_t global_step = read_count(step_it->second, "step", where);

  // Every key this optimizer could hold, to report extras with a suggestion.
  std::vector<std::string> valid = {"step"};
  std::set<std::string> used = {"step"};
  std::vector<std::map<std::string, at::Tensor>> loaded(params_.size());
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const auto& [pname, param] = params_[i];
    std::vector<std::string> present, missing;
    const auto entries = state_entries(i);
    for (const auto& e : entries) {
      const std::string key = pname + "/" + e.name;
      valid.push_back(key);
      (state.count(key) ? present : missing).push_back(key);
    }
    if (present.empty()) continue;  // not updated yet
    PTLAB_CHECK(missing.empty(), "{}: the optimizer state of parameter '{}' is incomplete: it has {} but not {}", where,
                pname, join_names(present), join_names(missing));
    for (const auto& e : entries) {
      const std::string key = pname + "/" + e.name;
      const at::Tensor& t = state.at(key);
      used.insert(key);
      if (e.dtype == at::kLong) {
        loaded[i][e.name] = at::scalar_tensor(read_count(t, key, where), at::kLong);
        continue;
      }
      PTLAB_CHECK(t.defined() && at::isFloatingType(t.scalar_type()), "{}: optimizer state '{}' must be a "
                  "floating-point tensor, got {}", where, key, t.defined() ? c10::toString(t.scalar_type()) : "undefined");
      PTLAB_CHECK(t.sizes().vec() == e.shape, "{}: optimizer state '{}' has shape {}, expected {} (parameter '{}' "
                  "has shape {})", where, key, shape_str(t.sizes()), shape_str(e.shape), pname,
                  shape_str(param.sizes()));
      loaded[i][e.name] = t.detach().to(param.device(), e.dtype, /*non_blocking=*/false, /*copy=*/true);
    }
  }
  for (const auto& [key, t] : state) {
    if (used.count(key)) continue;
    std::vector<std::string> params;
    for (const auto& p : params_) params.push_back(p.first);
    PTLAB_FAIL("{}: unexpected optimizer state '{}'{} — the {} optimizer over parameters {} keeps no such tensor "
               "(was the checkpoint made with another optimizer or method?)", where, key, did_you_mean(key, valid),
               name(), join_names(params));
  }
  for (std::size_t i = 0; i < params_.size(); ++i) set_param_state(i, std::move(loaded[i]));
  steps_ = global_step;
}

// ---- factory and clipping --------------------------------------------------------------------------------

std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& config, NamedParameters params) {
  config.validate();
  if (config.name == "adamw") return std::make_unique<AdamW>(std::move(params), config);
  if (config.name == "adafactor") return std::make_unique<Adafactor>(std::move(params), config);
  PTLAB_ASSERT(config.name == "sgd", "validate() let through optimizer '{}'", config.name);
  return std::make_unique<Sgd>(std::move(params), config);
}

double clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> grads;
  for (const auto& p : params)
    if (p.defined() && p.grad().defined()) grads.push_back(p.grad().detach());
  if (grads.empty()) return 0.0;
  // As torch: the norm of the per-tensor norms, on the first grad's device.
  std::vector<at::Tensor> norms;
  bool same_dtype = true;
  for (const auto& g : grads) {
    norms.push_back(at::linalg_vector_norm(g, 2).to(grads[0].device()));  // []
    same_dtype = same_dtype && norms.back().scalar_type() == norms[0].scalar_type();
  }
  if (!same_dtype)
    for (auto& n : norms) n = n.to(at::kFloat);
  const at::Tensor total = at::linalg_vector_norm(at::stack(norms), 2);  // []
  if (max_norm > 0) {
    // torch computes max_norm / (total + 1e-6) as reciprocal * max_norm (Tensor.__rtruediv__).
    const at::Tensor coef = ((total + 1e-6).reciprocal() * max_norm).clamp_max(1.0);  // []
    if (coef.item<double>() < 1.0)
      for (auto& g : grads) g.mul_(coef.to(g.device()));
  }
  return total.item<double>();
}

std::vector<at::Tensor> tensors_of(const NamedParameters& params) {
  std::vector<at::Tensor> out;
  out.reserve(params.size());
  for (const auto& p : params) out.push_back(p.second);
  return out;
}

}  // namespace ptlab::train
