// GPT-NeoX specifics: parallel vs sequential residual, rotary_pct, tied vs separate embed_out, ignored
// buffers. (Numerics against transformers, incl. the [heads, 3, d_head] qkv layout: golden_test.cpp.)
#include "framework/models/gpt_neox.h"

#include "framework/io/safetensors.h"
#include "framework/models/loader.h"
#include "tests/models/golden_fixture.h"
#include "tests/models/temp_dir.h"

#include <gtest/gtest.h>

#include <fstream>

namespace ptlab::models {
namespace {

using testing::max_abs_diff;

nlohmann::json tiny_config() {
  return {{"model_type", "gpt_neox"},  {"hidden_size", 32}, {"num_hidden_layers", 2}, {"num_attention_heads", 4},
          {"intermediate_size", 64},   {"vocab_size", 40},  {"rotary_pct", 0.25},    {"use_parallel_residual", true}};
}

at::Tensor logits(Backbone& m, const at::Tensor& ids) {
  BackboneInput in;
  in.input_ids = ids;
  return m.forward(in).logits;
}

TEST(GptNeoX, ResidualLayoutAndRotaryFractionMatter) {
  at::Tensor ids = at::randint(0, 40, {1, 7}, at::kLong);
  auto c = tiny_config();
  auto parallel = random_backbone(HFConfig(c, "(test)"), {}, 2);
  c["use_parallel_residual"] = false;
  auto sequential = random_backbone(HFConfig(c, "(test)"), {}, 2);
  EXPECT_GT(max_abs_diff(logits(*parallel, ids), logits(*sequential, ids)), 1e-4);
  c = tiny_config();
  c["rotary_pct"] = 1.0;
  auto full_rotary = random_backbone(HFConfig(c, "(test)"), {}, 2);
  EXPECT_GT(max_abs_diff(logits(*parallel, ids), logits(*full_rotary, ids)), 1e-4);
}

TEST(GptNeoX, TiedOrSeparateOutputEmbeddings) {
  auto c = tiny_config();
  auto separate = random_backbone(HFConfig(c, "(test)"));
  EXPECT_TRUE(separate->named_parameters().contains("embed_out.weight"));
  EXPECT_EQ(separate->info().num_embedding_parameters, 2 * 40 * 32);
  c["tie_word_embeddings"] = true;
  auto tied = random_backbone(HFConfig(c, "(test)"));
  EXPECT_FALSE(tied->named_parameters().contains("embed_out.weight"));
  EXPECT_TRUE(tied->info().tied_embeddings);
}

TEST(GptNeoX, HuggingFaceBuffersAreIgnored) {
  if (!testing::have_golden("gpt_neox")) GTEST_SKIP() << "../shared not found";
  testing::TempDir dir;
  const std::string src = testing::model_dir("gpt_neox");
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& [name, t] : io::load_safetensors(src + "/model.safetensors")) tensors.emplace_back(name, t);
  tensors.emplace_back("gpt_neox.layers.0.attention.bias", at::ones({1, 1, 4, 4}));
  tensors.emplace_back("gpt_neox.layers.0.attention.masked_bias", at::ones({}));
  tensors.emplace_back("gpt_neox.layers.0.attention.rotary_emb.inv_freq", at::ones({2}));
  io::save_safetensors(dir.sub("model.safetensors"), tensors);
  std::ifstream in(src + "/config.json");
  std::stringstream text;
  text << in.rdbuf();
  dir.write("config.json", text.str());
  auto with_buffers = load_backbone(dir.str());
  auto original = load_backbone(src);
  at::Tensor ids = at::randint(0, 512, {1, 6}, at::kLong);
  EXPECT_TRUE(at::equal(logits(*with_buffers, ids), logits(*original, ids)));
  EXPECT_EQ(original->info().max_positions, 0);  // rotary: unbounded
  EXPECT_EQ(original->info().num_kv_heads, 4);
}

}  // namespace
}  // namespace ptlab::models
