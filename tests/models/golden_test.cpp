// Golden tests of the decoder-only families against transformers 4.38.2 (fp32, CPU, eager attention):
// logits, every hidden state and the loss of the plain and the right-padded batch within 1e-4, and greedy
// generation token for token.
#include "framework/io/safetensors.h"
#include "framework/models/generate.h"
#include "framework/models/lm_head.h"
#include "framework/models/loader.h"
#include "tests/models/golden_fixture.h"

#include <gtest/gtest.h>

#include <iostream>

namespace ptlab::models {
namespace {

using testing::golden_dir;
using testing::max_abs_diff;
using testing::model_dir;

constexpr double kTol = 1e-4;

class Golden : public ::testing::TestWithParam<std::string> {};
class GoldenPadded : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, LogitsHiddenStatesAndLossMatchTransformers) {
  const std::string name = GetParam();
  PTLAB_SKIP_WITHOUT_GOLDEN(name);
  auto model = load_backbone(model_dir(name));
  auto golden = io::load_safetensors(golden_dir(name) + "/golden.safetensors");

  BackboneInput in;
  in.input_ids = golden.at("input_ids");
  in.attention_mask = golden.at("attention_mask");
  in.output_hidden_states = true;
  auto out = model->forward(in);
  const double logits_error = max_abs_diff(out.logits, golden.at("logits"));
  EXPECT_LE(logits_error, kTol);
  std::cout << "[ golden ] " << name << ": max |logits - transformers| " << logits_error << std::endl;
  RecordProperty("max_abs_logits_error", std::to_string(logits_error));
  ASSERT_EQ(out.hidden_states.size(), static_cast<std::size_t>(model->info().num_layers + 1));
  for (std::size_t l = 0; l < out.hidden_states.size(); ++l)
    EXPECT_LE(max_abs_diff(out.hidden_states[l], golden.at("hidden_states." + std::to_string(l))), kTol) << l;
  at::Tensor labels = golden.count("labels") ? golden.at("labels") : golden.at("input_ids");
  EXPECT_NEAR(causal_lm_loss(out.logits, labels).item<double>(), golden.at("loss").item<double>(), kTol);
  EXPECT_TRUE(at::equal(out.last_hidden_state, out.hidden_states.back()));
}

TEST_P(GoldenPadded, RightPaddedBatchMatchesTransformers) {
  const std::string name = GetParam();
  PTLAB_SKIP_WITHOUT_GOLDEN(name);
  auto golden = io::load_safetensors(golden_dir(name) + "/golden.safetensors");
  auto model = load_backbone(model_dir(name));
  BackboneInput in;
  in.input_ids = golden.at("padded_input_ids");
  in.attention_mask = golden.at("padded_attention_mask");
  auto out = model->forward(in);
  EXPECT_LE(max_abs_diff(out.logits, golden.at("padded_logits")), kTol);
  EXPECT_NEAR(causal_lm_loss(out.logits, golden.at("padded_labels")).item<double>(),
              golden.at("padded_loss").item<double>(), kTol);
}

TEST_P(Golden, GreedyGenerationReproducesTransformers) {
  const std::string name = GetParam();
  PTLAB_SKIP_WITHOUT_GOLDEN(name);
  auto model = load_backbone(model_dir(name));
  auto golden = io::load_safetensors(golden_dir(name) + "/golden.safetensors");
  const at::Tensor& prompt = golden.at("greedy_prompt");
  const at::Tensor& expected = golden.at("greedy_output");
  BackboneInput in;
  in.input_ids = prompt;
  GenerationConfig config;
  config.max_new_tokens = expected.size(1) - prompt.size(1);
  auto result = generate(*model, in, config);
  EXPECT_TRUE(at::equal(result.sequences, expected)) << result.sequences << "\nexpected\n" << expected;
}

// stories260K's plain batch is itself right-padded (row 0 from position 16), so it has no separate padded_*.
INSTANTIATE_TEST_SUITE_P(Decoders, Golden, ::testing::Values("llama", "gpt2", "gpt_neox", "stories260K"));
INSTANTIATE_TEST_SUITE_P(Decoders, GoldenPadded, ::testing::Values("llama", "gpt2", "gpt_neox"));

}  // namespace
}  // namespace ptlab::models
