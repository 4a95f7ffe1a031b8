#include "framework/models/generate.h"

#include "framework/models/attention.h"
#include "framework/models/loader.h"
#include "tests/models/golden_fixture.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

namespace ptlab::models {
namespace {

using testing::error_of;

class Generate : public ::testing::Test {
 protected:
  void SetUp() override {
    PTLAB_SKIP_WITHOUT_GOLDEN("stories260K");
    model_ = load_backbone(testing::model_dir("stories260K"));
    // "Once upon a time" and "The cat sat on" from the golden metadata.
    a_ = at::tensor({1, 403, 407, 261, 378}, at::kLong).unsqueeze(0);
    b_ = at::tensor({1, 291, 280, 294, 262, 294, 353}, at::kLong).unsqueeze(0);
  }

  GenerationOutput run(const at::Tensor& ids, GenerationConfig config, const at::Tensor& mask = {},
                       const KVPrefix& prefix = {}) {
    BackboneInput in;
    in.input_ids = ids;
    in.attention_mask = mask;
    in.prefix = prefix;
    return generate(*model_, in, config);
  }

  std::shared_ptr<Backbone> model_;
  at::Tensor a_, b_;
};

TEST_F(Generate, LeftPaddedBatchEqualsEachRowAlone) {
  GenerationConfig config;
  config.max_new_tokens = 12;
  at::Tensor alone_a = run(a_, config).new_tokens, alone_b = run(b_, config).new_tokens;
  at::Tensor batch = at::cat({at::cat({at::zeros({1, 2}, at::kLong), a_}, 1), b_}, 0);  // [2, 7]
  at::Tensor mask = at::ones({2, 7}, at::kLong);
  mask[0].narrow(0, 0, 2).zero_();
  auto out = run(batch, config, mask);
  EXPECT_TRUE(at::equal(out.new_tokens[0], alone_a[0])) << out.new_tokens << alone_a;
  EXPECT_TRUE(at::equal(out.new_tokens[1], alone_b[0])) << out.new_tokens << alone_b;
  EXPECT_EQ(out.sequences.sizes(), (at::IntArrayRef{2, 7 + 12}));
  EXPECT_TRUE(at::equal(out.sequences.narrow(1, 0, 7), batch));
}

TEST_F(Generate, InputsEmbedsPromptGivesTheSameTokens) {
  GenerationConfig config;
  config.max_new_tokens = 10;
  at::Tensor by_ids = run(a_, config).new_tokens;
  BackboneInput in;
  in.inputs_embeds = model_->embed(a_);
  auto out = generate(*model_, in, config);
  EXPECT_TRUE(at::equal(out.new_tokens, by_ids));
  EXPECT_TRUE(at::equal(out.sequences, out.new_tokens));  // no ids to prepend
}

TEST_F(Generate, KVPrefixIsUsedAndEqualsTheManualCachedLoop) {
  const auto& info = model_->info();
  at::manual_seed(3);
  KVPrefix prefix;
  for (int64_t l = 0; l < info.num_layers; ++l) {
    prefix.keys.push_back(at::randn({1, info.num_kv_heads, 4, info.head_dim}));
    prefix.values.push_back(at::randn({1, info.num_kv_heads, 4, info.head_dim}));
  }
  GenerationConfig config;
  config.max_new_tokens = 6;
  at::Tensor with_prefix = run(a_, config, {}, prefix).new_tokens;
  EXPECT_FALSE(at::equal(with_prefix, run(a_, config).new_tokens));

  // The same by hand: forward with the prefix and a cache, then one token at a time.
  KVCache cache;
  BackboneInput in;
  in.input_ids = a_;
  in.prefix = prefix;
  at::Tensor next = model_->forward(in, &cache).logits.select(1, 4).argmax(-1);
  std::vector<at::Tensor> tokens = {next};
  for (int i = 1; i < 6; ++i) {
    BackboneInput step;
    step.input_ids = next.unsqueeze(1);
    next = model_->forward(step, &cache).logits.select(1, 0).argmax(-1);
    tokens.push_back(next);
  }
  EXPECT_TRUE(at::equal(with_prefix, at::stack(tokens, 1)));

  // With left padding, a row still matches its unpadded generation (positions count real tokens).
  at::Tensor padded = at::cat({at::zeros({1, 3}, at::kLong), a_}, 1);
  at::Tensor mask = at::ones({1, 8}, at::kLong);
  mask[0].narrow(0, 0, 3).zero_();
  EXPECT_TRUE(at::equal(run(padded, config, mask, prefix).new_tokens, with_prefix));
}

TEST_F(Generate, StopsAtEosAndPadsFinishedRows) {
  GenerationConfig config;
  config.max_new_tokens = 10;
  at::Tensor free_run = run(a_, config).new_tokens;  // [1, 10]
  const int64_t stop = free_run[0][3].item<int64_t>();
  config.eos_token_ids = {stop};
  auto out = run(a_, config);
  const int64_t first = (free_run[0] == stop).nonzero()[0][0].item<int64_t>();
  EXPECT_EQ(out.new_tokens.size(1), first + 1);  // stops right after the first eos
  EXPECT_TRUE(out.finished.all().item<bool>());

  // Two rows: the one that ends early is filled with the pad id until the other finishes.
  config.pad_token_id = 0;
  at::Tensor batch = at::cat({at::cat({at::zeros({1, 2}, at::kLong), a_}, 1), b_}, 0);
  at::Tensor mask = at::ones({2, 7}, at::kLong);
  mask[0].narrow(0, 0, 2).zero_();
  auto both = run(batch, config, mask);
  at::Tensor row0 = both.new_tokens[0];
  for (int64_t i = first + 1; i < both.new_tokens.size(1); ++i) EXPECT_EQ(row0[i].item<int64_t>(), 0) << i;
}

TEST_F(Generate, SamplingIsSeededAndWarpersRestrictTheChoice) {
  GenerationConfig config;
  config.max_new_tokens = 8;
  config.do_sample = true;
  config.seed = 42;
  at::Tensor first = run(a_, config).new_tokens;
  EXPECT_TRUE(at::equal(first, run(a_, config).new_tokens));  // same seed, same tokens
  bool any_different = false;
  for (uint64_t seed = 1; seed < 6 && !any_different; ++seed) {
    config.seed = seed;
    any_different = !at::equal(first, run(a_, config).new_tokens);
  }
  EXPECT_TRUE(any_different);

  GenerationConfig greedy;
  greedy.max_new_tokens = 8;
  at::Tensor greedy_tokens = run(a_, greedy).new_tokens;
  config.top_k = 1;  // only the argmax survives
  EXPECT_TRUE(at::equal(run(a_, config).new_tokens, greedy_tokens));
  config.top_k = 0;
  config.top_p = 1e-6;  // only the most likely token's mass is needed
  EXPECT_TRUE(at::equal(run(a_, config).new_tokens, greedy_tokens));
}

TEST(ChooseNextTokens, TopKAndTopPKeepTheRightSets) {
  at::Tensor logits = at::log(at::tensor({0.5, 0.3, 0.15, 0.05}, at::kDouble)).to(at::kFloat).unsqueeze(0);
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(0);
  GenerationConfig config;
  config.do_sample = true;
  std::set<int64_t> seen_k, seen_p;
  for (int i = 0; i < 300; ++i) {
    config.top_k = 2;
    seen_k.insert(choose_next_tokens(logits, config, gen).item<int64_t>());
    config.top_k = 0;
    config.top_p = 0.7;  // {0.5, 0.3} reaches 0.8 >= 0.7; 0.15 and 0.05 are dropped
    seen_p.insert(choose_next_tokens(logits, config, gen).item<int64_t>());
    config.top_p = 1.0;
  }
  EXPECT_EQ(seen_k, (std::set<int64_t>{0, 1}));
  EXPECT_EQ(seen_p, (std::set<int64_t>{0, 1}));
  GenerationConfig greedy;
  EXPECT_EQ(choose_next_tokens(logits, greedy, gen).item<int64_t>(), 0);
}

TEST_F(Generate, BadSettingsAreErrors) {
  GenerationConfig config;
  config.temperature = 0;
  EXPECT_NE(error_of([&] { run(a_, config); }).find("temperature must be > 0"), std::string::npos);
  config = GenerationConfig();
  config.top_p = 1.5;
  EXPECT_NE(error_of([&] { run(a_, config); }).find("top_p must be in (0, 1]"), std::string::npos);
  config = GenerationConfig();
  config.top_k = -1;
  EXPECT_NE(error_of([&] { run(a_, config); }).find("top_k must be >= 0"), std::string::npos);
  BackboneInput empty;
  EXPECT_NE(error_of([&] { generate(*model_, empty, GenerationConfig()); }).find("exactly one of input_ids"),
            std::string::npos);
  config = GenerationConfig();
  config.max_new_tokens = 0;
  auto out = run(a_, config);
  EXPECT_EQ(out.new_tokens.size(1), 0);
  EXPECT_TRUE(at::equal(out.sequences, a_));
}

}  // namespace
}  // namespace ptlab::models
