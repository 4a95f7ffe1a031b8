// Parity of Multitask Prompt Tuning with Hugging Face PEFT 0.10.0's MULTITASK_PROMPT_TUNING: every golden
// under ../shared/golden/peft/<run>/multitask/ (2 tasks, rank 1, task_ids [0, 1, 0, 1] — a mixed-task
// batch) replayed by launchers::replay_peft_golden(): PEFT's seeded init bit for bit, per-step losses within
// 1e-5 relative, step-0 gradients, final state, and the exported adapter equal to PEFT's adapter_final
// within 1e-4 (tests/methods/peft_parity_support.h; the mpt entry of launchers/parity_methods.cpp).
#include "methods/mpt/mpt.h"

#include "framework/io/safetensors.h"
#include "launchers/parity.h"
#include "tests/methods/methods_test_support.h"
#include "tests/methods/peft_parity_support.h"

#include <gtest/gtest.h>

namespace ptlab::methods {
namespace {

using testing::PeftCase;

class MptPeftParity : public ::testing::TestWithParam<PeftCase> {};

TEST_P(MptPeftParity, FiveAdamWStepsMatchPeft) {
  const PeftCase& c = GetParam();
  const std::string why = testing::unavailable(c);
  if (!why.empty()) GTEST_SKIP() << why;
  const launchers::ParityReport report = testing::expect_peft_parity(c);
  EXPECT_EQ(report.method, "mpt");
  for (const char* key : {"prompt_encoder.default.embedding.weight", "prompt_encoder.default.prefix_task_cols",
                          "prompt_encoder.default.prefix_task_rows"}) {
    ASSERT_NE(report.grad(key), nullptr) << key;  // whole tensors: T5's decoder half trains too
    ASSERT_NE(report.state(key), nullptr) << key;
  }
  for (const char* key : {"prompt_embeddings", "prefix_task_cols", "prefix_task_rows"}) {
    const launchers::TensorDiff* saved = report.state(std::string("adapter_final/adapter_model.safetensors:") + key);
    ASSERT_NE(saved, nullptr) << key;
    EXPECT_LE(saved->max_abs_diff, 1e-4) << key;
  }
  int adapter_checks = 0;
  for (const launchers::ParityCheck& check : report.checks) adapter_checks += check.what.find("adapter") != std::string::npos;
  EXPECT_EQ(adapter_checks, 2);
}

INSTANTIATE_TEST_SUITE_P(Golden, MptPeftParity,
                         ::testing::Values(PeftCase{"gpt2", "multitask"}, PeftCase{"gpt_neox", "multitask"},
                                           PeftCase{"llama", "multitask"}, PeftCase{"stories260K", "multitask"},
                                           PeftCase{"bert_seqcls", "multitask"}, PeftCase{"t5", "multitask"}),
                         testing::case_name);

// PEFT's saved adapter loads as the method's state (the T5 one: 2N rows, both halves used).
TEST(MptPeft, LoadsPeftsOwnAdapter) {
  const std::string adapter = testing::shared_path("golden/peft/t5/multitask/adapter_final");
  PTLAB_METHOD_FIXTURE(f, "t5", testing::kLmTask);
  auto method = testing::make_method_from("{name: mpt, length: 8, num_tasks: 2, rank: 1}", *f.context);
  method->load_state(adapter);
  const auto stored = io::load_safetensors(adapter + "/adapter_model.safetensors");
  const auto& mpt = dynamic_cast<const MultitaskPromptTuning&>(*method);
  EXPECT_TRUE(at::equal(mpt.shared_prompt(), stored.at("prompt_embeddings")));
  EXPECT_TRUE(at::equal(mpt.task_cols(), stored.at("prefix_task_cols")));
  EXPECT_TRUE(at::equal(mpt.task_rows(), stored.at("prefix_task_rows")));
  auto ranked = testing::make_method_from("{name: mpt, length: 8, num_tasks: 2, rank: 2}", *f.context);
  const std::string e = testing::error_of([&] { ranked->load_state(adapter); });
  EXPECT_NE(e.find("but this mpt has [16, 64], [2, 16, 2] and [2, 2, 64]"), std::string::npos) << e;
}

}  // namespace
}  // namespace ptlab::methods
