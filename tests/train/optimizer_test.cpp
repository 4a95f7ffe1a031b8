// OptimizerConfig decoding and validation, the factory, the common Optimizer behaviour (zero_grad, steps,
// state_dict round trip and its errors) for every optimizer, and clip_grad_norm.
#include "framework/train/optimizer.h"

#include "tests/train/train_test_support.h"

#include <cmath>

namespace ptlab::train {
namespace {

using testing::decode_yaml;
using testing::error_of;
using testing::param;
using testing::set_grad;

OptimizerConfig decode(const std::string& yaml) { return decode_yaml<OptimizerConfig>(yaml, "trainer.optimizer"); }

// ---- config ---------------------------------------------------------------------------------------------

TEST(OptimizerConfig, DecodesEveryKeyAndKeepsDefaultsForAbsentOnes) {
  const OptimizerConfig d = decode("{}");
  EXPECT_EQ(d.name, "adamw");
  EXPECT_EQ(d.lr, 1e-3);
  EXPECT_EQ(d.beta2, 0.999);
  EXPECT_FALSE(d.adafactor_beta1.has_value());

  const OptimizerConfig c = decode(
      "{name: adafactor, lr: 0.3, weight_decay: 1e-5, beta1: 0.8, beta2: 0.99, eps: 1e-6, momentum: 0.5, "
      "eps1: 1e-29, eps2: 2e-3, clip_threshold: 2.0, decay_rate: -0.5, adafactor_beta1: 0.9, scale_parameter: true, "
      "relative_step: true, warmup_init: true}");
  EXPECT_EQ(c.name, "adafactor");
  EXPECT_EQ(c.lr, 0.3);
  EXPECT_EQ(c.weight_decay, 1e-5);
  EXPECT_EQ(c.beta1, 0.8);
  EXPECT_EQ(c.beta2, 0.99);
  EXPECT_EQ(c.eps, 1e-6);
  EXPECT_EQ(c.momentum, 0.5);
  EXPECT_EQ(c.eps1, 1e-29);
  EXPECT_EQ(c.eps2, 2e-3);
  EXPECT_EQ(c.clip_threshold, 2.0);
  EXPECT_EQ(c.decay_rate, -0.5);
  ASSERT_TRUE(c.adafactor_beta1.has_value());
  EXPECT_EQ(*c.adafactor_beta1, 0.9);
  EXPECT_TRUE(c.scale_parameter && c.relative_step && c.warmup_init);
  EXPECT_FALSE(decode("{adafactor_beta1: null}").adafactor_beta1.has_value());
}

TEST(OptimizerConfig, UnknownKeysAndBadValuesAreErrorsNamingTheKeyPath) {
  std::string e = error_of([] { decode("{lrr: 0.1}"); });
  EXPECT_CONTAINS(e, "trainer.optimizer.lrr");
  EXPECT_CONTAINS(e, "trainer.optimizer.lr");  // did you mean

  e = error_of([] { decode("{name: adam}"); });
  EXPECT_CONTAINS(e, "trainer.optimizer.name");
  EXPECT_CONTAINS(e, "unknown optimizer 'adam'");
  EXPECT_CONTAINS(e, "did you mean adamw");
  EXPECT_CONTAINS(e, "test.yaml");

  e = error_of([] { decode("{lr: 0}"); });
  EXPECT_CONTAINS(e, "trainer.optimizer.lr: the learning rate must be a number > 0, got 0");
  EXPECT_CONTAINS(e, "test.yaml");
  EXPECT_CONTAINS(error_of([] { decode("{lr: -1e-3}"); }), "got -0.001");
  EXPECT_CONTAINS(error_of([] { decode("{lr: .nan}"); }), "trainer.optimizer.lr");
  EXPECT_CONTAINS(error_of([] { decode("{beta1: 1.0}"); }), "trainer.optimizer.beta1: must be in [0, 1), got 1");
  EXPECT_CONTAINS(error_of([] { decode("{beta2: -0.1}"); }), "trainer.optimizer.beta2: must be in [0, 1)");
  EXPECT_CONTAINS(error_of([] { decode("{adafactor_beta1: 1.5}"); }), "trainer.optimizer.adafactor_beta1");
  EXPECT_CONTAINS(error_of([] { decode("{weight_decay: -1}"); }), "trainer.optimizer.weight_decay: must be >= 0");
  EXPECT_CONTAINS(error_of([] { decode("{eps: -1}"); }), "trainer.optimizer.eps: must be >= 0");
  EXPECT_CONTAINS(error_of([] { decode("{momentum: -0.9}"); }), "trainer.optimizer.momentum");
  EXPECT_CONTAINS(error_of([] { decode("{clip_threshold: 0}"); }), "trainer.optimizer.clip_threshold: must be > 0");
  EXPECT_CONTAINS(error_of([] { decode("{decay_rate: 0.8}"); }), "trainer.optimizer.decay_rate: must be <= 0");
  EXPECT_CONTAINS(error_of([] { decode("{name: adafactor, warmup_init: true}"); }),
                  "trainer.optimizer.warmup_init: warmup_init=true requires relative_step=true");
  EXPECT_CONTAINS(error_of([] { decode("{lr: fast}"); }), "trainer.optimizer.lr");  // the Reader's type error
}

// ---- factory and common behaviour -----------------------------------------------------------------------------

OptimizerConfig config_named(const std::string& name) {
  OptimizerConfig c;
  c.name = name;
  c.lr = 0.05;
  c.weight_decay = 0.01;
  c.momentum = 0.9;
  c.adafactor_beta1 = 0.9;
  return c;
}

NamedParameters two_params() {
  at::manual_seed(3);
  return {{"prompt.embedding", at::randn({4, 3}, at::kDouble).set_requires_grad(true)},
          {"head.bias", at::randn({3}, at::kDouble).set_requires_grad(true)}};
}

TEST(MakeOptimizer, BuildsEachNamedOptimizerAndRejectsBadParameters) {
  for (const std::string& name : optimizer_names()) EXPECT_EQ(make_optimizer(config_named(name), two_params())->name(), name);

  OptimizerConfig bad = config_named("adamw");
  bad.name = "adafacor";
  EXPECT_CONTAINS(error_of([&] { make_optimizer(bad, two_params()); }), "did you mean adafactor");
  bad.name = "lion";
  EXPECT_CONTAINS(error_of([&] { make_optimizer(bad, two_params()); }), "unknown optimizer 'lion'; known: adamw, "
                  "adafactor, sgd");
  bad = config_named("adamw");
  bad.lr = -1;
  EXPECT_CONTAINS(error_of([&] { make_optimizer(bad, two_params()); }), "trainer.optimizer.lr");

  const OptimizerConfig c = config_named("adamw");
  EXPECT_CONTAINS(error_of([&] { make_optimizer(c, {}); }), "no parameters to train");
  at::Tensor t = at::zeros({2}, at::kDouble).set_requires_grad(true);
  EXPECT_CONTAINS(error_of([&] { make_optimizer(c, {{"a", t}, {"a", t.clone()}}); }), "'a' appears twice");
  EXPECT_CONTAINS(error_of([&] { make_optimizer(c, {{"", t}}); }), "empty name");
  EXPECT_CONTAINS(error_of([&] { make_optimizer(c, {{"ids", at::zeros({2}, at::kLong)}}); }),
                  "trainable parameter 'ids' is Long");
  EXPECT_CONTAINS(error_of([&] { make_optimizer(c, {{"u", at::Tensor()}}); }), "'u' is an undefined tensor");
}

TEST(Optimizer, ZeroGradLeavesGradientsUndefinedSoTheNextStepSkipsThem) {
  auto params = two_params();
  auto opt = make_optimizer(config_named("adamw"), params);
  set_grad(params[0].second, std::vector<double>(12, 1.0));
  set_grad(params[1].second, {1.0, 1.0, 1.0});
  opt->zero_grad();
  EXPECT_FALSE(params[0].second.grad().defined());
  EXPECT_FALSE(params[1].second.grad().defined());
  const at::Tensor before = params[0].second.detach().clone();
  opt->step();
  EXPECT_TRUE(at::equal(before, params[0].second.detach()));
  EXPECT_EQ(opt->steps(), 1);
  EXPECT_CONTAINS(error_of([&] { opt->set_lr(-1); }), "learning rate -1");
}

/// Feeds the same gradient sequence to `params` for steps [from, to).
void run_steps(Optimizer& opt, const NamedParameters& params, int from, int to) {
  for (int t = from; t < to; ++t) {
    at::manual_seed(100 + t);
    for (const auto& [name, p] : params) p.mutable_grad() = at::randn(p.sizes(), p.options());
    if (t == 2) params[1].second.mutable_grad() = at::Tensor();  // one step without a gradient for head.bias
    opt.set_lr(0.05 / (1 + t));
    opt.step();
    opt.zero_grad();
  }
}

class EveryOptimizer : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryOptimizer, ContinuingAfterReloadingTheStateGivesTheUninterruptedResultExactly) {
  const OptimizerConfig c = config_named(GetParam());
  auto straight = two_params();
  auto a = make_optimizer(c, straight);
  run_steps(*a, straight, 0, 5);

  auto first = two_params();
  auto b = make_optimizer(c, first);
  run_steps(*b, first, 0, 3);
  const auto saved = b->state_dict();
  EXPECT_EQ(saved.at("step").item<int64_t>(), 3);
  EXPECT_EQ(saved.at("step").dim(), 0);

  auto resumed = testing::clone_params(first);  // a new process: fresh tensors, fresh optimizer
  auto r = make_optimizer(c, resumed);
  r->load_state_dict(saved, "ckpt.safetensors");
  EXPECT_EQ(r->steps(), 3);
  run_steps(*r, resumed, 3, 5);
  for (std::size_t i = 0; i < straight.size(); ++i)
    EXPECT_TRUE(at::equal(straight[i].second, resumed[i].second)) << GetParam() << " " << straight[i].first;
  const auto sa = a->state_dict(), sr = r->state_dict();
  ASSERT_EQ(sa.size(), sr.size());
  for (const auto& [key, t] : sa) EXPECT_TRUE(at::equal(t, sr.at(key))) << key;
}

TEST_P(EveryOptimizer, StateDictTensorsAreCopiesNotLiveState) {
  auto params = two_params();
  auto opt = make_optimizer(config_named(GetParam()), params);
  run_steps(*opt, params, 0, 1);
  auto state = opt->state_dict();
  const auto again = opt->state_dict();
  for (auto& [key, t] : state) t.add_(1);
  for (const auto& [key, t] : again) EXPECT_TRUE(at::equal(t, opt->state_dict().at(key))) << key;
}

INSTANTIATE_TEST_SUITE_P(Optimizers, EveryOptimizer, ::testing::Values("adamw", "adafactor", "sgd"));

TEST(Optimizer, LoadStateDictErrorsNameTheTensorAndTheFileAndChangeNothing) {
  auto params = two_params();
  auto opt = make_optimizer(config_named("adamw"), params);
  run_steps(*opt, params, 0, 2);
  const auto good = opt->state_dict();
  auto fresh = make_optimizer(config_named("adamw"), testing::clone_params(params));

  auto without = [&](const std::string& key) {
    auto s = good;
    s.erase(key);
    return s;
  };
  std::string e = error_of([&] { fresh->load_state_dict(without("step"), "run/ckpt.safetensors"); });
  EXPECT_CONTAINS(e, "run/ckpt.safetensors");
  EXPECT_CONTAINS(e, "no 'step' tensor");

  e = error_of([&] { fresh->load_state_dict(without("head.bias/exp_avg_sq"), "run/ckpt.safetensors"); });
  EXPECT_CONTAINS(e, "run/ckpt.safetensors");
  EXPECT_CONTAINS(e, "parameter 'head.bias' is incomplete");
  EXPECT_CONTAINS(e, "not head.bias/exp_avg_sq");

  auto misshaped = good;
  misshaped["prompt.embedding/exp_avg"] = at::zeros({3, 4}, at::kDouble);
  e = error_of([&] { fresh->load_state_dict(misshaped, "run/ckpt.safetensors"); });
  EXPECT_CONTAINS(e, "'prompt.embedding/exp_avg' has shape [3, 4], expected [4, 3]");

  auto extra = good;
  extra["prompt.embeding/exp_avg"] = at::zeros({4, 3}, at::kDouble);
  e = error_of([&] { fresh->load_state_dict(extra, "run/ckpt.safetensors"); });
  EXPECT_CONTAINS(e, "unexpected optimizer state 'prompt.embeding/exp_avg'");
  EXPECT_CONTAINS(e, "did you mean prompt.embedding/exp_avg");

  auto wrong_type = good;
  wrong_type["head.bias/step"] = at::scalar_tensor(1.5, at::kDouble);
  EXPECT_CONTAINS(error_of([&] { fresh->load_state_dict(wrong_type, "x"); }),
                  "'head.bias/step' must be an integer scalar");
  auto negative = good;
  negative["step"] = at::scalar_tensor(-2, at::kLong);
  EXPECT_CONTAINS(error_of([&] { fresh->load_state_dict(negative, "x"); }), "'step' is -2");

  // An Adafactor state does not load into AdamW (and nothing was loaded by the failed attempts above).
  auto other_params = testing::clone_params(params);
  auto ada = make_optimizer(config_named("adafactor"), other_params);
  run_steps(*ada, other_params, 0, 1);
  e = error_of([&] { fresh->load_state_dict(ada->state_dict(), "ada.safetensors"); });
  EXPECT_CONTAINS(e, "ada.safetensors");
  EXPECT_EQ(fresh->steps(), 0);
  EXPECT_EQ(fresh->state_dict().size(), 1u);  // only "step"
  fresh->load_state_dict(good, "run/ckpt.safetensors");
  EXPECT_EQ(fresh->steps(), 2);
}

// ---- clip_grad_norm --------------------------------------------------------------------------------------

TEST(ClipGradNorm, ReturnsTheTotalNormAndScalesOnlyWhenAboveMaxNorm) {
  at::Tensor a = param({3.0, 0.0}, {2}), b = param({0.0, 0.0, 0.0, 0.0}, {2, 2}), none = param({1.0}, {1});
  set_grad(a, {3.0, 0.0});
  set_grad(b, {0.0, 4.0, 0.0, 0.0});
  // total = sqrt(3^2 + 4^2) = 5; max_norm 10: no clipping.
  EXPECT_DOUBLE_EQ(clip_grad_norm({a, b, none}, 10.0), 5.0);
  EXPECT_EQ(a.grad()[0].item<double>(), 3.0);
  // max_norm 1: every grad times 1 / (5 + 1e-6).
  EXPECT_DOUBLE_EQ(clip_grad_norm({a, b, none}, 1.0), 5.0);
  EXPECT_NEAR(a.grad()[0].item<double>(), 3.0 / (5.0 + 1e-6), 1e-15);
  EXPECT_NEAR(b.grad()[0][1].item<double>(), 4.0 / (5.0 + 1e-6), 1e-15);
  EXPECT_NEAR(clip_grad_norm({a, b}, 0.0), 1.0, 1e-6);  // max_norm 0: only the norm
  EXPECT_NEAR(a.grad()[0].item<double>(), 3.0 / (5.0 + 1e-6), 1e-15);
  EXPECT_FALSE(none.grad().defined());
  EXPECT_EQ(clip_grad_norm({none}, 1.0), 0.0);
}

TEST(ClipGradNorm, MatchesTorchsFp32ArithmeticAndReportsNonFiniteNorms) {
  at::manual_seed(11);
  at::Tensor a = at::randn({7, 5}).set_requires_grad(true), b = at::randn({13}).set_requires_grad(true);
  const at::Tensor ga = at::randn({7, 5}) * 10, gb = at::randn({13}) * 10;
  a.mutable_grad() = ga.clone();
  b.mutable_grad() = gb.clone();
  const double norm = clip_grad_norm({a, b}, 0.5);
  // torch: total = ||[||ga||, ||gb||]||; coef = (total + 1e-6).reciprocal() * max_norm, clamped to 1.
  const at::Tensor total = at::linalg_vector_norm(at::stack({at::linalg_vector_norm(ga, 2), at::linalg_vector_norm(gb, 2)}), 2);
  const at::Tensor coef = ((total + 1e-6).reciprocal() * 0.5).clamp_max(1.0);
  EXPECT_EQ(norm, total.item<double>());
  EXPECT_TRUE(at::equal(a.grad(), ga * coef));
  EXPECT_TRUE(at::equal(b.grad(), gb * coef));

  a.mutable_grad() = at::full({7, 5}, std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isinf(clip_grad_norm({a, b}, 1.0)));
}

}  // namespace
}  // namespace ptlab::train
