// BERT / RoBERTa backbone: golden outputs of transformers 4.38 (../shared/golden/models/bert), the hook
// points (inputs_embeds, KV prefix, chosen logits), RoBERTa positions and checkpoint variants.
#include "framework/models/bert.h"

#include "framework/core/error.h"
#include "framework/io/safetensors.h"
#include "framework/models/loader.h"
#include "tests/models/golden_fixture.h"

#include <gtest/gtest.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

namespace ptlab::models {
namespace {

namespace fs = std::filesystem;

const std::string kGoldenDir = std::string(PTLAB_SHARED_DIR) + "/golden/models/bert";

using testing::error_of;
using testing::max_abs_diff;

class BertGolden : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kGoldenDir + "/golden.safetensors")) GTEST_SKIP() << "../shared not found: " << kGoldenDir;
    model_ = load_backbone(kGoldenDir);
    golden_ = io::load_safetensors(kGoldenDir + "/golden.safetensors");
  }
  at::Tensor g(const std::string& name) { return golden_.at(name); }

  std::shared_ptr<Backbone> model_;
  std::map<std::string, at::Tensor> golden_;
};

TEST_F(BertGolden, InfoMatchesTheCheckpoint) {
  const auto& info = model_->info();
  EXPECT_EQ(info.family, "bert");
  EXPECT_EQ(info.model_type, "bert");
  EXPECT_EQ(info.num_layers, 2);
  EXPECT_EQ(info.hidden_size, 64);
  EXPECT_EQ(info.num_heads, 4);
  EXPECT_EQ(info.head_dim, 16);
  EXPECT_EQ(info.vocab_size, 512);
  EXPECT_EQ(info.max_positions, 256);
  EXPECT_FALSE(info.is_causal);
  EXPECT_FALSE(info.is_encoder_decoder);
  EXPECT_TRUE(info.tied_embeddings);
  EXPECT_EQ(info.num_parameters, 121152);  // golden_meta.json n_params (HF counts tied weights once)
  EXPECT_EQ(info.num_embedding_parameters, 512 * 64 + 256 * 64 + 2 * 64);
  EXPECT_EQ(info.mask_token_id, 4);  // "[MASK]" in vocab.txt / tokenizer_config.json
  EXPECT_EQ(info.pad_token_id, 0);
  auto* bert = dynamic_cast<BertBackbone*>(model_.get());
  ASSERT_NE(bert, nullptr);
  EXPECT_TRUE(bert->has_mlm_head());
  EXPECT_FALSE(bert->has_pooler());  // BertForMaskedLM has none
  for (const auto& p : model_->parameters()) EXPECT_FALSE(p.requires_grad());
  // state_dict names are the checkpoint's names.
  auto params = model_->named_parameters();
  EXPECT_NE(params.find("bert.encoder.layer.1.attention.self.query.weight"), nullptr);
  EXPECT_NE(params.find("cls.predictions.bias"), nullptr);
  EXPECT_EQ(params.find("cls.predictions.decoder.weight"), nullptr);  // tied, not a separate parameter
}

TEST_F(BertGolden, LogitsAndEveryHiddenStateMatch) {
  BackboneInput in;
  in.input_ids = g("input_ids");
  in.token_type_ids = g("token_type_ids");
  in.attention_mask = g("attention_mask");
  in.output_hidden_states = true;
  auto out = model_->forward(in);
  const double logits_error = max_abs_diff(out.logits, g("logits"));
  EXPECT_LE(logits_error, 1e-4);
  std::cout << "[ golden ] bert: max |MLM logits - transformers| " << logits_error << std::endl;
  ASSERT_EQ(out.hidden_states.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_LE(max_abs_diff(out.hidden_states[i], g(fmt::format("hidden_states.{}", i))), 1e-4) << "hidden state " << i;
  }
  // BERT has no final norm: the last hidden state is the last layer's output.
  EXPECT_TRUE(out.last_hidden_state.equal(out.hidden_states[2]));
}

TEST_F(BertGolden, MaskedLanguageModelLossMatches) {
  BackboneInput in;
  in.input_ids = g("masked_input_ids");
  in.token_type_ids = g("token_type_ids");
  in.attention_mask = g("attention_mask");
  auto out = model_->forward(in);
  EXPECT_LE(max_abs_diff(out.logits, g("masked_logits")), 1e-4);
  auto loss = at::cross_entropy_loss(out.logits.reshape({-1, 512}), g("mlm_labels").reshape({-1}), {},
                                     at::Reduction::Mean, -100);
  EXPECT_NEAR(loss.item<double>(), g("mlm_loss").item<double>(), 1e-4);
}

TEST_F(BertGolden, PaddedBatchMatches) {
  BackboneInput in;
  in.input_ids = g("padded_input_ids");
  in.token_type_ids = g("token_type_ids");
  in.attention_mask = g("padded_attention_mask");
  auto out = model_->forward(in);
  EXPECT_LE(max_abs_diff(out.logits, g("padded_logits")), 1e-4);
}

TEST_F(BertGolden, ChosenPositionsAndRowsEqualTheGatheredFullLogits) {
  BackboneInput in;
  in.input_ids = g("masked_input_ids");
  in.token_type_ids = g("token_type_ids");
  in.attention_mask = g("attention_mask");
  auto full = model_->forward(in).logits;  // [2, 16, 512]

  in.logits.mode = LogitsRequest::Mode::kPositions;
  in.logits.positions = at::tensor({2, 5, 10, 2, 10, 5}, at::kLong).view({2, 3});
  in.logits.vocab_rows = at::tensor({172, 175, 4}, at::kLong);
  auto chosen = model_->forward(in).logits;  // [2, 3, 3]
  ASSERT_EQ(chosen.sizes(), at::IntArrayRef({2, 3, 3}));
  auto expected =
      full.gather(1, in.logits.positions.unsqueeze(-1).expand({2, 3, 512})).index_select(2, in.logits.vocab_rows);
  EXPECT_LE(max_abs_diff(chosen, expected), 1e-5);

  // All rows at chosen positions ([K] positions, shared by every row).
  in.logits.positions = at::tensor({0, 15}, at::kLong);
  in.logits.vocab_rows = at::Tensor();
  auto rows = model_->forward(in).logits;  // [2, 2, 512]
  EXPECT_LE(max_abs_diff(rows.select(1, 1), full.select(1, 15)), 1e-5);

  in.logits.mode = LogitsRequest::Mode::kNone;
  auto none = model_->forward(in);
  EXPECT_FALSE(none.logits.defined());
  EXPECT_TRUE(none.last_hidden_state.defined());
}

TEST_F(BertGolden, InputsEmbedsReplaceOnlyTheWordLookup) {
  BackboneInput ids;
  ids.input_ids = g("input_ids");
  ids.token_type_ids = g("token_type_ids");
  BackboneInput embeds = ids;
  embeds.input_ids = at::Tensor();
  embeds.inputs_embeds = model_->embed(g("input_ids"));
  EXPECT_TRUE(model_->embed(g("input_ids")).equal(at::embedding(model_->word_embeddings(), g("input_ids"))));
  EXPECT_LE(max_abs_diff(model_->forward(embeds).logits, model_->forward(ids).logits), 1e-6);
}

// PEFT prompt tuning on BertForMaskedLM (golden/peft/bert_mlm/prompt_random): 8 virtual token embeddings
// before the tokens, mask and token types extended, loss at the [MASK] position + 8 over the full vocabulary.
TEST_F(BertGolden, PeftPromptTuningInitialLossMatches) {
  const std::string dir = std::string(PTLAB_SHARED_DIR) + "/golden/peft/bert_mlm/prompt_random";
  if (!fs::exists(dir + "/batch.safetensors")) GTEST_SKIP() << "no PEFT golden at " << dir;
  auto batch = io::load_safetensors(dir + "/batch.safetensors");
  auto prompt =
      io::load_safetensors(dir + "/init_full_state.safetensors").at("prompt_encoder.default.embedding.weight");
  const int64_t B = batch.at("input_ids").size(0), P = prompt.size(0);
  BackboneInput in;
  in.inputs_embeds = at::cat({prompt.unsqueeze(0).expand({B, P, 64}), model_->embed(batch.at("input_ids"))}, 1);
  in.attention_mask = at::cat({at::ones({B, P}, at::kLong), batch.at("attention_mask")}, 1);
  in.token_type_ids = at::cat({at::zeros({B, P}, at::kLong), batch.at("token_type_ids")}, 1);
  in.logits.mode = LogitsRequest::Mode::kPositions;
  in.logits.positions = (batch.at("mask_positions") + P).unsqueeze(1);  // [B, 1]
  auto logits = model_->forward(in).logits.squeeze(1);                  // [B, V]
  auto loss = at::cross_entropy_loss(logits, batch.at("mask_labels"));
  nlohmann::json result = nlohmann::json::parse(std::ifstream(dir + "/result.json"));
  EXPECT_NEAR(loss.item<double>(), result["losses"][0].get<double>(), 1e-5);
}

KVPrefix random_prefix(int64_t batch, int64_t length, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  KVPrefix prefix;
  for (int l = 0; l < 2; ++l) {
    prefix.keys.push_back(at::randn({batch, 4, length, 16}, gen));
    prefix.values.push_back(at::randn({batch, 4, length, 16}, gen));
  }
  return prefix;
}

// A prefix whose mask entries are all 0 contributes nothing, but the real tokens still take positions
// P..P+T-1 (HF's past_key_values_length): equal to no prefix with explicit positions, and different from no
// prefix with the default positions. Fails if the mask or the positions are shifted wrongly.
TEST_F(BertGolden, FullyMaskedPrefixEqualsShiftedPositions) {
  const int64_t P = 5, B = 2, T = 16;
  BackboneInput in;
  in.input_ids = g("padded_input_ids");
  in.token_type_ids = g("token_type_ids");
  in.prefix = random_prefix(B, P, 7);
  in.attention_mask = at::cat({at::zeros({B, P}, at::kLong), g("padded_attention_mask")}, 1);  // [B, P + T]
  auto masked = model_->forward(in).logits;

  BackboneInput plain;
  plain.input_ids = g("padded_input_ids");
  plain.token_type_ids = g("token_type_ids");
  plain.attention_mask = g("padded_attention_mask");
  auto unshifted = model_->forward(plain).logits;
  plain.position_ids = at::arange(P, P + T, at::kLong).unsqueeze(0).expand({B, T});
  auto shifted = model_->forward(plain).logits;
  EXPECT_LE(max_abs_diff(masked, shifted), 1e-5);
  EXPECT_GT(max_abs_diff(masked, unshifted), 1e-2);

  // A visible prefix changes the outputs; [B, T] and [B, P + T]-with-ones masks mean the same.
  in.attention_mask = g("padded_attention_mask");
  auto visible = model_->forward(in).logits;
  EXPECT_GT(max_abs_diff(visible, shifted), 1e-2);
  in.attention_mask = at::cat({at::ones({B, P}, at::kLong), g("padded_attention_mask")}, 1);
  EXPECT_LE(max_abs_diff(model_->forward(in).logits, visible), 1e-6);
}

// With a prefix, right padding stays harmless: the real tokens of the padded row (11 of them) give the same
// outputs as the row alone. Fails if the P mask ones were not aligned with the prefix keys.
TEST_F(BertGolden, PrefixWithPaddingMatchesTheUnpaddedRow) {
  const int64_t P = 3;
  auto prefix = random_prefix(2, P, 11);
  BackboneInput padded;
  padded.input_ids = g("padded_input_ids");
  padded.attention_mask = g("padded_attention_mask");
  padded.prefix = prefix;
  auto all = model_->forward(padded).logits;  // [2, 16, V]
  const int64_t real = g("padded_attention_mask")[1].sum().item<int64_t>();
  ASSERT_EQ(real, 11);

  BackboneInput alone;
  alone.input_ids = g("padded_input_ids").slice(0, 1, 2).slice(1, 0, real);  // [1, 11]
  for (int l = 0; l < 2; ++l) {
    alone.prefix.keys.push_back(prefix.keys[l].slice(0, 1, 2));
    alone.prefix.values.push_back(prefix.values[l].slice(0, 1, 2));
  }
  auto row = model_->forward(alone).logits;  // [1, 11, V]
  EXPECT_LE(max_abs_diff(all.slice(0, 1, 2).slice(1, 0, real), row), 1e-5);
}

// A KV cache is a past like a prefix: running A with a cache and then B against it equals running B with
// the cached keys/values given as a prefix; the cache then holds P + T positions.
TEST_F(BertGolden, CacheAndPrefixAreTheSamePast) {
  auto ids = g("input_ids");
  BackboneInput first;
  first.input_ids = ids.slice(1, 0, 6);
  KVCache cache;
  model_->forward(first, &cache);
  ASSERT_EQ(cache.length(), 6);
  KVPrefix as_prefix{cache.keys, cache.values};

  BackboneInput second;
  second.input_ids = ids.slice(1, 6, 16);
  auto via_cache = model_->forward(second, &cache).logits;
  EXPECT_EQ(cache.length(), 16);
  EXPECT_EQ(cache.mask.sizes(), at::IntArrayRef({2, 16}));
  second.prefix = as_prefix;
  auto via_prefix = model_->forward(second).logits;
  EXPECT_LE(max_abs_diff(via_cache, via_prefix), 1e-6);
}

// Hook-point inputs get gradients through the frozen backbone; the backbone's parameters get none.
TEST_F(BertGolden, GradientsReachThePromptAndThePrefixOnly) {
  auto prompt = (at::randn({1, 3, 64}) * 0.1).set_requires_grad(true);
  auto prefix = random_prefix(1, 2, 3);
  for (auto& k : prefix.keys) k.set_requires_grad(true);
  BackboneInput in;
  in.inputs_embeds = at::cat({prompt.expand({2, 3, 64}), model_->embed(g("input_ids"))}, 1);
  in.prefix = prefix;
  in.logits.mode = LogitsRequest::Mode::kPositions;
  in.logits.positions = at::tensor({5}, at::kLong);
  in.logits.vocab_rows = at::tensor({172, 175}, at::kLong);
  model_->forward(in).logits.sum().backward();
  ASSERT_TRUE(prompt.grad().defined());
  EXPECT_GT(prompt.grad().abs().sum().item<double>(), 0.0);
  EXPECT_GT(prefix.keys[1].grad().abs().sum().item<double>(), 0.0);
  for (const auto& p : model_->parameters()) EXPECT_FALSE(p.grad().defined());
}

// bf16 weights: masks, norms and the head run in the backbone's dtype; results stay close to fp32.
TEST_F(BertGolden, LoadsInBfloat16) {
  LoadOptions options;
  options.dtype = at::kBFloat16;
  auto half = load_backbone(kGoldenDir, options);
  EXPECT_EQ(half->dtype(), at::kBFloat16);
  BackboneInput in;
  in.input_ids = g("padded_input_ids");
  in.token_type_ids = g("token_type_ids");
  in.attention_mask = g("padded_attention_mask");
  in.prefix = random_prefix(2, 2, 9);  // fp32 prefix, cast at the hook point
  auto out = half->forward(in);
  EXPECT_EQ(out.logits.scalar_type(), at::kBFloat16);
  // bf16 keeps ~3 significant digits: a sanity bound (mean and worst case), not a precision claim.
  auto diff = (out.logits.to(at::kFloat) - model_->forward(in).logits).abs();
  EXPECT_LE(diff.mean().item<double>(), 0.05);
  EXPECT_LE(diff.max().item<double>(), 0.5);
}

// Saving writes the Hugging Face layout (tied decoder weight omitted); it loads back to the same numbers.
TEST_F(BertGolden, SavesAndReloads) {
  const auto dir = fs::temp_directory_path() / fmt::format("ptlab_bert_save_{}", ::getpid());
  save_backbone(*model_, dir.string());
  auto saved = io::load_safetensors((dir / "model.safetensors").string());
  EXPECT_EQ(saved.count("cls.predictions.decoder.weight"), 0u);
  EXPECT_EQ(saved.count("bert.embeddings.word_embeddings.weight"), 1u);
  auto again = load_backbone(dir.string());
  BackboneInput in;
  in.input_ids = g("input_ids");
  in.token_type_ids = g("token_type_ids");
  EXPECT_TRUE(again->forward(in).logits.equal(model_->forward(in).logits));
  fs::remove_all(dir);

  // Random weights in the same shapes (pretraining from scratch): the pooler comes along.
  auto random = random_backbone(HFConfig::load(kGoldenDir));
  EXPECT_EQ(random->info().num_parameters, 121152 + 64 * 64 + 64);
  EXPECT_EQ(random->forward(in).logits.sizes(), at::IntArrayRef({2, 16, 512}));
}

TEST_F(BertGolden, BadInputsAreClearErrors) {
  BackboneInput in;
  EXPECT_NE(error_of([&] { model_->forward(in); }).find("exactly one of input_ids"), std::string::npos);
  in.input_ids = at::full({1, 4}, 600, at::kLong);
  EXPECT_NE(error_of([&] { model_->forward(in); }).find("[0, 512)"), std::string::npos);
  in.input_ids = at::ones({2, 4}, at::kLong);
  in.token_type_ids = at::full({2, 4}, 2, at::kLong);
  EXPECT_NE(error_of([&] { model_->forward(in); }).find("token_type_ids"), std::string::npos);
  in.token_type_ids = at::Tensor();
  in.attention_mask = at::ones({2, 5}, at::kLong);
  EXPECT_NE(error_of([&] { model_->forward(in); }).find("attention_mask"), std::string::npos);
  in.attention_mask = at::Tensor();
  in.prefix = random_prefix(2, 3, 1);
  in.prefix.keys.pop_back();
  EXPECT_NE(error_of([&] { model_->forward(in); }).find("2 layers"), std::string::npos);
  in.prefix = random_prefix(2, 3, 1);
  in.prefix.values[1] = at::zeros({2, 4, 3, 8});
  EXPECT_NE(error_of([&] { model_->forward(in); }).find("layer 1 values"), std::string::npos);
  in.prefix = KVPrefix();
  in.input_ids = at::ones({1, 300}, at::kLong);  // 300 positions > max_position_embeddings 256
  EXPECT_NE(error_of([&] { model_->forward(in); }).find("max_position_embeddings"), std::string::npos);
  in.input_ids = at::ones({1, 4}, at::kLong);
  in.logits.mode = LogitsRequest::Mode::kPositions;
  in.logits.positions = at::tensor({4}, at::kLong);
  EXPECT_NE(error_of([&] { model_->forward(in); }).find("positions must lie in [0, 4)"), std::string::npos);
  in.logits.positions = at::tensor({0}, at::kLong);
  in.logits.vocab_rows = at::tensor({512}, at::kLong);
  EXPECT_NE(error_of([&] { model_->forward(in); }).find("vocab_rows"), std::string::npos);
}

// ---- tiny checkpoints written by the test ---------------------------------------------------------

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / fmt::format("ptlab_bert_test_{}_{}", ::getpid(), std::random_device{}());
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

// A tiny random BERT/RoBERTa checkpoint: `prefix` "bert."/"roberta."/"" and optional heads.
void write_tiny(const fs::path& dir, const std::string& model_type, const std::string& prefix, bool mlm_head,
                bool pooler, bool classifier = false) {
  const int64_t d = 16, V = 40, ff = 32, L = 2;
  nlohmann::json config = {{"model_type", model_type},      {"vocab_size", V},          {"hidden_size", d},
                           {"num_hidden_layers", L},        {"num_attention_heads", 2}, {"intermediate_size", ff},
                           {"max_position_embeddings", 40}, {"type_vocab_size", 1},     {"hidden_act", "gelu"},
                           {"layer_norm_eps", 1e-5},        {"pad_token_id", 1}};
  std::ofstream(dir / "config.json") << config.dump(2);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  std::vector<std::pair<std::string, at::Tensor>> t;
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    t.emplace_back(name, at::randn(shape, gen) * 0.3);
  };
  const std::string e = prefix + "embeddings.";
  add(e + "word_embeddings.weight", {V, d});
  add(e + "position_embeddings.weight", {40, d});
  add(e + "token_type_embeddings.weight", {1, d});
  add(e + "LayerNorm.weight", {d});
  add(e + "LayerNorm.bias", {d});
  for (int l = 0; l < L; ++l) {
    const std::string p = fmt::format("{}encoder.layer.{}.", prefix, l);
    for (const char* n :
         {"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"}) {
      add(p + n + ".weight", {d, d});
      add(p + n + ".bias", {d});
    }
    add(p + "attention.output.LayerNorm.weight", {d});
    add(p + "attention.output.LayerNorm.bias", {d});
    add(p + "intermediate.dense.weight", {ff, d});
    add(p + "intermediate.dense.bias", {ff});
    add(p + "output.dense.weight", {d, ff});
    add(p + "output.dense.bias", {d});
    add(p + "output.LayerNorm.weight", {d});
    add(p + "output.LayerNorm.bias", {d});
  }
  if (pooler) {
    add(prefix + "pooler.dense.weight", {d, d});
    add(prefix + "pooler.dense.bias", {d});
  }
  if (mlm_head) {
    const bool roberta = model_type == "roberta";
    const std::string h = roberta ? "lm_head." : "cls.predictions.";
    add(h + (roberta ? "dense.weight" : "transform.dense.weight"), {d, d});
    add(h + (roberta ? "dense.bias" : "transform.dense.bias"), {d});
    add(h + (roberta ? "layer_norm.weight" : "transform.LayerNorm.weight"), {d});
    add(h + (roberta ? "layer_norm.bias" : "transform.LayerNorm.bias"), {d});
    add(h + "bias", {V});
  }
  if (classifier) {
    add("classifier.weight", {2, d});
    add("classifier.bias", {2});
  }
  io::save_safetensors((dir / "model.safetensors").string(), t);
}

TEST(Roberta, PositionsFollowTheMaskSoLeftAndRightPaddingAgree) {
  TempDir tmp;
  write_tiny(tmp.path, "roberta", "roberta.", /*mlm_head=*/true, /*pooler=*/false);
  std::ofstream(tmp.path / "vocab.json") << R"({"<s>": 0, "<pad>": 1, "</s>": 2, "<mask>": 39})";
  auto model = load_backbone(tmp.path.string());
  EXPECT_EQ(model->info().model_type, "roberta");
  EXPECT_EQ(model->info().mask_token_id, 39);
  EXPECT_EQ(model->info().max_positions, 40 - 2);
  auto* roberta = dynamic_cast<BertBackbone*>(model.get());
  ASSERT_NE(roberta, nullptr);
  // padding_idx 1: real tokens at 2, 3, ...; pads at 1; a past of 4 shifts the real ones by 4.
  auto real = at::tensor({0, 0, 1, 1, 1}, at::kLong).view({1, 5});
  EXPECT_TRUE(roberta->position_ids(1, 5, 0, real).equal(at::tensor({1, 1, 2, 3, 4}, at::kLong).view({1, 5})));
  EXPECT_TRUE(roberta->position_ids(1, 5, 4, real).equal(at::tensor({1, 1, 6, 7, 8}, at::kLong).view({1, 5})));

  const int64_t pad = 1;
  auto tokens = at::tensor({5, 9, 17, 23, 8, 30}, at::kLong);
  auto right = at::full({1, 9}, pad, at::kLong);
  right.slice(1, 0, 6).copy_(tokens.view({1, 6}));
  auto left = at::full({1, 9}, pad, at::kLong);
  left.slice(1, 3, 9).copy_(tokens.view({1, 6}));
  BackboneInput r, l, alone;
  r.input_ids = right;
  r.attention_mask = right.ne(pad).to(at::kLong);
  l.input_ids = left;
  l.attention_mask = left.ne(pad).to(at::kLong);
  alone.input_ids = tokens.view({1, 6});
  auto lr = model->forward(r).logits.slice(1, 0, 6);
  auto ll = model->forward(l).logits.slice(1, 3, 9);
  auto la = model->forward(alone).logits;
  EXPECT_LE(max_abs_diff(lr, la), 1e-5);
  EXPECT_LE(max_abs_diff(ll, la), 1e-5);
  // The same through inputs_embeds (positions from the attention mask).
  BackboneInput le;
  le.inputs_embeds = model->embed(left);
  le.attention_mask = l.attention_mask;
  EXPECT_LE(max_abs_diff(model->forward(le).logits.slice(1, 3, 9), la), 1e-5);
  // Explicit HF positions 2..7 give the same as the default rule; BERT-style 0..5 do not.
  alone.position_ids = at::arange(2, 8, at::kLong).view({1, 6});
  EXPECT_LE(max_abs_diff(model->forward(alone).logits, la), 1e-6);
  alone.position_ids = at::arange(0, 6, at::kLong).view({1, 6});
  EXPECT_GT(max_abs_diff(model->forward(alone).logits, la), 1e-3);
}

TEST(Bert, BertModelCheckpointHasAPoolerAndNoLogits) {
  TempDir tmp;
  write_tiny(tmp.path, "bert", "", /*mlm_head=*/false, /*pooler=*/true);
  auto model = load_backbone(tmp.path.string());
  EXPECT_EQ(model->info().mask_token_id, -1);  // no tokenizer files
  EXPECT_FALSE(model->info().tied_embeddings);
  auto params = model->named_parameters();
  ASSERT_NE(params.find("pooler.dense.weight"), nullptr);
  BackboneInput in;
  in.input_ids = at::tensor({2, 7, 9, 3}, at::kLong).view({1, 4});
  EXPECT_NE(error_of([&] { model->forward(in); }).find("no MLM head"), std::string::npos);
  in.logits.mode = LogitsRequest::Mode::kNone;
  auto out = model->forward(in);
  auto expected = at::tanh(at::linear(out.last_hidden_state.select(1, 0), *params.find("pooler.dense.weight"),
                                      *params.find("pooler.dense.bias")));
  EXPECT_LE(max_abs_diff(out.pooled, expected), 1e-6);
}

TEST(Bert, SequenceClassificationCheckpointSkipsItsClassifier) {
  TempDir tmp;
  write_tiny(tmp.path, "bert", "bert.", /*mlm_head=*/false, /*pooler=*/true, /*classifier=*/true);
  auto model = load_backbone(tmp.path.string());
  auto params = model->named_parameters();
  EXPECT_NE(params.find("bert.pooler.dense.weight"), nullptr);
  EXPECT_EQ(params.find("classifier.weight"), nullptr);
}

TEST(Bert, CheckpointAndConfigErrorsNameTheProblem) {
  TempDir tmp;
  write_tiny(tmp.path, "bert", "encoder_only.", /*mlm_head=*/false, /*pooler=*/false);
  auto message = error_of([&] { load_backbone(tmp.path.string()); });
  EXPECT_NE(message.find("bert.embeddings.word_embeddings.weight"), std::string::npos) << message;

  write_tiny(tmp.path, "bert", "bert.", /*mlm_head=*/true, /*pooler=*/false);
  auto config = nlohmann::json::parse(std::ifstream(tmp.path / "config.json"));
  config["hidden_act"] = "gelux";
  std::ofstream(tmp.path / "config.json") << config.dump();
  message = error_of([&] { load_backbone(tmp.path.string()); });
  EXPECT_NE(message.find("hidden_act"), std::string::npos) << message;
  EXPECT_NE(message.find("gelu"), std::string::npos) << message;

  config["hidden_act"] = "gelu";
  config["position_embedding_type"] = "relative_key";
  std::ofstream(tmp.path / "config.json") << config.dump();
  message = error_of([&] { load_backbone(tmp.path.string()); });
  EXPECT_NE(message.find("position_embedding_type 'relative_key'"), std::string::npos) << message;

  config["position_embedding_type"] = "absolute";
  config["hidden_size"] = 12;  // checkpoint tensors are 16 wide
  std::ofstream(tmp.path / "config.json") << config.dump();
  message = error_of([&] { load_backbone(tmp.path.string()); });
  EXPECT_NE(message.find("word_embeddings"), std::string::npos) << message;
}

}  // namespace
}  // namespace ptlab::models
