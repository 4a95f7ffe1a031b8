// Loss parity of Prompt Tuning with Hugging Face PEFT 0.10.0 (the acceptance test): for every golden run
// under ../shared/golden/peft/<run>/prompt_{random,text}/, launchers::replay_peft_golden() builds the
// method from PEFT's config (seed 0), which must start from PEFT's initial prompt, and 5 AdamW steps (lr
// 1e-2, betas (0.9, 0.999), eps 1e-8, no decay) on PEFT's batch — laid out by tasks::prepend_soft_tokens +
// collate, fed through method.prompt(), the frozen backbone and the task losses — must give PEFT's per-step
// losses within 1e-5 relative, its step-0 gradients and its final prompt (tests/methods/peft_parity_support.h).
#include "methods/prompt_tuning/prompt_tuning.h"

#include "framework/io/peft_adapter.h"
#include "framework/io/safetensors.h"
#include "launchers/parity.h"
#include "tests/methods/methods_test_support.h"
#include "tests/methods/peft_parity_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

namespace ptlab::methods {
namespace {

using testing::PeftCase;

constexpr const char* kPromptKey = "prompt_encoder.default.embedding.weight";
constexpr const char* kClassifierWeight = "base_model.classifier.modules_to_save.default.weight";
constexpr const char* kClassifierBias = "base_model.classifier.modules_to_save.default.bias";

class PeftParity : public ::testing::TestWithParam<PeftCase> {};

TEST_P(PeftParity, FiveAdamWStepsMatchPeft) {
  const PeftCase& c = GetParam();
  const std::string why = testing::unavailable(c);
  if (!why.empty()) GTEST_SKIP() << why;
  const launchers::ParityReport report = testing::expect_peft_parity(c);
  EXPECT_EQ(report.method, "prompt_tuning");
  if (report.golden.flavour == "seq2seq") {
    // PEFT's table has 2n rows; prompt tuning trains rows 0..n-1 only: the decoder half gets no gradient
    // and keeps its init, exactly.
    const launchers::TensorDiff* grad = report.grad(std::string(kPromptKey) + "[8:16]");
    const launchers::TensorDiff* state = report.state(std::string(kPromptKey) + "[8:16]");
    ASSERT_NE(grad, nullptr);
    ASSERT_NE(state, nullptr);
    EXPECT_EQ(grad->max_abs_diff, 0.0);
    EXPECT_EQ(state->max_abs_diff, 0.0);
  } else {
    ASSERT_NE(report.grad(kPromptKey), nullptr);
  }
  if (report.golden.flavour == "seqcls") {  // the classifier (PEFT's modules_to_save) trains along
    for (const char* key : {kClassifierWeight, kClassifierBias}) {
      ASSERT_NE(report.grad(key), nullptr) << key;
      EXPECT_LE(report.grad(key)->max_abs_diff, 1e-6) << key;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, PeftParity,
                         ::testing::Values(PeftCase{"gpt2", "prompt_random"}, PeftCase{"gpt2", "prompt_text"},
                                           PeftCase{"gpt_neox", "prompt_random"}, PeftCase{"gpt_neox", "prompt_text"},
                                           PeftCase{"llama", "prompt_random"}, PeftCase{"llama", "prompt_text"},
                                           PeftCase{"stories260K", "prompt_random"},
                                           PeftCase{"stories260K", "prompt_text"}, PeftCase{"t5", "prompt_random"},
                                           PeftCase{"t5", "prompt_text"}, PeftCase{"bert_seqcls", "prompt_random"},
                                           PeftCase{"bert_seqcls", "prompt_text"},
                                           PeftCase{"bert_mlm", "prompt_random"}, PeftCase{"bert_mlm", "prompt_text"}),
                         testing::case_name);

// The replay's comparisons are real: a golden whose step-2 loss, step-0 gradient and final prompt are off
// by 1e-3 fails on exactly those entries.
TEST(PeftParityReport, ADisagreeingGoldenFails) {
  const PeftCase c{"gpt2", "prompt_random"};
  const std::string why = testing::unavailable(c);
  if (!why.empty()) GTEST_SKIP() << why;
  const std::string source = testing::golden_dir(c);
  const auto dir = std::filesystem::temp_directory_path() / ("ptlab_parity_off_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::copy(source, dir, std::filesystem::copy_options::recursive);
  for (const std::string file : {"grads_step0.safetensors", "final_full_state.safetensors"}) {
    auto tensors = io::load_safetensors(source + "/" + file);
    tensors.at(kPromptKey)[1][3] += 1e-3;
    io::save_safetensors(dir.string() + "/" + file, {{kPromptKey, tensors.at(kPromptKey)}});
  }
  launchers::GoldenRun golden = launchers::GoldenRun::read(dir.string());
  golden.losses[2] *= 1.001;
  launchers::ParityOptions options;
  options.model_dir = testing::shared_path(golden.base_model);
  const launchers::ParityReport report = launchers::replay_peft_golden(golden, options);
  EXPECT_FALSE(report.passed());
  ASSERT_EQ(report.losses.size(), 5u);
  for (std::size_t step = 0; step < 5; ++step) EXPECT_EQ(report.losses[step].ok(), step != 2) << step;
  EXPECT_NEAR(report.losses[2].relative_error, 1e-3, 1e-5);
  ASSERT_NE(report.grad(kPromptKey), nullptr);
  EXPECT_NEAR(report.grad(kPromptKey)->max_abs_diff, 1e-3, 1e-5);
  EXPECT_FALSE(report.grad(kPromptKey)->ok());
  ASSERT_NE(report.state(kPromptKey), nullptr);
  EXPECT_NEAR(report.state(kPromptKey)->max_abs_diff, 1e-3, 1e-4);
  EXPECT_FALSE(report.state(kPromptKey)->ok());
  for (const launchers::ParityCheck& check : report.checks) EXPECT_TRUE(check.ok) << check.what;
  std::filesystem::remove_all(dir);
}

// ---- PEFT adapters: save_exports() / load_state() (prompt_tuning_peft.cpp) --------------------------------

std::string temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("ptlab_pt_peft_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir.string();
}

TEST(PromptTuningPeft, ExportedAdapterLoadsBack) {
  for (const std::string family : {"gpt2", "t5"}) {
    SCOPED_TRACE(family);
    PTLAB_METHOD_FIXTURE(f, family, testing::kLmTask);
    auto method =
        testing::make_method_from("{name: prompt_tuning, length: 4, init: text, init_text: 'good film'}", *f.context);
    const auto& pt = dynamic_cast<const PromptTuning&>(*method);
    const std::string dir = temp_dir(family);
    method->save_exports(dir);
    const io::PeftPromptAdapter adapter = io::import_peft_prompt_adapter(dir + "/adapter");
    const bool seq2seq = family == "t5";
    EXPECT_EQ(adapter.config.task_type, seq2seq ? "SEQ_2_SEQ_LM" : "CAUSAL_LM");
    EXPECT_EQ(adapter.config.num_transformer_submodules, seq2seq ? 2 : 1);
    EXPECT_EQ(adapter.config.num_virtual_tokens, 4);
    EXPECT_EQ(adapter.config.token_dim, 64);
    EXPECT_EQ(adapter.config.prompt_tuning_init, "TEXT");
    EXPECT_EQ(adapter.config.prompt_tuning_init_text.value_or(""), "good film");
    EXPECT_TRUE(at::equal(adapter.prompt_embeddings, pt.peft_prompt_embeddings()));

    MethodContext other{f.backbone(), f.tokenizer(), *f.task, 3};
    auto fresh = testing::make_method_from("{name: prompt_tuning, length: 4, init: normal}", other);
    fresh->load_state(dir + "/adapter");
    EXPECT_TRUE(at::equal(dynamic_cast<const PromptTuning&>(*fresh).prompt_embeddings(), pt.prompt_embeddings()));
    auto longer = testing::make_method_from("{name: prompt_tuning, length: 6, init: normal}", other);
    const std::string e = testing::error_of([&] { longer->load_state(dir + "/adapter"); });
    EXPECT_THAT(e, ::testing::HasSubstr("the adapter's prompt is 4 x 64 but this prompt_tuning has 6 x 64"));
    std::filesystem::remove_all(dir);
  }
}

TEST(PromptTuningPeft, LoadsPeftsOwnAdapter) {
  const std::string adapter = testing::shared_path("golden/peft/t5/prompt_random/adapter_final");
  PTLAB_METHOD_FIXTURE(f, "t5", testing::kLmTask);
  auto method = testing::make_method_from("{name: prompt_tuning, length: 8, init: normal}", *f.context);
  method->load_state(adapter);
  const at::Tensor stored = io::load_safetensors(adapter + "/adapter_model.safetensors").at("prompt_embeddings");
  EXPECT_TRUE(at::equal(dynamic_cast<const PromptTuning&>(*method).prompt_embeddings(), stored.narrow(0, 0, 8)));
}

}  // namespace
}  // namespace ptlab::methods
