// AdamW and SGD (LibTorch-backed): hand-computed updates, PyTorch's order of operations to the last bit,
// skipped parameters, the lr set per step, and the named state.
#include "framework/train/torch_optimizers.h"

#include "tests/train/train_test_support.h"

#include <cmath>

namespace ptlab::train {
namespace {

using testing::param;
using testing::set_grad;

OptimizerConfig adamw_config(double lr, double wd) {
  OptimizerConfig c;
  c.name = "adamw";
  c.lr = lr;
  c.weight_decay = wd;
  return c;
}

std::vector<double> values_of(const at::Tensor& t) {
  at::Tensor d = t.detach().to(at::kDouble).contiguous().reshape({-1});
  return std::vector<double>(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
}

TEST(AdamW, TwoStepsMatchTheHandComputedFormulas) {
  const double lr = 0.1, wd = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  at::Tensor w = param({1.0, -2.0, 0.5}, {3});
  AdamW opt({{"w", w}}, adamw_config(lr, wd));
  const std::vector<std::vector<double>> grads = {{0.3, -0.1, 2.0}, {-0.5, 0.2, 1.0}};

  std::vector<double> p = {1.0, -2.0, 0.5}, m(3, 0.0), v(3, 0.0);
  for (int t = 1; t <= 2; ++t) {
    set_grad(w, grads[t - 1]);
    opt.step();
    for (int i = 0; i < 3; ++i) {
      const double g = grads[t - 1][i];
      p[i] *= 1 - lr * wd;
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      const double bc1 = 1 - std::pow(b1, t), bc2 = 1 - std::pow(b2, t);
      p[i] -= lr / bc1 * m[i] / (std::sqrt(v[i]) / std::sqrt(bc2) + eps);
    }
    const auto got = values_of(w);
    for (int i = 0; i < 3; ++i) EXPECT_NEAR(got[i], p[i], 1e-12) << "step " << t << " element " << i;
  }
  const auto state = opt.state_dict();
  EXPECT_EQ(state.at("w/step").item<int64_t>(), 2);
  EXPECT_EQ(state.at("step").item<int64_t>(), 2);
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(values_of(state.at("w/exp_avg"))[i], m[i], 1e-15);
    EXPECT_NEAR(values_of(state.at("w/exp_avg_sq"))[i], v[i], 1e-15);
  }
}

// torch.optim.AdamW (single-tensor path), op for op, in fp32.
void reference_adamw_step(at::Tensor& p, const at::Tensor& g, at::Tensor& m, at::Tensor& v, int64_t t, double lr,
                          double wd, double b1, double b2, double eps) {
  p.mul_(1 - lr * wd);
  m.mul_(b1).add_(g, 1 - b1);
  v.mul_(b2).addcmul_(g, g, 1 - b2);
  const double bc1 = 1 - std::pow(b1, static_cast<double>(t));
  const double bc2 = 1 - std::pow(b2, static_cast<double>(t));
  const at::Tensor denom = (v.sqrt() / std::sqrt(bc2)).add_(eps);
  p.addcdiv_(m, denom, -(lr / bc1));
}

TEST(AdamW, FollowsPyTorchsOrderOfOperationsBitExactly) {
  at::manual_seed(7);
  const at::Tensor init = at::randn({5, 37});  // [5, 37] fp32: vectorised and tail elements
  at::Tensor w = init.clone().set_requires_grad(true);
  OptimizerConfig c = adamw_config(3e-2, 0.05);
  c.beta1 = 0.8;
  c.beta2 = 0.95;
  c.eps = 1e-6;
  AdamW opt({{"w", w}}, c);
  at::Tensor ref = init.clone(), m = at::zeros_like(init), v = at::zeros_like(init);
  for (int64_t t = 1; t <= 4; ++t) {
    const at::Tensor g = at::randn({5, 37});
    w.mutable_grad() = g.clone();
    const double lr = c.lr * (t == 3 ? 0.5 : 1.0);  // the schedule may change lr between steps
    opt.set_lr(lr);
    opt.step();
    reference_adamw_step(ref, g, m, v, t, lr, c.weight_decay, c.beta1, c.beta2, c.eps);
    ASSERT_TRUE(at::equal(w.detach(), ref)) << "step " << t << ": max diff " << (w - ref).abs().max().item<double>();
  }
}

TEST(AdamW, SkipsParametersWithoutAGradient) {
  at::Tensor a = param({1.0, 2.0}, {2}), b = param({3.0, 4.0}, {2});
  AdamW opt({{"a", a}, {"b", b}}, adamw_config(0.1, 0.5));
  set_grad(a, {1.0, 1.0});
  opt.step();
  EXPECT_TRUE(at::equal(b.detach(), at::tensor({3.0, 4.0}, at::kDouble)));  // no decay either
  EXPECT_LT(a[0].item<double>(), 1.0);
  const auto state = opt.state_dict();
  EXPECT_EQ(state.count("a/exp_avg"), 1u);
  EXPECT_EQ(state.count("b/exp_avg"), 0u);
  EXPECT_EQ(state.count("b/step"), 0u);
  EXPECT_EQ(opt.steps(), 1);
}

TEST(AdamW, TheLrSetBeforeAStepIsTheOneUsed) {
  at::Tensor a = param({1.0}, {1}), b = param({1.0}, {1});
  AdamW fast({{"a", a}}, adamw_config(0.1, 0.0)), slow({{"b", b}}, adamw_config(0.1, 0.0));
  slow.set_lr(0.01);
  EXPECT_EQ(slow.lr(), 0.01);
  set_grad(a, {2.0});
  set_grad(b, {2.0});
  fast.step();
  slow.step();
  EXPECT_NEAR(1.0 - a.item<double>(), 0.1, 1e-6);  // |update| = lr at step 1
  EXPECT_NEAR(1.0 - b.item<double>(), 0.01, 1e-7);
  slow.set_lr(0.0);
  set_grad(b, {2.0});
  const double before = b.item<double>();
  slow.step();
  EXPECT_EQ(b.item<double>(), before);
}

TEST(Sgd, MomentumAndWeightDecayMatchTheHandComputedFormulas) {
  OptimizerConfig c;
  c.name = "sgd";
  c.lr = 0.5;
  c.momentum = 0.9;
  c.weight_decay = 0.1;
  at::Tensor w = param({1.0, -1.0}, {2});
  Sgd opt({{"w", w}}, c);
  const std::vector<std::vector<double>> grads = {{0.2, 0.4}, {-0.1, 0.3}, {0.5, -0.5}};
  std::vector<double> p = {1.0, -1.0}, buf(2, 0.0);
  for (int t = 0; t < 3; ++t) {
    set_grad(w, grads[t]);
    opt.step();
    for (int i = 0; i < 2; ++i) {
      const double d = grads[t][i] + c.weight_decay * p[i];
      buf[i] = t == 0 ? d : c.momentum * buf[i] + d;
      p[i] -= c.lr * buf[i];
    }
    const auto got = values_of(w);
    for (int i = 0; i < 2; ++i) EXPECT_NEAR(got[i], p[i], 1e-14) << "step " << t;
  }
  const auto state = opt.state_dict();
  EXPECT_NEAR(values_of(state.at("w/momentum_buffer"))[1], buf[1], 1e-14);
  EXPECT_EQ(state.size(), 2u);  // w/momentum_buffer and step
}

TEST(Sgd, WithoutMomentumKeepsNoStateAndStepsByLrTimesGrad) {
  OptimizerConfig c;
  c.name = "sgd";
  c.lr = 0.25;
  at::Tensor w = param({1.0, 2.0, 3.0, 4.0}, {2, 2});
  Sgd opt({{"w", w}}, c);
  set_grad(w, {1.0, -2.0, 0.0, 4.0});
  opt.step();
  EXPECT_EQ(values_of(w), (std::vector<double>{0.75, 2.5, 3.0, 3.0}));
  const auto state = opt.state_dict();
  EXPECT_EQ(state.size(), 1u);
  EXPECT_EQ(state.at("step").item<int64_t>(), 1);
}

}  // namespace
}  // namespace ptlab::train
