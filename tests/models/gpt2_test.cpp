// GPT-2 specifics: Conv1D layout, checkpoints without the "transformer." prefix (plus their mask buffers),
// the learned-position limit, per-layer attention scaling. (Numerics against transformers: golden_test.cpp.)
#include "framework/models/gpt2.h"

#include "framework/io/safetensors.h"
#include "framework/models/loader.h"
#include "tests/models/golden_fixture.h"
#include "tests/models/temp_dir.h"

#include <gtest/gtest.h>

#include <fstream>

namespace ptlab::models {
namespace {

using testing::error_of;
using testing::max_abs_diff;

TEST(Gpt2, Conv1DIsTheTransposeOfLinear) {
  at::Tensor x = at::randn({2, 3, 4}), w = at::randn({4, 6}), b = at::randn({6});
  at::Tensor y = conv1d(x, w, b);
  EXPECT_EQ(y.sizes(), (at::IntArrayRef{2, 3, 6}));
  EXPECT_LE(max_abs_diff(y, at::linear(x, w.t(), b)), 1e-5);
}

TEST(Gpt2, LoadsCheckpointsWithoutTheTransformerPrefix) {
  if (!testing::have_golden("gpt2")) GTEST_SKIP() << "../shared not found";
  testing::TempDir dir;
  const std::string src = testing::model_dir("gpt2");
  std::vector<std::pair<std::string, at::Tensor>> renamed;
  for (const auto& [name, t] : io::load_safetensors(src + "/model.safetensors"))
    renamed.emplace_back(name.rfind("transformer.", 0) == 0 ? name.substr(12) : name, t);
  // The causal-mask buffers older checkpoints carry are ignored.
  renamed.emplace_back("h.0.attn.bias", at::ones({1, 1, 4, 4}));
  renamed.emplace_back("h.0.attn.masked_bias", at::ones({}));
  io::save_safetensors(dir.sub("model.safetensors"), renamed);
  std::ifstream in(src + "/config.json");
  std::stringstream text;
  text << in.rdbuf();
  dir.write("config.json", text.str());

  auto original = load_backbone(src), stripped = load_backbone(dir.str());
  EXPECT_TRUE(stripped->named_parameters().contains("wte.weight"));
  BackboneInput input;
  input.input_ids = at::randint(0, 512, {1, 6}, at::kLong);
  EXPECT_TRUE(at::equal(original->forward(input).logits, stripped->forward(input).logits));
}

TEST(Gpt2, PositionsBeyondTheTableAreAnError) {
  nlohmann::json c = {{"model_type", "gpt2"}, {"n_embd", 16}, {"n_layer", 1}, {"n_head", 2},
                      {"vocab_size", 30},     {"n_positions", 8}};
  auto model = random_backbone(HFConfig(c, "(test)/config.json"));
  BackboneInput in;
  in.input_ids = at::randint(0, 30, {1, 9}, at::kLong);
  std::string m = error_of([&] { model->forward(in); });
  EXPECT_NE(m.find("positions 0..8 exceed the learned position table (n_positions = 8)"), std::string::npos) << m;
  EXPECT_EQ(model->info().max_positions, 8);
  EXPECT_EQ(model->info().intermediate_size, 64);  // n_inner null -> 4 * n_embd
}

TEST(Gpt2, InverseLayerScalingChangesDeeperLayers) {
  nlohmann::json c = {{"model_type", "gpt2"}, {"n_embd", 16}, {"n_layer", 2}, {"n_head", 2},
                      {"vocab_size", 30},     {"n_positions", 16}};
  auto plain = random_backbone(HFConfig(c, "(test)/config.json"), {}, 5);
  c["scale_attn_by_inverse_layer_idx"] = true;
  auto scaled = random_backbone(HFConfig(c, "(test)/config.json"), {}, 5);
  BackboneInput in;
  in.input_ids = at::randint(0, 30, {1, 6}, at::kLong);
  in.output_hidden_states = true;
  auto a = plain->forward(in), b = scaled->forward(in);
  EXPECT_TRUE(at::equal(a.hidden_states[1], b.hidden_states[1]));  // layer 0: divided by 1
  EXPECT_FALSE(at::equal(a.hidden_states[2], b.hidden_states[2]));
}

}  // namespace
}  // namespace ptlab::models
