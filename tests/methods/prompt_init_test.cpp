#include "methods/prompt_tuning/prompt_init.h"

#include "framework/io/safetensors.h"
#include "tests/methods/methods_test_support.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

namespace ptlab::methods {
namespace {

using ::testing::ElementsAre;
using testing::error_of;
using ::testing::HasSubstr;

at::Generator seeded(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

std::string temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("ptlab_prompt_init_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

TEST(PromptInit, UniformStaysWithinTheRangeAndFillsIt) {
  at::Generator g = seeded(1);
  const at::Tensor p = uniform_prompt(200, 64, 0.5, g);
  EXPECT_EQ(p.sizes(), (std::vector<int64_t>{200, 64}));
  EXPECT_EQ(p.scalar_type(), at::kFloat);
  EXPECT_GE(p.min().item<double>(), -0.5);
  EXPECT_LE(p.max().item<double>(), 0.5);
  EXPECT_LT(p.min().item<double>(), -0.49);  // both ends are reached, not U[0, r)
  EXPECT_GT(p.max().item<double>(), 0.49);
  EXPECT_NEAR(p.mean().item<double>(), 0.0, 0.01);
  EXPECT_NEAR(p.std().item<double>(), 0.5 / std::sqrt(3.0), 0.005);  // U[-r, r] has std r / sqrt(3)
}

TEST(PromptInit, NormalHasTheAskedStandardDeviation) {
  at::Generator g = seeded(2);
  const at::Tensor p = normal_prompt(1000, 64, 1.0, g);
  EXPECT_NEAR(p.mean().item<double>(), 0.0, 0.01);
  EXPECT_NEAR(p.std().item<double>(), 1.0, 0.01);
  at::Generator g2 = seeded(2);
  EXPECT_NEAR(normal_prompt(1000, 64, 0.02, g2).std().item<double>(), 0.02, 0.0002);
}

TEST(PromptInit, NormalWithSeedZeroIsPeftsRandomInit) {
  // PEFT's RANDOM init is nn.Embedding's N(0, 1) right after torch.manual_seed(0).
  const std::string path = testing::shared_path("golden/peft/gpt2/prompt_random/init_full_state.safetensors");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "../shared not found: " << path;
  const at::Tensor peft = io::load_safetensors(path).at("prompt_encoder.default.embedding.weight");  // [8, 64]
  at::Generator g = seeded(0);
  EXPECT_TRUE(at::equal(normal_prompt(8, 64, 1.0, g), peft));
}

TEST(PromptInit, SampledVocabDrawsDistinctRowsOfTheFirstK) {
  at::Generator g = seeded(3);
  const at::Tensor ids = sampled_vocab_ids(50, 512, 100, g, "method.sample_top_k");
  EXPECT_EQ(ids.numel(), 50);
  EXPECT_GE(ids.min().item<int64_t>(), 0);
  EXPECT_LT(ids.max().item<int64_t>(), 100);
  std::set<int64_t> distinct(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel());
  EXPECT_EQ(distinct.size(), 50u);  // without replacement while n <= k
  // More rows than the population: with replacement, still within it.
  const at::Tensor many = sampled_vocab_ids(30, 512, 10, g, "w");
  EXPECT_LT(many.max().item<int64_t>(), 10);
  // 0 = the whole vocabulary.
  const at::Tensor all = sampled_vocab_ids(400, 512, 0, g, "w");
  EXPECT_GT(all.max().item<int64_t>(), 100);
  EXPECT_LT(all.max().item<int64_t>(), 512);

  const at::Tensor embeddings = at::randn({512, 16});
  at::Generator a = seeded(4), b = seeded(4);
  const at::Tensor rows = sampled_vocab_prompt(embeddings, 20, 100, a, "w");
  EXPECT_TRUE(at::equal(rows, embeddings.index_select(0, sampled_vocab_ids(20, 512, 100, b, "w"))));
}

TEST(PromptInit, SampleTopKBeyondTheVocabularyTakesTheWholeVocabulary) {
  at::Generator a = seeded(6), b = seeded(6);
  // The paper's 5,000 on a 512-row vocabulary: the same draw as k = 0 (the whole vocabulary).
  EXPECT_TRUE(at::equal(sampled_vocab_ids(40, 512, 5000, a, "w"), sampled_vocab_ids(40, 512, 0, b, "w")));
  at::Generator g = seeded(0);
  EXPECT_THAT(error_of([&] { sampled_vocab_ids(5, 512, -1, g, "method.sample_top_k"); }),
              HasSubstr("method.sample_top_k: sample_top_k must be >= 0"));
}

TEST(PromptInit, TextIdsAreCutOrRepeatedCyclicallyWithSpecialTokens) {
  testing::SharedModel* llama = testing::shared_model(testing::model_dir("llama"));
  if (llama == nullptr) GTEST_SKIP() << "../shared not found: " << testing::model_dir("llama");
  const text::Tokenizer& tok = *llama->tokenizer;
  const std::vector<int> full = tok.encode("good movie", true).ids;
  ASSERT_GE(full.size(), 2u);
  EXPECT_EQ(full[0], tok.bos_id());  // Llama adds <s>, and PEFT keeps it
  const auto ids = text_init_ids(tok, "good movie", static_cast<int64_t>(full.size()) * 2 + 1, "w");
  for (std::size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(ids[i], full[i % full.size()]) << i;
  EXPECT_THAT(text_init_ids(tok, "good movie", 1, "w"), ElementsAre(full[0]));
}

TEST(PromptInit, EmbeddingRowsCheckTheIds) {
  const at::Tensor embeddings = at::randn({10, 4});
  const at::Tensor rows = embedding_rows(embeddings, {3, 3, 9}, "w");
  EXPECT_TRUE(at::equal(rows[1], embeddings[3]));
  EXPECT_TRUE(at::equal(rows[2], embeddings[9]));
  const std::string e = error_of([&] { embedding_rows(embeddings, {3, 10}, "method.init_text"); });
  EXPECT_THAT(e, HasSubstr("method.init_text: token id 10 is outside the model's 10 embedding rows"));
}

TEST(PromptInit, ClassLabelPutsLabelWordMeansFirstAndSampledRowsAfter) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kSentimentTask);
  const at::Tensor w = f.backbone().word_embeddings();
  const tasks::Verbalizer& v = *f.task->verbalizer();
  at::Generator g = seeded(5);
  const at::Tensor p = class_label_prompt(w, v, 6, 100, g, "method.init");
  ASSERT_EQ(p.sizes(), (std::vector<int64_t>{6, 64}));
  // Row c = the mean of class c's label-word sub-token embeddings.
  for (int64_t c = 0; c < 2; ++c) {
    const auto& tokens = v.word_tokens()[c][0];
    at::Tensor mean = w.index_select(0, at::tensor(tokens, at::kLong)).mean(0);
    EXPECT_TRUE(at::allclose(p[c], mean)) << c;
  }
  // The rest: rows among the first 100 embeddings.
  for (int64_t r = 2; r < 6; ++r) {
    const at::Tensor hits = (w.narrow(0, 0, 100) - p[r]).abs().sum(1).eq(0);
    EXPECT_TRUE(hits.any().item<bool>()) << r;
  }
  at::Generator g2 = seeded(5);
  EXPECT_THAT(error_of([&] { class_label_prompt(w, v, 1, 100, g2, "method.init"); }),
              HasSubstr("method.init: class_label init puts one class per virtual token, but the task has 2 classes "
                        "and the prompt only 1 tokens"));
}

TEST(PromptInit, FileReadsPtlabFilesPeftFilesAndPeftDirectories) {
  const std::string dir = temp_dir("file");
  const at::Tensor saved = at::randn({4, 8});
  io::save_safetensors(dir + "/prompt.safetensors", {{"prompt", saved}});
  EXPECT_TRUE(at::equal(file_prompt(dir + "/prompt.safetensors", 4, 8, false, "w"), saved));

  // A bare PEFT adapter_model.safetensors of an encoder-decoder model: rows 0..n-1 of [2n, d].
  const at::Tensor peft = at::randn({8, 8});
  io::save_safetensors(dir + "/adapter_model.safetensors", {{"prompt_embeddings", peft}});
  EXPECT_TRUE(at::equal(file_prompt(dir + "/adapter_model.safetensors", 4, 8, true, "w"), peft.narrow(0, 0, 4)));

  const std::string adapter = testing::shared_path("golden/peft/gpt2/prompt_text/adapter_final");
  if (std::filesystem::exists(adapter)) {
    const at::Tensor stored = io::load_safetensors(adapter + "/adapter_model.safetensors").at("prompt_embeddings");
    EXPECT_TRUE(at::equal(file_prompt(adapter, 8, 64, false, "w"), stored));
    const std::string t5 = testing::shared_path("golden/peft/t5/prompt_text/adapter_final");
    const at::Tensor t5_stored = io::load_safetensors(t5 + "/adapter_model.safetensors").at("prompt_embeddings");
    EXPECT_TRUE(at::equal(file_prompt(t5, 8, 64, true, "w"), t5_stored.narrow(0, 0, 8)));  // [16, 64] -> encoder rows
    const std::string e = error_of([&] { file_prompt(adapter, 20, 64, false, "method.init_file"); });
    EXPECT_THAT(e, HasSubstr("method.init_file"));
    EXPECT_THAT(e, HasSubstr("holds a prompt of shape [8, 64], but this prompt is [20, 64]"));
  }
  std::filesystem::remove_all(dir);
}

TEST(PromptInit, FileErrors) {
  const std::string dir = temp_dir("errors");
  EXPECT_THAT(error_of([&] { file_prompt(dir + "/nope.safetensors", 4, 8, false, "method.init_file"); }),
              HasSubstr("method.init_file: '" + dir + "/nope.safetensors' does not exist"));
  io::save_safetensors(dir + "/prompt.safetensors", {{"prompt", at::randn({5, 8})}});
  const std::string shape =
      error_of([&] { file_prompt(dir + "/prompt.safetensors", 4, 8, false, "method.init_file"); });
  EXPECT_THAT(shape, HasSubstr("holds a prompt of shape [5, 8], but this prompt is [4, 8]"));
  io::save_safetensors(dir + "/other.safetensors", {{"weights", at::randn({4, 8})}});
  EXPECT_THAT(error_of([&] { file_prompt(dir + "/other.safetensors", 4, 8, false, "w"); }),
              HasSubstr("has no tensor 'prompt' (a ptlab prompt file) nor 'prompt_embeddings' (a PEFT adapter); it "
                        "holds: weights"));
  std::filesystem::create_directories(dir + "/empty_adapter");
  EXPECT_THAT(error_of([&] { file_prompt(dir + "/empty_adapter", 4, 8, false, "method.init_file"); }),
              HasSubstr("method.init_file: "));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ptlab::methods
