// Loss parity of Prefix Tuning with Hugging Face PEFT 0.10.0: for every golden run under
// ../shared/golden/peft/<run>/prefix{,_proj}{,_kvfix}/ that PEFT could train, launchers::replay_peft_golden()
// builds the method from PEFT's config (seed 0), which must start from PEFT's initial encoder, and 5 AdamW
// steps (lr 1e-2, betas (0.9, 0.999), eps 1e-8, no decay) on PEFT's batch — collated as the trainer does,
// fed through method.prompt(), the frozen backbone and the task losses — must give PEFT's per-step losses
// within 1e-5 relative, its step-0 gradients, its final parameters and its saved flat prefix
// (tests/methods/peft_parity_support.h). Plus PEFT adapter interchange (prefix_tuning_peft.cpp,
// framework/io/peft_prefix_adapter.h) and the one-line errors for bad inputs.
#include "methods/prefix_tuning/prefix_tuning.h"

#include "framework/io/peft_prefix_adapter.h"
#include "framework/io/safetensors.h"
#include "launchers/parity.h"
#include "tests/methods/methods_test_support.h"
#include "tests/methods/peft_parity_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ptlab::methods {
namespace {

namespace fs = std::filesystem;
using testing::PeftCase;

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class PrefixPeftParity : public ::testing::TestWithParam<PeftCase> {};

TEST_P(PrefixPeftParity, FiveAdamWStepsMatchPeft) {
  const PeftCase& c = GetParam();
  const std::string why = testing::unavailable(c);
  if (!why.empty()) GTEST_SKIP() << why;
  const launchers::ParityReport report = testing::expect_peft_parity(c);
  EXPECT_EQ(report.method, "prefix_tuning");
  // Every PEFT encoder tensor maps onto a parameter (the generic checks); the key/value sizing is PEFT's.
  EXPECT_TRUE(std::any_of(report.checks.begin(), report.checks.end(), [](const launchers::ParityCheck& check) {
    return check.what.find("key/value width") != std::string::npos && check.ok;
  }));
  // What PEFT saved after training is the flat prefix (the projection's output): as the final state.
  const launchers::TensorDiff* saved = report.state("adapter_final/adapter_model.safetensors:prompt_embeddings");
  ASSERT_NE(saved, nullptr);
  EXPECT_LE(saved->max_abs_diff, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Golden, PrefixPeftParity,
                         ::testing::Values(PeftCase{"gpt2", "prefix"}, PeftCase{"gpt2", "prefix_proj"},
                                           PeftCase{"gpt_neox", "prefix"}, PeftCase{"gpt_neox", "prefix_proj"},
                                           PeftCase{"llama", "prefix_kvfix"}, PeftCase{"llama", "prefix_proj_kvfix"},
                                           PeftCase{"stories260K", "prefix_kvfix"},
                                           PeftCase{"stories260K", "prefix_proj_kvfix"},
                                           PeftCase{"bert_seqcls", "prefix"}, PeftCase{"bert_seqcls", "prefix_proj"},
                                           PeftCase{"t5", "prefix"}, PeftCase{"t5", "prefix_proj"}),
                         testing::case_name);

// ---- PEFT adapters ------------------------------------------------------------------------------------------

std::string temp_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("ptlab_prefix_peft_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir.string();
}

// import + export reproduces PEFT's adapter_config.json and adapter_model.safetensors byte for byte.
TEST(PrefixTuningPeft, PeftAdaptersRoundTripByteForByte) {
  int checked = 0;
  for (const std::string run : {"gpt2", "gpt_neox", "llama", "stories260K", "t5", "bert_seqcls"}) {
    for (const std::string method : {"prefix", "prefix_proj", "prefix_kvfix", "prefix_proj_kvfix"}) {
      const std::string adapter = testing::shared_path("golden/peft/" + run + "/" + method + "/adapter_final");
      if (!fs::exists(adapter)) continue;
      SCOPED_TRACE(adapter);
      const std::string out = temp_dir("roundtrip");
      io::export_peft_prefix_adapter(out, io::import_peft_prefix_adapter(adapter));
      for (const std::string file : {"adapter_config.json", "adapter_model.safetensors"})
        EXPECT_EQ(read_bytes(out + "/" + file), read_bytes(adapter + "/" + file)) << file;
      fs::remove_all(out);
      ++checked;
    }
  }
  if (checked == 0) GTEST_SKIP() << "../shared not found";
}

TEST(PrefixTuningPeft, LoadsPeftsAdapterAndExportsItBack) {
  const std::string adapter = testing::shared_path("golden/peft/llama/prefix_proj_kvfix/adapter_final");
  if (!fs::exists(adapter)) GTEST_SKIP() << "../shared not found";
  PTLAB_METHOD_FIXTURE(f, "llama", testing::kLmTask);
  // A projected adapter holds the MLP's output: it loads as the flat table of a method without projection.
  auto method = testing::make_method_from("{name: prefix_tuning, length: 8}", *f.context);
  method->load_state(adapter);
  auto& pt = dynamic_cast<PrefixTuning&>(*method);
  const at::Tensor stored = io::load_safetensors(adapter + "/adapter_model.safetensors").at("prompt_embeddings");
  EXPECT_TRUE(at::equal(pt.flat_prefix(), stored));
  const std::string dir = temp_dir("llama");
  method->save_exports(dir);
  const io::PeftPrefixAdapter back = io::import_peft_prefix_adapter(dir + "/adapter");
  EXPECT_TRUE(at::equal(back.prompt_embeddings, stored));
  EXPECT_EQ(back.config.token_dim, 32);           // 2 KV heads x 16
  EXPECT_EQ(back.config.num_attention_heads, 2);  // KV heads, as PEFT's kvfix runs
  EXPECT_EQ(back.config.num_layers, 2);
  EXPECT_EQ(back.config.task_type, "CAUSAL_LM");
  EXPECT_FALSE(back.config.prefix_projection);
  // prompt.safetensors round trip through export_state / load_state.
  io::save_safetensors(dir + "/prompt.safetensors", {{"embedding", pt.export_state().at("embedding")}});
  auto fresh = testing::make_method_from("{name: prefix_tuning, length: 8, init: zero}", *f.context);
  fresh->load_state(dir + "/prompt.safetensors");
  EXPECT_TRUE(at::equal(dynamic_cast<PrefixTuning&>(*fresh).flat_prefix(), stored));

  auto projected = testing::make_method_from("{name: prefix_tuning, length: 8, prefix_projection: true}", *f.context);
  EXPECT_THAT(testing::error_of([&] { projected->load_state(adapter); }),
              ::testing::HasSubstr("loads only into method.prefix_projection=false"));
  fs::remove_all(dir);
}

TEST(PrefixTuningPeft, AdapterOfAnotherModelIsAnError) {
  const std::string adapter = testing::shared_path("golden/peft/gpt2/prefix/adapter_final");
  if (!fs::exists(adapter)) GTEST_SKIP() << "../shared not found";
  PTLAB_METHOD_FIXTURE(f, "llama", testing::kLmTask);
  auto method = testing::make_method_from("{name: prefix_tuning, length: 8}", *f.context);
  const std::string e = testing::error_of([&] { method->load_state(adapter); });
  EXPECT_THAT(e, ::testing::HasSubstr("8 positions x 2 layers x key/value width 64"));
  EXPECT_THAT(e, ::testing::HasSubstr("has 8 x 2 x 32 (2 key/value heads of 16)"));
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  const std::string prompt_adapter = testing::shared_path("golden/peft/llama/prompt_random/adapter_final");
  EXPECT_THAT(testing::error_of([&] { method->load_state(prompt_adapter); }),
              ::testing::HasSubstr("peft_type is 'PROMPT_TUNING'"));
}

}  // namespace
}  // namespace ptlab::methods
