// T5 backbone: golden outputs of transformers 4.38 (../shared/golden/models/t5), PEFT prompt/prefix losses,
// relative position buckets, incremental decoding, generation, and v1.1 (gated-gelu, untied) checkpoints.
#include "framework/models/t5.h"

#include "framework/core/error.h"
#include "framework/io/safetensors.h"
#include "framework/models/generate.h"
#include "framework/models/loader.h"
#include "tests/models/golden_fixture.h"

#include <gtest/gtest.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include <unistd.h>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

namespace ptlab::models {
namespace {

namespace fs = std::filesystem;

const std::string kGoldenDir = std::string(PTLAB_SHARED_DIR) + "/golden/models/t5";

using testing::error_of;
using testing::max_abs_diff;

// transformers' seq2seq loss: mean cross-entropy over labels != -100.
double seq2seq_loss(const at::Tensor& logits, const at::Tensor& labels) {
  return at::cross_entropy_loss(logits.reshape({-1, logits.size(2)}), labels.reshape({-1}), {}, at::Reduction::Mean,
                                -100)
      .item<double>();
}

// transformers' _shift_right: [start] + labels[:-1], -100 replaced by pad.
at::Tensor shift_right(const at::Tensor& labels, int64_t start, int64_t pad) {
  auto shifted = at::full_like(labels, start);
  shifted.slice(1, 1).copy_(labels.slice(1, 0, labels.size(1) - 1));
  return shifted.masked_fill(shifted.eq(-100), pad);
}

TEST(T5RelativePositionBucket, MatchesHandComputedBuckets) {
  auto bucket = [](int64_t rel, bool bidirectional, int64_t n, int64_t dist) {
    return t5_relative_position_bucket(at::tensor({rel}, at::kLong), bidirectional, n, dist).item<int64_t>();
  };
  // Encoder (bidirectional, 32 buckets, max distance 128): 16 per direction, 8 exact.
  EXPECT_EQ(bucket(0, true, 32, 128), 0);
  EXPECT_EQ(bucket(-1, true, 32, 128), 1);
  EXPECT_EQ(bucket(1, true, 32, 128), 17);
  EXPECT_EQ(bucket(-8, true, 32, 128), 8);     // 8 + floor(log(1) / log(16) * 8)
  EXPECT_EQ(bucket(-20, true, 32, 128), 10);   // 8 + floor(log(2.5) / log(16) * 8) = 8 + 2
  EXPECT_EQ(bucket(-200, true, 32, 128), 15);  // capped at the last bucket of the direction
  EXPECT_EQ(bucket(200, true, 32, 128), 31);
  // Decoder (unidirectional): future keys share bucket 0, 16 exact buckets.
  EXPECT_EQ(bucket(5, false, 32, 128), 0);
  EXPECT_EQ(bucket(-5, false, 32, 128), 5);
  EXPECT_EQ(bucket(-16, false, 32, 128), 16);
  EXPECT_EQ(bucket(-100, false, 32, 128), 30);  // 16 + floor(log(6.25) / log(8) * 16) = 16 + 14
  EXPECT_EQ(bucket(-1000, false, 32, 128), 31);
  // Shapes are kept.
  auto rel = at::arange(-3, 3, at::kLong).view({2, 3});
  EXPECT_EQ(t5_relative_position_bucket(rel, true, 8, 20).sizes(), rel.sizes());
}

class T5Golden : public ::testing::Test {
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

TEST_F(T5Golden, InfoMatchesTheCheckpoint) {
  const auto& info = model_->info();
  EXPECT_EQ(info.family, "t5");
  EXPECT_TRUE(info.is_encoder_decoder);
  EXPECT_EQ(info.num_layers, 2);
  EXPECT_EQ(info.num_decoder_layers, 2);
  EXPECT_EQ(info.hidden_size, 64);
  EXPECT_EQ(info.num_heads, 4);
  EXPECT_EQ(info.head_dim, 16);
  EXPECT_EQ(info.intermediate_size, 128);
  EXPECT_EQ(info.vocab_size, 157);
  EXPECT_TRUE(info.tied_embeddings);
  EXPECT_EQ(info.num_parameters, 174720);  // golden_meta.json n_params
  EXPECT_EQ(info.num_embedding_parameters, 157 * 64 + 2 * 8 * 4);
  EXPECT_EQ(info.decoder_start_token_id, 0);
  EXPECT_EQ(info.eos_token_id, 1);
  EXPECT_EQ(info.pad_token_id, 0);
  auto params = model_->named_parameters();
  EXPECT_NE(params.find("decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"), nullptr);
  EXPECT_EQ(params.find("decoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight"), nullptr);
  EXPECT_EQ(params.find("lm_head.weight"), nullptr);  // tied to shared.weight
}

TEST_F(T5Golden, LogitsLossAndEveryHiddenStateMatch) {
  BackboneInput in;
  in.input_ids = g("input_ids");
  in.attention_mask = g("attention_mask");
  in.decoder_input_ids = g("decoder_input_ids");
  in.output_hidden_states = true;
  auto out = model_->forward(in);
  const double logits_error = max_abs_diff(out.logits, g("logits"));
  EXPECT_LE(logits_error, 1e-4);
  std::cout << "[ golden ] t5: max |logits - transformers| " << logits_error << std::endl;
  EXPECT_NEAR(seq2seq_loss(out.logits, g("labels")), g("loss").item<double>(), 1e-4);
  EXPECT_LE(max_abs_diff(out.encoder_last_hidden_state, g("encoder_last_hidden_state")), 1e-4);
  ASSERT_EQ(out.encoder_hidden_states.size(), 3u);
  ASSERT_EQ(out.hidden_states.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_LE(max_abs_diff(out.encoder_hidden_states[i], g(fmt::format("encoder_hidden_states.{}", i))), 1e-4) << i;
    EXPECT_LE(max_abs_diff(out.hidden_states[i], g(fmt::format("decoder_hidden_states.{}", i))), 1e-4) << i;
  }
  EXPECT_TRUE(out.last_hidden_state.equal(out.hidden_states[2]));
  EXPECT_TRUE(g("decoder_input_ids").equal(shift_right(g("labels"), 0, 0)));
}

TEST_F(T5Golden, PaddedEncoderInputMatches) {
  BackboneInput in;
  in.input_ids = g("padded_input_ids");
  in.attention_mask = g("padded_attention_mask");
  in.decoder_input_ids = g("decoder_input_ids");
  EXPECT_LE(max_abs_diff(model_->forward(in).logits, g("padded_logits")), 1e-4);
}

// A decoder longer than the encoder input (a one-token source, a long target) is fine: cross-attention
// queries may outnumber the encoder's keys (it was an internal error), and the decoder stays causal.
TEST_F(T5Golden, DecoderLongerThanTheEncoderInput) {
  BackboneInput in;
  in.input_ids = g("input_ids").slice(1, 0, 1);  // [B, 1]
  in.decoder_input_ids = g("decoder_input_ids");
  ASSERT_GT(in.decoder_input_ids.size(1), 2);
  const at::Tensor full = model_->forward(in).logits;
  BackboneInput shorter = in;
  shorter.decoder_input_ids = g("decoder_input_ids").slice(1, 0, 1);
  EXPECT_LE(max_abs_diff(model_->forward(shorter).logits, full.slice(1, 0, 1)), 1e-5);
}

TEST_F(T5Golden, GreedyGenerationMatches) {
  BackboneInput prompt;
  prompt.input_ids = g("input_ids").slice(0, 0, 1);
  GenerationConfig config;
  config.max_new_tokens = 8;
  auto result = generate(*model_, prompt, config);
  EXPECT_TRUE(result.sequences.equal(g("greedy_output"))) << result.sequences;
}

// Decoding token by token with a KV cache (the encoder runs once, cross keys cached) equals the full forward.
TEST_F(T5Golden, IncrementalDecodingWithTheCacheEqualsTheFullForward) {
  BackboneInput in;
  in.input_ids = g("padded_input_ids");
  in.attention_mask = g("padded_attention_mask");
  in.decoder_input_ids = g("decoder_input_ids");
  auto full = model_->forward(in).logits;  // [2, 8, V]

  KVCache cache;
  std::vector<at::Tensor> steps;
  for (int64_t t = 0; t < 8; ++t) {
    BackboneInput step;
    if (t == 0) {
      step.input_ids = g("padded_input_ids");
      step.attention_mask = g("padded_attention_mask");
    }
    step.decoder_input_ids = g("decoder_input_ids").slice(1, t, t + 1);
    auto out = model_->forward(step, &cache);
    EXPECT_EQ(out.encoder_last_hidden_state.defined(), t == 0);
    steps.push_back(out.logits);
    EXPECT_EQ(cache.length(), t + 1);
  }
  EXPECT_EQ(cache.cross_keys.size(), 2u);
  EXPECT_EQ(cache.encoder_mask.sizes(), at::IntArrayRef({2, 16}));
  EXPECT_LE(max_abs_diff(at::cat(steps, 1), full), 1e-5);

  // Two steps at once after a cached prefix of 5, with precomputed encoder states instead of the cache.
  auto encoded = model_->forward(in).encoder_last_hidden_state;
  KVCache half;
  BackboneInput a;
  a.encoder_hidden_states = encoded;
  a.attention_mask = g("padded_attention_mask");
  a.decoder_input_ids = g("decoder_input_ids").slice(1, 0, 5);
  model_->forward(a, &half);
  a.decoder_input_ids = g("decoder_input_ids").slice(1, 5, 8);
  EXPECT_LE(max_abs_diff(model_->forward(a, &half).logits, full.slice(1, 5, 8)), 1e-5);
}

TEST_F(T5Golden, ChosenPositionsAndRowsEqualTheGatheredFullLogits) {
  BackboneInput in;
  in.input_ids = g("input_ids");
  in.decoder_input_ids = g("decoder_input_ids");
  auto full = model_->forward(in).logits;
  in.logits.mode = LogitsRequest::Mode::kPositions;
  in.logits.positions = at::tensor({7, 0, 3, 3}, at::kLong).view({2, 2});
  in.logits.vocab_rows = at::tensor({1, 65, 150}, at::kLong);
  auto chosen = model_->forward(in).logits;  // [2, 2, 3]
  auto expected =
      full.gather(1, in.logits.positions.unsqueeze(-1).expand({2, 2, 157})).index_select(2, in.logits.vocab_rows);
  EXPECT_LE(max_abs_diff(chosen, expected), 1e-5);
}

// PEFT prompt tuning on T5 (golden/peft/t5/prompt_random): rows 0..7 of the prompt go before the encoder
// input, the encoder mask gets 8 leading ones.
TEST_F(T5Golden, PeftPromptTuningInitialLossMatches) {
  const std::string dir = std::string(PTLAB_SHARED_DIR) + "/golden/peft/t5/prompt_random";
  if (!fs::exists(dir + "/batch.safetensors")) GTEST_SKIP() << "no PEFT golden at " << dir;
  auto batch = io::load_safetensors(dir + "/batch.safetensors");
  auto prompt =
      io::load_safetensors(dir + "/init_full_state.safetensors").at("prompt_encoder.default.embedding.weight");
  const int64_t B = batch.at("input_ids").size(0), P = 8;
  BackboneInput in;
  in.inputs_embeds =
      at::cat({prompt.slice(0, 0, P).unsqueeze(0).expand({B, P, 64}), model_->embed(batch.at("input_ids"))}, 1);
  in.attention_mask = at::cat({at::ones({B, P}, at::kLong), batch.at("attention_mask")}, 1);
  in.decoder_input_ids = shift_right(batch.at("labels"), 0, 0);
  auto loss = seq2seq_loss(model_->forward(in).logits, batch.at("labels"));
  nlohmann::json result = nlohmann::json::parse(std::ifstream(dir + "/result.json"));
  EXPECT_NEAR(loss, result["losses"][0].get<double>(), 1e-5);
}

// PEFT prefix tuning on T5 (golden/peft/t5/prefix): the decoder self-attention gets a past of 8 positions,
// so the relative position bias must treat the decoder tokens as positions 8..15 (transformers'
// compute_bias(P + T, P + T)[..., -T:, :]). PEFT 0.10 lays the prefix out as view(B, P, 2L, H, D), doubled
// for seq2seq and split per layer into (self K, self V, cross K, cross V) = rows (0, 1, 2, 3) for every
// layer; transformers then recomputes the cross keys because their length differs from the encoder's.
TEST_F(T5Golden, PeftPrefixTuningInitialLossMatches) {
  const std::string dir = std::string(PTLAB_SHARED_DIR) + "/golden/peft/t5/prefix";
  if (!fs::exists(dir + "/batch.safetensors")) GTEST_SKIP() << "no PEFT golden at " << dir;
  auto batch = io::load_safetensors(dir + "/batch.safetensors");
  auto table = io::load_safetensors(dir + "/init_full_state.safetensors").at("prompt_encoder.default.embedding.weight");
  const int64_t B = batch.at("input_ids").size(0), P = 8;
  auto kv =
      table.unsqueeze(0).expand({B, P, 256}).reshape({B, P, 4, 4, 16}).permute({2, 0, 3, 1, 4});  // [4, B, H, P, D]
  BackboneInput in;
  in.input_ids = batch.at("input_ids");
  in.attention_mask = batch.at("attention_mask");
  in.decoder_input_ids = shift_right(batch.at("labels"), 0, 0);
  for (int l = 0; l < 2; ++l) {
    in.decoder_prefix.keys.push_back(kv[0]);
    in.decoder_prefix.values.push_back(kv[1]);
  }
  auto out = model_->forward(in);
  nlohmann::json result = nlohmann::json::parse(std::ifstream(dir + "/result.json"));
  EXPECT_NEAR(seq2seq_loss(out.logits, batch.at("labels")), result["losses"][0].get<double>(), 1e-5);

  // The same prefix through a cache: seed it with the prefix, then decode the 8 tokens one at a time.
  KVCache cache;
  BackboneInput first;
  first.input_ids = batch.at("input_ids");
  first.attention_mask = batch.at("attention_mask");
  first.decoder_prefix = in.decoder_prefix;
  std::vector<at::Tensor> steps;
  for (int64_t t = 0; t < 8; ++t) {
    BackboneInput step = t == 0 ? first : BackboneInput();
    step.decoder_input_ids = in.decoder_input_ids.slice(1, t, t + 1);
    steps.push_back(model_->forward(step, &cache).logits);
  }
  EXPECT_EQ(cache.length(), P + 8);
  EXPECT_LE(max_abs_diff(at::cat(steps, 1), out.logits), 1e-5);
}

// A fully masked encoder prefix ([B, P + T] mask, zeros for P) and a fully masked cross prefix change no
// key's weight, but the encoder's relative positions still start at P: positions are relative, so the
// bias between real tokens is unchanged and the outputs equal the plain run.
TEST_F(T5Golden, MaskedPrefixesChangeNothingAndVisibleOnesDo) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  auto prefix = [&](int64_t B, int64_t P) {
    KVPrefix p;
    for (int l = 0; l < 2; ++l) {
      p.keys.push_back(at::randn({B, 4, P, 16}, gen));
      p.values.push_back(at::randn({B, 4, P, 16}, gen));
    }
    return p;
  };
  BackboneInput in;
  in.input_ids = g("padded_input_ids");
  in.attention_mask = g("padded_attention_mask");
  in.decoder_input_ids = g("decoder_input_ids");
  auto plain = model_->forward(in).logits;

  BackboneInput masked = in;
  masked.prefix = prefix(2, 4);
  masked.attention_mask = at::cat({at::zeros({2, 4}, at::kLong), g("padded_attention_mask")}, 1);
  EXPECT_LE(max_abs_diff(model_->forward(masked).logits, plain), 1e-5);

  BackboneInput visible = in;
  visible.prefix = prefix(2, 4);
  EXPECT_GT(max_abs_diff(model_->forward(visible).logits, plain), 1e-3);
  visible = in;
  visible.cross_prefix = prefix(1, 3);  // batch 1 is broadcast
  EXPECT_GT(max_abs_diff(model_->forward(visible).logits, plain), 1e-3);
  visible = in;
  visible.decoder_prefix = prefix(2, 3);
  EXPECT_GT(max_abs_diff(model_->forward(visible).logits, plain), 1e-3);
}

TEST_F(T5Golden, GradientsReachThePrefixesOnlyAndBfloat16Works) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(8);
  KVPrefix decoder_prefix, cross_prefix;
  for (int l = 0; l < 2; ++l) {
    decoder_prefix.keys.push_back(at::randn({2, 4, 3, 16}, gen).set_requires_grad(true));
    decoder_prefix.values.push_back(at::randn({2, 4, 3, 16}, gen));
    cross_prefix.keys.push_back(at::randn({2, 4, 2, 16}, gen).set_requires_grad(true));
    cross_prefix.values.push_back(at::randn({2, 4, 2, 16}, gen));
  }
  BackboneInput in;
  in.input_ids = g("padded_input_ids");
  in.attention_mask = g("padded_attention_mask");
  in.decoder_input_ids = g("decoder_input_ids");
  in.decoder_prefix = decoder_prefix;
  in.cross_prefix = cross_prefix;
  auto fp32 = model_->forward(in).logits;
  fp32.sum().backward();
  EXPECT_GT(decoder_prefix.keys[0].grad().abs().sum().item<double>(), 0.0);
  EXPECT_GT(cross_prefix.keys[1].grad().abs().sum().item<double>(), 0.0);
  for (const auto& p : model_->parameters()) EXPECT_FALSE(p.grad().defined());

  LoadOptions options;
  options.dtype = at::kBFloat16;
  auto half = load_backbone(kGoldenDir, options);
  auto logits = half->forward(in).logits;
  EXPECT_EQ(logits.scalar_type(), at::kBFloat16);
  // bf16 keeps ~3 significant digits: a sanity bound (mean and worst case), not a precision claim.
  auto diff = (logits.to(at::kFloat) - fp32.detach()).abs();
  EXPECT_LE(diff.mean().item<double>(), 0.05);
  EXPECT_LE(diff.max().item<double>(), 0.5);
}

TEST_F(T5Golden, SavesAndReloads) {
  const auto dir = fs::temp_directory_path() / fmt::format("ptlab_t5_save_{}", ::getpid());
  save_backbone(*model_, dir.string());
  auto again = load_backbone(dir.string());
  BackboneInput in;
  in.input_ids = g("input_ids");
  in.decoder_input_ids = g("decoder_input_ids");
  EXPECT_TRUE(again->forward(in).logits.equal(model_->forward(in).logits));
  fs::remove_all(dir);
  auto random = random_backbone(HFConfig::load(kGoldenDir));
  EXPECT_EQ(random->info().num_parameters, 174720);
  EXPECT_EQ(random->forward(in).logits.sizes(), at::IntArrayRef({2, 8, 157}));
}

TEST_F(T5Golden, BadInputsAreClearErrors) {
  BackboneInput in;
  in.input_ids = g("input_ids");
  EXPECT_NE(error_of([&] { model_->forward(in); }).find("decoder_input_ids"), std::string::npos);
  in.decoder_input_ids = g("decoder_input_ids");
  in.position_ids = at::zeros({2, 8}, at::kLong);
  EXPECT_NE(error_of([&] { model_->forward(in); }).find("position_ids is not supported"), std::string::npos);
  in.position_ids = at::Tensor();
  in.decoder_input_ids = at::full({2, 3}, 157, at::kLong);
  EXPECT_NE(error_of([&] { model_->forward(in); }).find("[0, 157)"), std::string::npos);
  in.decoder_input_ids = g("decoder_input_ids");
  in.decoder_prefix.keys = {at::zeros({2, 4, 3, 16})};
  in.decoder_prefix.values = {at::zeros({2, 4, 3, 16})};
  EXPECT_NE(error_of([&] { model_->forward(in); }).find("decoder_prefix"), std::string::npos);
  in.decoder_prefix = KVPrefix();
  in.decoder_attention_mask = at::ones({2, 9}, at::kLong);
  EXPECT_NE(error_of([&] { model_->forward(in); }).find("decoder_attention_mask"), std::string::npos);
  in.decoder_attention_mask = at::Tensor();
  in.encoder_hidden_states = at::zeros({2, 16, 32});
  in.input_ids = at::Tensor();
  EXPECT_NE(error_of([&] { model_->forward(in); }).find("encoder_hidden_states"), std::string::npos);
}

// ---- tiny v1.1 checkpoints written by the test ----------------------------------------------------

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / fmt::format("ptlab_t5_test_{}_{}", ::getpid(), std::random_device{}());
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

using Tensors = std::map<std::string, at::Tensor>;

// A 1-layer encoder / 1-layer decoder T5 v1.1 (gated-gelu); `tied` writes a v1.0-style tied head instead of
// lm_head (with identical values, so the two models differ only in the head rule).
Tensors write_tiny_v11(const fs::path& dir, bool tied) {
  const int64_t d = 12, dkv = 4, H = 2, inner = 8, ff = 10, V = 30, buckets = 6;
  nlohmann::json config = {{"model_type", "t5"},
                           {"vocab_size", V},
                           {"d_model", d},
                           {"d_kv", dkv},
                           {"d_ff", ff},
                           {"num_layers", 1},
                           {"num_decoder_layers", 1},
                           {"num_heads", H},
                           {"relative_attention_num_buckets", buckets},
                           {"relative_attention_max_distance", 10},
                           {"layer_norm_epsilon", 1e-6},
                           {"feed_forward_proj", "gated-gelu"},
                           {"tie_word_embeddings", tied},
                           {"decoder_start_token_id", 0},
                           {"pad_token_id", 0},
                           {"eos_token_id", 1}};
  std::ofstream(dir / "config.json") << config.dump(2);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(17);
  Tensors t;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, double scale = 0.4) {
    t[name] = at::randn(shape, gen) * scale;
  };
  add("shared.weight", {V, d}, 1.0);
  for (const std::string stack : {"encoder", "decoder"}) {
    const std::string p = stack + ".block.0.layer.";
    for (const char* m : {"q", "k", "v"}) add(p + "0.SelfAttention." + m + ".weight", {inner, d});
    add(p + "0.SelfAttention.o.weight", {d, inner});
    add(p + "0.SelfAttention.relative_attention_bias.weight", {buckets, H}, 1.0);
    add(p + "0.layer_norm.weight", {d}, 1.0);
    const std::string ffn = p + (stack == "encoder" ? "1" : "2");
    if (stack == "decoder") {
      for (const char* m : {"q", "k", "v"}) add(p + "1.EncDecAttention." + m + ".weight", {inner, d});
      add(p + "1.EncDecAttention.o.weight", {d, inner});
      add(p + "1.layer_norm.weight", {d}, 1.0);
    }
    add(ffn + ".DenseReluDense.wi_0.weight", {ff, d});
    add(ffn + ".DenseReluDense.wi_1.weight", {ff, d});
    add(ffn + ".DenseReluDense.wo.weight", {d, ff});
    add(ffn + ".layer_norm.weight", {d}, 1.0);
    add(stack + ".final_layer_norm.weight", {d}, 1.0);
  }
  std::vector<std::pair<std::string, at::Tensor>> list(t.begin(), t.end());
  if (!tied) list.emplace_back("lm_head.weight", t["shared.weight"].clone());
  io::save_safetensors((dir / "model.safetensors").string(), list);
  return t;
}

// The encoder of the tiny v1.1 model computed by hand for one sequence (x: [T] ids).
at::Tensor hand_encoder(Tensors& w, const at::Tensor& ids) {
  const int64_t T = ids.size(0), H = 2, dkv = 4;
  auto rms = [](const at::Tensor& x, const at::Tensor& weight) {
    return weight * (x / at::sqrt(x.pow(2).mean(-1, true) + 1e-6));
  };
  auto gelu_new = [](const at::Tensor& x) {
    return 0.5 * x * (1.0 + at::tanh(std::sqrt(2.0 / 3.14159265358979323846) * (x + 0.044715 * x.pow(3))));
  };
  // Bidirectional buckets for 6 buckets / max distance 10: 3 per direction, 1 exact ("max_exact" = 1).
  auto bucket = [](int64_t rel) {
    int64_t base = rel > 0 ? 3 : 0, n = std::abs(rel);
    if (n < 1) return base + n;
    int64_t large = 1 + static_cast<int64_t>(std::log(static_cast<float>(n)) / std::log(10.0) * 2);
    return base + std::min<int64_t>(large, 2);
  };
  const std::string p = "encoder.block.0.layer.";
  at::Tensor x = w["shared.weight"].index_select(0, ids);  // [T, d]
  at::Tensor n = rms(x, w[p + "0.layer_norm.weight"]);
  auto q = at::matmul(n, w[p + "0.SelfAttention.q.weight"].t()).view({T, H, dkv});
  auto k = at::matmul(n, w[p + "0.SelfAttention.k.weight"].t()).view({T, H, dkv});
  auto v = at::matmul(n, w[p + "0.SelfAttention.v.weight"].t()).view({T, H, dkv});
  auto table = w[p + "0.SelfAttention.relative_attention_bias.weight"];  // [buckets, H]
  auto ctx = at::zeros({T, H, dkv});
  for (int64_t h = 0; h < H; ++h) {
    auto scores = at::matmul(q.select(1, h), k.select(1, h).t());  // [T, T], no 1/sqrt(d) scaling
    for (int64_t i = 0; i < T; ++i) {
      for (int64_t j = 0; j < T; ++j) scores[i][j] += table[bucket(j - i)][h];
    }
    ctx.select(1, h).copy_(at::matmul(at::softmax(scores, -1), v.select(1, h)));
  }
  x = x + at::matmul(ctx.view({T, H * dkv}), w[p + "0.SelfAttention.o.weight"].t());
  n = rms(x, w[p + "1.layer_norm.weight"]);
  auto gated = gelu_new(at::matmul(n, w[p + "1.DenseReluDense.wi_0.weight"].t())) *
               at::matmul(n, w[p + "1.DenseReluDense.wi_1.weight"].t());
  x = x + at::matmul(gated, w[p + "1.DenseReluDense.wo.weight"].t());
  return rms(x, w["encoder.final_layer_norm.weight"]);
}

TEST(T5V11, GatedGeluEncoderMatchesAHandComputation) {
  TempDir tmp;
  auto w = write_tiny_v11(tmp.path, /*tied=*/false);
  auto model = load_backbone(tmp.path.string());
  EXPECT_FALSE(model->info().tied_embeddings);
  EXPECT_EQ(model->info().num_embedding_parameters, 2 * 30 * 12 + 2 * 6 * 2);
  auto* t5 = dynamic_cast<T5Backbone*>(model.get());
  ASSERT_NE(t5, nullptr);
  EXPECT_TRUE(t5->t5_config().is_gated_act);
  EXPECT_EQ(t5->t5_config().dense_act_fn, "gelu_new");
  auto ids = at::tensor({3, 7, 2, 9, 11, 5, 1}, at::kLong);
  BackboneInput in;
  in.input_ids = ids.view({1, 7});
  in.decoder_input_ids = at::tensor({0, 4, 8}, at::kLong).view({1, 3});
  auto out = model->forward(in);
  EXPECT_LE(max_abs_diff(out.encoder_last_hidden_state[0], hand_encoder(w, ids)), 1e-5);
  ASSERT_EQ(out.logits.sizes(), at::IntArrayRef({1, 3, 30}));
  // Untied head: logits = lm_head(h) with no d_model^-0.5 rescaling.
  EXPECT_LE(max_abs_diff(out.logits, at::linear(out.last_hidden_state, w["shared.weight"])), 1e-5);
}

TEST(T5V11, TheHeadScalingAppliesOnlyWhenTied) {
  TempDir untied_dir, tied_dir;
  write_tiny_v11(untied_dir.path, /*tied=*/false);
  auto w = write_tiny_v11(tied_dir.path, /*tied=*/true);
  auto untied = load_backbone(untied_dir.path.string());
  auto tied = load_backbone(tied_dir.path.string());
  EXPECT_TRUE(tied->info().tied_embeddings);
  EXPECT_EQ(untied->info().num_parameters - tied->info().num_parameters, 30 * 12);  // lm_head
  BackboneInput in;
  in.input_ids = at::tensor({3, 7, 2, 9}, at::kLong).view({1, 4});
  in.decoder_input_ids = at::tensor({0, 4, 8}, at::kLong).view({1, 3});
  auto a = untied->forward(in), b = tied->forward(in);
  EXPECT_LE(max_abs_diff(a.last_hidden_state, b.last_hidden_state), 1e-6);  // same body
  EXPECT_LE(max_abs_diff(b.logits, a.logits * std::pow(12.0, -0.5)), 1e-5);
  EXPECT_GT(max_abs_diff(b.logits, a.logits), 1e-2);
}

TEST(T5V11, ConfigErrorsNameTheField) {
  TempDir tmp;
  write_tiny_v11(tmp.path, false);
  auto config = nlohmann::json::parse(std::ifstream(tmp.path / "config.json"));
  config["feed_forward_proj"] = "gated-gelu-extra";
  std::ofstream(tmp.path / "config.json") << config.dump();
  auto message = error_of([&] { load_backbone(tmp.path.string()); });
  EXPECT_NE(message.find("feed_forward_proj 'gated-gelu-extra'"), std::string::npos) << message;
  config["feed_forward_proj"] = "gated-swishy";
  std::ofstream(tmp.path / "config.json") << config.dump();
  message = error_of([&] { load_backbone(tmp.path.string()); });
  EXPECT_NE(message.find("swishy"), std::string::npos) << message;
  config["feed_forward_proj"] = "relu";  // the checkpoint has wi_0 / wi_1, not wi
  std::ofstream(tmp.path / "config.json") << config.dump();
  message = error_of([&] { load_backbone(tmp.path.string()); });
  EXPECT_NE(message.find("DenseReluDense.wi.weight"), std::string::npos) << message;
}

}  // namespace
}  // namespace ptlab::models
