#include "tasks/linear_head.h"

#include "framework/core/error.h"

#include <gtest/gtest.h>

namespace ptlab::tasks {
namespace {

TEST(LinearHead, ParametersAndInit) {
  LinearHead head(256, 50, 0.1, 7);
  auto named = head->named_parameters();
  ASSERT_EQ(named.size(), 2u);
  EXPECT_EQ(named["weight"].sizes(), (std::vector<int64_t>{50, 256}));
  EXPECT_EQ(named["bias"].sizes(), (std::vector<int64_t>{50}));
  EXPECT_TRUE(named["weight"].requires_grad());
  EXPECT_EQ(named["weight"].scalar_type(), at::kFloat);
  EXPECT_EQ(head->bias().abs().sum().item<float>(), 0.0f);
  EXPECT_NEAR(head->weight().std().item<float>(), 0.02, 0.001);  // 12,800 draws of N(0, 0.02^2)
  EXPECT_NEAR(head->weight().mean().item<float>(), 0.0, 0.001);
  EXPECT_EQ(head->hidden_size(), 256);
  EXPECT_EQ(head->num_classes(), 50);

  LinearHead same(256, 50, 0.1, 7), other(256, 50, 0.1, 8);
  EXPECT_TRUE(at::equal(same->weight(), head->weight()));  // the seed fixes the init
  EXPECT_FALSE(at::equal(other->weight(), head->weight()));
  EXPECT_THROW(LinearHead(0, 2), Error);
  EXPECT_THROW(LinearHead(4, 2, 1.0), Error);
}

TEST(LinearHead, ForwardIsAffineInEvalAndDropsOutInTraining) {
  LinearHead head(8, 3, 0.5, 1);
  at::Tensor x = at::randn({4, 8}).to(at::kDouble);
  head->eval();
  at::Tensor y = head->forward(x);
  EXPECT_EQ(y.scalar_type(), at::kFloat);
  EXPECT_TRUE(at::allclose(y, at::matmul(x.to(at::kFloat), head->weight().t()) + head->bias()));
  head->train();
  at::Tensor z = head->forward(at::ones({64, 8}));
  EXPECT_FALSE(at::allclose(z, head->forward(at::ones({64, 8}))));  // dropout is random in training
  // Gradients reach the head's parameters.
  head->eval();
  head->forward(x).sum().backward();
  EXPECT_TRUE(head->weight().grad().defined());
  EXPECT_GT(head->weight().grad().abs().sum().item<float>(), 0.0f);
}

TEST(LinearHead, SameInitOnEveryDevice) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  LinearHead cpu(16, 4, 0.0, 3), gpu(16, 4, 0.0, 3);
  gpu->to(at::kCUDA);
  gpu->reset_parameters(3);
  EXPECT_TRUE(gpu->weight().is_cuda());
  EXPECT_TRUE(at::equal(gpu->weight().cpu(), cpu->weight()));
  at::Tensor x = at::randn({2, 16});
  EXPECT_TRUE(at::allclose(gpu->forward(x.to(at::kCUDA).to(at::kBFloat16)).cpu(), cpu->forward(x.to(at::kBFloat16)),
                           1e-2, 1e-2));
}

TEST(LinearHead, GatherPositions) {
  at::Tensor hidden = at::arange(2 * 3 * 4, at::kFloat).view({2, 3, 4});  // [B=2, T=3, d=4]
  at::Tensor pooled = gather_positions(hidden, at::tensor({2, 0}, at::kLong));
  EXPECT_TRUE(at::equal(pooled[0], hidden[0][2]));
  EXPECT_TRUE(at::equal(pooled[1], hidden[1][0]));
}

}  // namespace
}  // namespace ptlab::tasks
