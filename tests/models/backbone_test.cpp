#include "framework/models/backbone.h"

#include "tests/models/golden_fixture.h"

#include <gtest/gtest.h>

namespace ptlab::models {
namespace {

TEST(Backbone, RegistersDottedHuggingFaceNames) {
  torch::nn::Module root;
  register_hf_parameter(root, "model.layers.0.self_attn.q_proj.weight", at::ones({2, 2}));
  register_hf_parameter(root, "model.layers.0.self_attn.q_proj.bias", at::ones({2}));
  register_hf_parameter(root, "model.layers.1.mlp.weight", at::ones({3}));
  at::Tensor top = register_hf_parameter(root, "lm_head", at::zeros({1}));
  auto params = root.named_parameters();
  EXPECT_EQ(params.size(), 4u);
  EXPECT_TRUE(params.contains("model.layers.0.self_attn.q_proj.weight"));
  EXPECT_TRUE(params.contains("model.layers.0.self_attn.q_proj.bias"));
  EXPECT_TRUE(params.contains("model.layers.1.mlp.weight"));
  EXPECT_TRUE(params.contains("lm_head"));
  EXPECT_EQ(count_parameters(root), 4 + 2 + 3 + 1);
  top.fill_(5.0);  // the returned handle is the registered tensor
  EXPECT_EQ(params["lm_head"].item<float>(), 5.0f);
}

}  // namespace
}  // namespace ptlab::models
