// Llama-family specifics on tiny random models: Qwen2 biases, Mistral's sliding window, tied heads,
// explicit head_dim, RMSNorm. (Numerics against transformers: golden_test.cpp.)
#include "framework/models/llama.h"

#include "framework/models/loader.h"
#include "tests/models/golden_fixture.h"

#include <gtest/gtest.h>

namespace ptlab::models {
namespace {

using testing::error_of;
using testing::max_abs_diff;

std::shared_ptr<Backbone> tiny(const std::string& type, const nlohmann::json& extra = {}, uint64_t seed = 0) {
  nlohmann::json c = {{"model_type", type},       {"hidden_size", 32},       {"num_hidden_layers", 2},
                      {"num_attention_heads", 4}, {"num_key_value_heads", 2}, {"intermediate_size", 40},
                      {"vocab_size", 50},         {"rms_norm_eps", 1e-5}};
  for (const auto& [k, v] : extra.items()) c[k] = v;
  return random_backbone(HFConfig(c, "(test)/config.json"), {}, seed);
}

bool has_parameter(const Backbone& m, const std::string& name) { return m.named_parameters().contains(name); }

TEST(Llama, Qwen2HasQkvBiasesButNoOutputBias) {
  auto qwen = tiny("qwen2");
  EXPECT_TRUE(has_parameter(*qwen, "model.layers.0.self_attn.q_proj.bias"));
  EXPECT_TRUE(has_parameter(*qwen, "model.layers.1.self_attn.v_proj.bias"));
  EXPECT_FALSE(has_parameter(*qwen, "model.layers.0.self_attn.o_proj.bias"));
  auto llama = tiny("llama");
  EXPECT_FALSE(has_parameter(*llama, "model.layers.0.self_attn.q_proj.bias"));
  auto biased = tiny("llama", {{"attention_bias", true}, {"mlp_bias", true}});
  EXPECT_TRUE(has_parameter(*biased, "model.layers.0.self_attn.o_proj.bias"));
  EXPECT_TRUE(has_parameter(*biased, "model.layers.0.mlp.down_proj.bias"));
  EXPECT_EQ(qwen->info().model_type, "qwen2");
  EXPECT_EQ(qwen->info().family, "llama");
}

TEST(Llama, MistralSlidingWindowHidesDistantKeys) {
  // One layer, window 4: the last position sees only the last 4 tokens, so it equals a run on those 4
  // tokens at the same positions.
  auto mistral = tiny("mistral", {{"num_hidden_layers", 1}, {"sliding_window", 4}});
  at::Tensor ids = at::randint(0, 50, {1, 10}, at::kLong);
  BackboneInput full;
  full.input_ids = ids;
  BackboneInput tail;
  tail.input_ids = ids.narrow(1, 6, 4);
  tail.position_ids = at::arange(6, 10, at::kLong).unsqueeze(0);
  at::Tensor a = mistral->forward(full).logits.select(1, 9), b = mistral->forward(tail).logits.select(1, 3);
  EXPECT_LE(max_abs_diff(a, b), 1e-5);
  auto unwindowed = tiny("llama", {{"num_hidden_layers", 1}});  // same weights (same seed), no window
  EXPECT_GT(max_abs_diff(unwindowed->forward(full).logits.select(1, 9), a), 1e-4);
}

TEST(Llama, TiedEmbeddingsShareTheInputMatrix) {
  auto tied = tiny("llama", {{"tie_word_embeddings", true}});
  EXPECT_FALSE(has_parameter(*tied, "lm_head.weight"));
  EXPECT_TRUE(tied->info().tied_embeddings);
  EXPECT_EQ(tied->info().num_embedding_parameters, 50 * 32);
  BackboneInput in;
  in.input_ids = at::randint(0, 50, {1, 4}, at::kLong);
  auto out = tied->forward(in);
  EXPECT_LE(max_abs_diff(out.logits, at::matmul(out.last_hidden_state, tied->word_embeddings().t())), 1e-5);
  auto untied = tiny("llama");
  EXPECT_TRUE(has_parameter(*untied, "lm_head.weight"));
  EXPECT_EQ(untied->info().num_parameters - tied->info().num_parameters, 50 * 32);
}

TEST(Llama, ExplicitHeadDimAndBadHeadCounts) {
  auto wide = tiny("mistral", {{"head_dim", 16}});  // 4 heads x 16 = 64 != hidden 32
  EXPECT_EQ(wide->info().head_dim, 16);
  EXPECT_EQ(wide->named_parameters()["model.layers.0.self_attn.q_proj.weight"].sizes(), (at::IntArrayRef{64, 32}));
  EXPECT_EQ(wide->named_parameters()["model.layers.0.self_attn.o_proj.weight"].sizes(), (at::IntArrayRef{32, 64}));
  BackboneInput in;
  in.input_ids = at::randint(0, 50, {1, 4}, at::kLong);
  EXPECT_EQ(wide->forward(in).logits.sizes(), (at::IntArrayRef{1, 4, 50}));
  std::string m = error_of([] { tiny("llama", {{"num_key_value_heads", 3}}); });
  EXPECT_NE(m.find("num_attention_heads 4 is not a multiple of num_key_value_heads 3"), std::string::npos) << m;
  m = error_of([] { tiny("llama", {{"hidden_act", "gelu_newest"}}); });
  EXPECT_NE(m.find("activation 'gelu_newest' is not supported"), std::string::npos) << m;
}

TEST(Llama, RmsNormComputesInFloat32) {
  at::Tensor x = at::randn({2, 8}), w = at::randn({8});
  at::Tensor expected = w * x / at::sqrt(x.pow(2).mean(-1, true) + 1e-6);
  EXPECT_LE(max_abs_diff(rms_norm(x, w, 1e-6), expected), 1e-5);
  at::Tensor y = rms_norm(x.to(at::kBFloat16), w.to(at::kBFloat16), 1e-6);
  EXPECT_EQ(y.scalar_type(), at::kBFloat16);
  EXPECT_LE(max_abs_diff(y.to(at::kFloat), expected), 0.1);
}

TEST(Llama, RopeScalingConfigsBuildAndChangeLongContexts) {
  auto plain = tiny("llama", {{"max_position_embeddings", 8}});
  auto linear = tiny("llama", {{"max_position_embeddings", 8}, {"rope_scaling", {{"type", "linear"}, {"factor", 2.0}}}});
  BackboneInput in;
  in.input_ids = at::randint(0, 50, {1, 6}, at::kLong);
  EXPECT_GT(max_abs_diff(plain->forward(in).logits, linear->forward(in).logits), 1e-5);
  std::string m = error_of([] { tiny("llama", {{"rope_scaling", {{"type", "su"}, {"factor", 2.0}}}}); });
  EXPECT_NE(m.find("rope_scaling type 'su' is not supported"), std::string::npos) << m;
}

}  // namespace
}  // namespace ptlab::models
