// The hook points of every decoder-only family, on the golden models: inputs_embeds, chosen logits, KV
// prefix, KV cache, left padding, hidden states, freezing, info and input errors.
#include "framework/models/decoder_only.h"

#include "framework/models/attention.h"
#include "framework/models/lm_head.h"
#include "framework/models/loader.h"
#include "tests/models/golden_fixture.h"

#include <gtest/gtest.h>

namespace ptlab::models {
namespace {

using testing::error_of;
using testing::max_abs_diff;
using testing::model_dir;

// Two computations of the same logits (different association orders) agree to fp32 rounding.
constexpr double kTol = 1e-4;

class DecoderOnly : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    PTLAB_SKIP_WITHOUT_GOLDEN(GetParam());
    model_ = load_backbone(model_dir(GetParam()));
    at::manual_seed(7);
    ids_ = at::randint(3, model_->info().vocab_size, {2, 12}, at::kLong);  // [2, 12]
  }

  at::Tensor logits_of(const BackboneInput& in, KVCache* cache = nullptr) { return model_->forward(in, cache).logits; }

  // A random KV prefix of length p for batch b: [b, H_kv, p, d_head] per layer.
  KVPrefix random_prefix(int64_t b, int64_t p) {
    const auto& info = model_->info();
    KVPrefix prefix;
    for (int64_t l = 0; l < info.num_layers; ++l) {
      prefix.keys.push_back(at::randn({b, info.num_kv_heads, p, info.head_dim}));
      prefix.values.push_back(at::randn({b, info.num_kv_heads, p, info.head_dim}));
    }
    return prefix;
  }

  std::shared_ptr<Backbone> model_;
  at::Tensor ids_;
};

TEST_P(DecoderOnly, InputsEmbedsGiveTheSameLogitsAsIds) {
  BackboneInput by_ids;
  by_ids.input_ids = ids_;
  BackboneInput by_embeds;
  by_embeds.inputs_embeds = model_->embed(ids_);
  EXPECT_EQ(by_embeds.inputs_embeds.sizes(), (at::IntArrayRef{2, 12, model_->info().hidden_size}));
  EXPECT_TRUE(at::equal(by_embeds.inputs_embeds[0][3], model_->word_embeddings()[ids_[0][3].item<int64_t>()]));
  EXPECT_LE(max_abs_diff(logits_of(by_ids), logits_of(by_embeds)), 1e-6);
}

TEST_P(DecoderOnly, ChosenPositionsAndVocabRowsEqualTheGatheredFullLogits) {
  BackboneInput in;
  in.input_ids = ids_;
  at::Tensor full = logits_of(in);  // [2, 12, V]

  in.logits.mode = LogitsRequest::Mode::kPositions;
  in.logits.positions = at::tensor({3, 11, 0, 7}, at::kLong).view({2, 2});
  in.logits.vocab_rows = at::tensor({5, 17, 100}, at::kLong);
  at::Tensor chosen = logits_of(in);  // [2, 2, 3]
  ASSERT_EQ(chosen.sizes(), (at::IntArrayRef{2, 2, 3}));
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t k = 0; k < 2; ++k)
      for (int64_t r = 0; r < 3; ++r) {
        int64_t pos = in.logits.positions[b][k].item<int64_t>(), row = in.logits.vocab_rows[r].item<int64_t>();
        EXPECT_NEAR(chosen[b][k][r].item<float>(), full[b][pos][row].item<float>(), kTol);
      }

  in.logits.vocab_rows = at::Tensor();
  in.logits.positions = at::tensor({11}, at::kLong);  // [K]: the same position for every row
  EXPECT_LE(max_abs_diff(logits_of(in), full.narrow(1, 11, 1)), kTol);

  in.logits.mode = LogitsRequest::Mode::kNone;
  EXPECT_FALSE(logits_of(in).defined());

  in.logits.mode = LogitsRequest::Mode::kPositions;
  in.logits.positions = at::tensor({12}, at::kLong);
  EXPECT_NE(error_of([&] { logits_of(in); }).find("positions must lie in [0, 12)"), std::string::npos);
  in.logits.positions = at::tensor({1}, at::kLong);
  in.logits.vocab_rows = at::tensor({model_->info().vocab_size}, at::kLong);
  EXPECT_NE(error_of([&] { logits_of(in); }).find("vocab_rows must lie in"), std::string::npos);
}

TEST_P(DecoderOnly, KVPrefixChangesOutputsAndEqualsThePrefixAsACache) {
  const int64_t p = 5;
  KVPrefix prefix = random_prefix(2, p);
  BackboneInput plain;
  plain.input_ids = ids_;
  BackboneInput with_prefix = plain;
  with_prefix.prefix = prefix;
  at::Tensor base = logits_of(plain);
  at::Tensor prefixed = logits_of(with_prefix);
  EXPECT_GT(max_abs_diff(base, prefixed), 1e-3);  // the prefix is attended to

  // The same keys/values given as the initial content of a cache, mask of P ones.
  KVCache cache;
  cache.keys = prefix.keys;
  cache.values = prefix.values;
  cache.mask = at::ones({2, p}, at::kLong);
  EXPECT_LE(max_abs_diff(logits_of(plain, &cache), prefixed), kTol);
  EXPECT_EQ(cache.length(), p + 12);
  EXPECT_EQ(cache.mask.sizes(), (at::IntArrayRef{2, p + 12}));

  // Positions of real tokens start at P by default.
  BackboneInput explicit_positions = with_prefix;
  explicit_positions.position_ids = default_position_ids(p, 2, 12, at::kCPU);
  EXPECT_LE(max_abs_diff(logits_of(explicit_positions), prefixed), 1e-6);

  // A prefix with a cache that is empty seeds it; a batch-1 prefix is shared by every row.
  KVCache seeded;
  EXPECT_LE(max_abs_diff(logits_of(with_prefix, &seeded), prefixed), 1e-6);
  EXPECT_EQ(seeded.length(), p + 12);
  BackboneInput shared = plain;
  shared.prefix = random_prefix(1, p);
  KVPrefix expanded = shared.prefix;
  for (auto& t : expanded.keys) t = t.expand({2, -1, -1, -1});
  for (auto& t : expanded.values) t = t.expand({2, -1, -1, -1});
  BackboneInput shared_expanded = plain;
  shared_expanded.prefix = expanded;
  EXPECT_LE(max_abs_diff(logits_of(shared), logits_of(shared_expanded)), 1e-6);

  // Errors: a prefix together with a cache that already holds positions; a wrongly shaped prefix.
  EXPECT_NE(error_of([&] { logits_of(with_prefix, &seeded); }).find("non-empty KV cache"), std::string::npos);
  BackboneInput bad = plain;
  bad.prefix = random_prefix(2, p);
  bad.prefix.keys[0] = at::randn({2, model_->info().num_kv_heads + 1, p, model_->info().head_dim});
  std::string m = error_of([&] { logits_of(bad); });
  EXPECT_NE(m.find("prefix: layer 0 keys must be [B=2 (or 1)"), std::string::npos) << m;
  bad.prefix.keys.pop_back();
  m = error_of([&] { logits_of(bad); });
  EXPECT_NE(m.find("expected keys and values for each of the"), std::string::npos) << m;
}

TEST_P(DecoderOnly, IncrementalDecodingWithACacheEqualsTheFullForward) {
  BackboneInput full;
  full.input_ids = ids_;
  at::Tensor expected = logits_of(full);  // [2, 12, V]

  KVCache cache;
  std::vector<at::Tensor> pieces;
  BackboneInput first;
  first.input_ids = ids_.narrow(1, 0, 7);
  pieces.push_back(logits_of(first, &cache));
  for (int64_t t = 7; t < 12; ++t) {
    BackboneInput step;
    step.input_ids = ids_.narrow(1, t, 1);
    pieces.push_back(logits_of(step, &cache));
  }
  EXPECT_LE(max_abs_diff(at::cat(pieces, 1), expected), kTol);
  EXPECT_EQ(cache.length(), 12);
  EXPECT_EQ(cache.keys.size(), static_cast<std::size_t>(model_->info().num_layers));
  EXPECT_EQ(cache.keys[0].sizes(),
            (at::IntArrayRef{2, model_->info().num_kv_heads, 12, model_->info().head_dim}));
}

TEST_P(DecoderOnly, LeftPaddingGivesTheUnpaddedLogitsForRealTokens) {
  const int64_t pads = 4;
  at::Tensor row = ids_[0].unsqueeze(0);  // [1, 12]
  BackboneInput alone;
  alone.input_ids = row;
  at::Tensor expected = logits_of(alone);  // [1, 12, V]

  // Row 0 left-padded by 4 (pad id 0), row 1 a full 16-token row.
  at::Tensor padded = at::cat({at::zeros({1, pads}, at::kLong), row}, 1);
  at::Tensor other = at::randint(3, model_->info().vocab_size, {1, 12 + pads}, at::kLong);
  BackboneInput batch;
  batch.input_ids = at::cat({padded, other}, 0);
  batch.attention_mask = at::ones({2, 12 + pads}, at::kLong);
  batch.attention_mask[0].narrow(0, 0, pads).zero_();
  batch.position_ids = position_ids_from_mask(batch.attention_mask, 12 + pads);
  at::Tensor got = logits_of(batch);
  EXPECT_LE(max_abs_diff(got[0].narrow(0, pads, 12).unsqueeze(0), expected), kTol);
  EXPECT_TRUE(got.isfinite().all().item<bool>());  // fully masked padding queries stay finite
  BackboneInput other_alone;
  other_alone.input_ids = other;
  EXPECT_LE(max_abs_diff(got[1].unsqueeze(0), logits_of(other_alone)), kTol);
}

TEST_P(DecoderOnly, HiddenStatesInfoAndFreezing) {
  const auto& info = model_->info();
  BackboneInput in;
  in.input_ids = ids_;
  in.output_hidden_states = true;
  auto out = model_->forward(in);
  ASSERT_EQ(out.hidden_states.size(), static_cast<std::size_t>(info.num_layers + 1));
  for (const auto& h : out.hidden_states) EXPECT_EQ(h.sizes(), (at::IntArrayRef{2, 12, info.hidden_size}));
  in.output_hidden_states = false;
  EXPECT_TRUE(model_->forward(in).hidden_states.empty());

  EXPECT_EQ(info.num_parameters, count_parameters(*model_));
  EXPECT_GT(info.num_embedding_parameters, 0);
  EXPECT_LT(info.num_embedding_parameters, info.num_parameters);
  EXPECT_EQ(info.num_heads % info.num_kv_heads, 0);
  for (const auto& p : model_->parameters()) EXPECT_FALSE(p.requires_grad());
  model_->set_trainable(true);
  for (const auto& p : model_->parameters()) EXPECT_TRUE(p.requires_grad());
  model_->set_trainable(false);
}

TEST_P(DecoderOnly, GradientsFlowToInputsEmbedsOnlyWhenFrozen) {
  at::Tensor embeds = model_->embed(ids_).detach().requires_grad_(true);
  BackboneInput in;
  in.inputs_embeds = embeds;
  causal_lm_loss(model_->forward(in).logits, ids_).backward();
  ASSERT_TRUE(embeds.grad().defined());
  EXPECT_GT(embeds.grad().abs().sum().item<double>(), 0.0);
  for (const auto& p : model_->parameters()) EXPECT_FALSE(p.grad().defined());
}

TEST_P(DecoderOnly, BadInputsAreClearErrors) {
  BackboneInput none;
  EXPECT_NE(error_of([&] { logits_of(none); }).find("exactly one of input_ids and inputs_embeds (got neither)"),
            std::string::npos);
  BackboneInput both;
  both.input_ids = ids_;
  both.inputs_embeds = model_->embed(ids_);
  EXPECT_NE(error_of([&] { logits_of(both); }).find("(got both)"), std::string::npos);
  BackboneInput out_of_range;
  out_of_range.input_ids = ids_.clone();
  out_of_range.input_ids[0][0] = model_->info().vocab_size;
  EXPECT_NE(error_of([&] { logits_of(out_of_range); }).find("input_ids must lie in [0,"), std::string::npos);
  BackboneInput bad_mask;
  bad_mask.input_ids = ids_;
  bad_mask.attention_mask = at::ones({2, 5}, at::kLong);
  EXPECT_NE(error_of([&] { logits_of(bad_mask); }).find("attention_mask must be [B=2, T=12], got [2, 5]"),
            std::string::npos);
  BackboneInput bad_embeds;
  bad_embeds.inputs_embeds = at::randn({2, 3, model_->info().hidden_size + 1});
  EXPECT_NE(error_of([&] { logits_of(bad_embeds); }).find("inputs_embeds must be [B, T, d="), std::string::npos);
  BackboneInput t5_only;
  t5_only.input_ids = ids_;
  t5_only.decoder_input_ids = ids_;
  EXPECT_NE(error_of([&] { logits_of(t5_only); }).find("is decoder-only"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Families, DecoderOnly, ::testing::Values("llama", "gpt2", "gpt_neox", "stories260K"));

TEST(DecoderOnlyInfo, ParameterCountsMatchTransformers) {
  // n_params of golden_meta.json (transformers' num_parameters(), tied weights once).
  const std::vector<std::pair<std::string, int64_t>> expected = {
      {"llama", 158016}, {"gpt2", 149248}, {"gpt_neox", 165632}, {"stories260K", 260032}};
  for (const auto& [name, count] : expected) {
    if (!testing::have_golden(name)) GTEST_SKIP() << "../shared not found";
    auto model = load_backbone(model_dir(name));
    EXPECT_EQ(model->info().num_parameters, count) << name;
  }
  auto llama = load_backbone(model_dir("llama"));
  const auto& info = llama->info();
  EXPECT_EQ(info.family, "llama");
  EXPECT_EQ(info.num_layers, 2);
  EXPECT_EQ(info.hidden_size, 64);
  EXPECT_EQ(info.num_heads, 4);
  EXPECT_EQ(info.num_kv_heads, 2);
  EXPECT_EQ(info.head_dim, 16);
  EXPECT_EQ(info.intermediate_size, 176);
  EXPECT_EQ(info.vocab_size, 512);
  EXPECT_FALSE(info.tied_embeddings);
  EXPECT_EQ(info.num_embedding_parameters, 2 * 512 * 64);  // untied: input + output embeddings
  EXPECT_EQ(info.bos_token_id, 1);
  EXPECT_EQ(info.eos_token_id, 2);
  auto gpt2 = load_backbone(model_dir("gpt2"));
  EXPECT_TRUE(gpt2->info().tied_embeddings);
  EXPECT_EQ(gpt2->info().max_positions, 256);
  EXPECT_EQ(gpt2->info().num_embedding_parameters, 512 * 64 + 256 * 64);  // wte + wpe, head tied
}

}  // namespace
}  // namespace ptlab::models
