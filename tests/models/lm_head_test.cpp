#include "framework/models/lm_head.h"

#include "tests/models/golden_fixture.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ptlab::models {
namespace {

using testing::error_of;
using testing::max_abs_diff;

TEST(LmHead, ModesProjectAllNoneOrChosenRows) {
  at::Tensor hidden = at::randn({2, 5, 4}), weight = at::randn({7, 4}), bias = at::randn({7});
  LogitsRequest all;
  at::Tensor full = compute_logits(hidden, weight, all, bias);
  EXPECT_LE(max_abs_diff(full, at::matmul(hidden, weight.t()) + bias), 1e-5);
  LogitsRequest none;
  none.mode = LogitsRequest::Mode::kNone;
  EXPECT_FALSE(compute_logits(hidden, weight, none).defined());
  LogitsRequest chosen;
  chosen.mode = LogitsRequest::Mode::kPositions;
  chosen.positions = at::tensor({4, 1}, at::kLong).view({2, 1});
  chosen.vocab_rows = at::tensor({6, 0}, at::kLong);
  at::Tensor got = compute_logits(hidden, weight, chosen, bias);
  ASSERT_EQ(got.sizes(), (at::IntArrayRef{2, 1, 2}));
  EXPECT_NEAR(got[0][0][0].item<float>(), full[0][4][6].item<float>(), 1e-5);
  EXPECT_NEAR(got[1][0][1].item<float>(), full[1][1][0].item<float>(), 1e-5);
  all.vocab_rows = chosen.vocab_rows;
  EXPECT_NE(error_of([&] { compute_logits(hidden, weight, all); }).find("vocab_rows need mode kPositions"),
            std::string::npos);
  chosen.positions = at::Tensor();
  EXPECT_NE(error_of([&] { compute_logits(hidden, weight, chosen); }).find("needs positions"), std::string::npos);
}

TEST(LmHead, CausalLossShiftsAndIgnoresMinus100) {
  at::Tensor logits = at::randn({1, 3, 4});
  at::Tensor labels = at::tensor({9, 2, -100}, at::kLong).view({1, 3});  // label 0 is never predicted
  // Only logits[0][0] predicts labels[0][1] = 2.
  double expected = -at::log_softmax(logits[0][0], -1)[2].item<double>();
  EXPECT_NEAR(causal_lm_loss(logits, labels).item<double>(), expected, 1e-6);
  EXPECT_NE(error_of([&] { causal_lm_loss(logits, at::zeros({1, 2}, at::kLong)); }).find("disagree"),
            std::string::npos);
}

}  // namespace
}  // namespace ptlab::models
