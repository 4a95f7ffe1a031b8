// Adafactor: hand-computed updates (a scalar re-derivation of Hugging Face's algorithm in double) for
// factored and unfactored parameters and every option, state shapes, and fp16/bf16 parameters.
#include "framework/train/adafactor.h"

#include "tests/train/train_test_support.h"

#include <algorithm>
#include <cmath>

namespace ptlab::train {
namespace {

using testing::param;
using testing::set_grad;

/// Adafactor on one parameter of R x C values (factored) or n values (unfactored), element by element.
struct HandAdafactor {
  OptimizerConfig c;
  int64_t rows, cols;  // cols = 0: unfactored vector of `rows` values
  std::vector<double> p, m, v, row, col;
  int64_t t = 0;

  HandAdafactor(OptimizerConfig config, std::vector<double> init, int64_t r, int64_t k)
      : c(std::move(config)), rows(r), cols(k), p(std::move(init)), m(p.size(), 0.0), v(p.size(), 0.0),
        row(r, 0.0), col(k, 0.0) {}

  static double rms(const std::vector<double>& x) {
    double s = 0;
    for (double e : x) s += e * e;
    return std::sqrt(s) / std::sqrt(static_cast<double>(x.size()));
  }

  void step(const std::vector<double>& g, double lr) {
    ++t;
    const double td = static_cast<double>(t);
    double rel = lr;
    if (c.relative_step) rel = std::min(c.warmup_init ? 1e-6 * td : 1e-2, 1.0 / std::sqrt(td));
    const double size = c.scale_parameter ? std::max(c.eps2, rms(p)) * rel : rel;
    const double b2 = 1.0 - std::pow(td, c.decay_rate);
    const std::size_t n = p.size();
    std::vector<double> u(n);
    if (cols > 0) {
      for (int64_t r = 0; r < rows; ++r) {
        double s = 0;
        for (int64_t k = 0; k < cols; ++k) s += g[r * cols + k] * g[r * cols + k] + c.eps1;
        row[r] = b2 * row[r] + (1 - b2) * s / static_cast<double>(cols);
      }
      for (int64_t k = 0; k < cols; ++k) {
        double s = 0;
        for (int64_t r = 0; r < rows; ++r) s += g[r * cols + k] * g[r * cols + k] + c.eps1;
        col[k] = b2 * col[k] + (1 - b2) * s / static_cast<double>(rows);
      }
      double row_mean = 0;
      for (double e : row) row_mean += e / static_cast<double>(rows);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t k = 0; k < cols; ++k)
          u[r * cols + k] = g[r * cols + k] / std::sqrt(row[r] / row_mean) / std::sqrt(col[k]);
    } else {
      for (std::size_t i = 0; i < n; ++i) {
        v[i] = b2 * v[i] + (1 - b2) * (g[i] * g[i] + c.eps1);
        u[i] = g[i] / std::sqrt(v[i]);
      }
    }
    const double clip = std::max(1.0, rms(u) / c.clip_threshold);
    for (std::size_t i = 0; i < n; ++i) u[i] = u[i] / clip * size;
    if (c.adafactor_beta1) {
      for (std::size_t i = 0; i < n; ++i) m[i] = *c.adafactor_beta1 * m[i] + (1 - *c.adafactor_beta1) * u[i];
      u = m;
    }
    for (std::size_t i = 0; i < n; ++i) p[i] = p[i] - c.weight_decay * size * p[i] - u[i];
  }
};

OptimizerConfig adafactor_config() {
  OptimizerConfig c;
  c.name = "adafactor";
  c.lr = 0.05;
  return c;
}

std::vector<double> values_of(const at::Tensor& t) {
  at::Tensor d = t.detach().to(at::kDouble).contiguous().reshape({-1});
  return std::vector<double>(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
}

const std::vector<std::vector<double>> kGrads6 = {
    {0.3, -0.1, 2.0, 0.05, -1.5, 0.7}, {-0.5, 0.2, 1.0, 0.4, -0.3, 0.0}, {0.1, 0.9, -0.6, 0.2, 0.8, -1.1}};
const std::vector<double> kInit6 = {1.0, -2.0, 0.5, 0.25, -0.75, 1.5};

/// Runs 3 steps of Adafactor and of the hand computation on a parameter of `shape` (6 values) and
/// compares after each step.
void expect_matches_hand(const OptimizerConfig& c, std::vector<int64_t> shape, const std::vector<double>& lrs) {
  const bool factor = shape.size() >= 2;
  HandAdafactor hand(c, kInit6, factor ? shape[0] : 6, factor ? shape[1] : 0);
  at::Tensor w = param(kInit6, shape);
  Adafactor opt({{"w", w}}, c);
  EXPECT_EQ(opt.factored(0), factor);
  for (int t = 0; t < 3; ++t) {
    set_grad(w, kGrads6[t]);
    opt.set_lr(lrs[t]);
    opt.step();
    hand.step(kGrads6[t], lrs[t]);
    const auto got = values_of(w);
    for (int i = 0; i < 6; ++i) EXPECT_NEAR(got[i], hand.p[i], 1e-12) << "step " << t + 1 << " element " << i;
  }
  const auto state = opt.state_dict();
  EXPECT_EQ(state.at("w/step").item<int64_t>(), 3);
  if (factor) {
    EXPECT_EQ(state.count("w/exp_avg_sq"), 0u);
    const auto row = values_of(state.at("w/exp_avg_sq_row")), col = values_of(state.at("w/exp_avg_sq_col"));
    for (std::size_t i = 0; i < row.size(); ++i) EXPECT_NEAR(row[i], hand.row[i], 1e-14);
    for (std::size_t i = 0; i < col.size(); ++i) EXPECT_NEAR(col[i], hand.col[i], 1e-14);
  } else {
    EXPECT_EQ(state.count("w/exp_avg_sq_row"), 0u);
    const auto v = values_of(state.at("w/exp_avg_sq"));
    for (int i = 0; i < 6; ++i) EXPECT_NEAR(v[i], hand.v[i], 1e-14);
  }
  EXPECT_EQ(state.count("w/exp_avg"), c.adafactor_beta1 ? 1u : 0u);
}

TEST(Adafactor, UnfactoredThreeStepsMatchTheHandComputation) {
  expect_matches_hand(adafactor_config(), {6}, {0.05, 0.05, 0.02});
}

TEST(Adafactor, FactoredThreeStepsMatchTheHandComputation) {
  expect_matches_hand(adafactor_config(), {2, 3}, {0.05, 0.05, 0.02});
  expect_matches_hand(adafactor_config(), {3, 2}, {0.3, 0.3, 0.3});
}

TEST(Adafactor, EveryOptionMatchesTheHandComputation) {
  OptimizerConfig c = adafactor_config();
  c.adafactor_beta1 = 0.9;
  c.weight_decay = 0.1;
  c.scale_parameter = true;
  c.clip_threshold = 0.5;  // the first step's update has RMS ~1, so clipping is active
  c.decay_rate = -0.6;
  c.eps1 = 1e-3;
  expect_matches_hand(c, {6}, {0.05, 0.1, 0.02});
  expect_matches_hand(c, {2, 3}, {0.05, 0.1, 0.02});
  c.eps2 = 10.0;  // scale_parameter: the floor wins over the parameters' RMS
  expect_matches_hand(c, {2, 3}, {0.05, 0.1, 0.02});
}

TEST(Adafactor, RelativeStepIgnoresTheLrAndWarmupInitRampsUp) {
  OptimizerConfig c = adafactor_config();
  c.relative_step = true;
  expect_matches_hand(c, {2, 3}, {100.0, 5.0, 1.0});  // step size min(1e-2, 1/sqrt(t)) whatever lr says
  c.warmup_init = true;
  c.scale_parameter = true;
  expect_matches_hand(c, {6}, {100.0, 5.0, 1.0});  // min(1e-6 t, 1/sqrt(t)) * RMS(p)
  // Warmup init steps are tiny: the parameter barely moves.
  at::Tensor w = param(kInit6, {6});
  Adafactor opt({{"w", w}}, c);
  set_grad(w, kGrads6[0]);
  opt.step();
  EXPECT_LT((w.detach() - at::tensor(kInit6, at::kDouble)).abs().max().item<double>(), 1e-5);
}

TEST(Adafactor, FactorsOverTheLastTwoDimsOfAThreeDimParameter) {
  at::Tensor w3 = param(kInit6, {1, 2, 3}), w2 = param(kInit6, {2, 3});
  Adafactor a({{"w", w3}}, adafactor_config()), b({{"w", w2}}, adafactor_config());
  for (int t = 0; t < 3; ++t) {
    set_grad(w3, kGrads6[t]);
    set_grad(w2, kGrads6[t]);
    a.step();
    b.step();
  }
  EXPECT_TRUE(at::allclose(w3.detach().reshape({2, 3}), w2.detach(), 0, 1e-15));
  const auto state = a.state_dict();
  EXPECT_EQ(state.at("w/exp_avg_sq_row").sizes().vec(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(state.at("w/exp_avg_sq_col").sizes().vec(), (std::vector<int64_t>{1, 3}));
  at::Tensor big = at::zeros({4, 5, 6}).set_requires_grad(true);
  Adafactor c({{"big", big}}, adafactor_config());
  big.mutable_grad() = at::ones({4, 5, 6});
  c.step();
  EXPECT_EQ(c.state_dict().at("big/exp_avg_sq_row").sizes().vec(), (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(c.state_dict().at("big/exp_avg_sq_col").sizes().vec(), (std::vector<int64_t>{4, 6}));
}

TEST(Adafactor, HalfPrecisionParametersAreUpdatedInFp32WithFp32State) {
  for (at::ScalarType half : {at::kBFloat16, at::kHalf}) {
    at::Tensor low = param(kInit6, {2, 3}, half);
    at::Tensor full = low.detach().to(at::kFloat).set_requires_grad(true);
    Adafactor a({{"w", low}}, adafactor_config()), b({{"w", full}}, adafactor_config());
    set_grad(low, kGrads6[0]);
    full.mutable_grad() = low.grad().to(at::kFloat);
    a.step();
    b.step();
    EXPECT_EQ(low.scalar_type(), half);
    EXPECT_TRUE(at::equal(low.detach(), full.detach().to(half))) << c10::toString(half);
    EXPECT_FALSE(at::equal(low.detach(), param(kInit6, {2, 3}, half).detach()));
    const auto sa = a.state_dict(), sb = b.state_dict();
    EXPECT_EQ(sa.at("w/exp_avg_sq_row").scalar_type(), at::kFloat);
    EXPECT_TRUE(at::equal(sa.at("w/exp_avg_sq_col"), sb.at("w/exp_avg_sq_col")));
  }
}

}  // namespace
}  // namespace ptlab::train
