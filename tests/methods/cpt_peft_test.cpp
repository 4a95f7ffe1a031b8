// CPT parity with Hugging Face PEFT 0.14 (the acceptance test): every golden under
// ../shared/golden/cpt/<model>/{none,decay}/ is replayed by launchers::replay_cpt_golden() (the method built
// from PEFT's cpt_config, PEFT's batch with its input_type_mask, 5 AdamW steps): per-step losses within 1e-5
// relative, step-0 gradients within 1e-6 + 1e-4 * max |PEFT's|, the final delta within 1e-4 and the frozen
// embedding unchanged; the exported adapter equals PEFT's adapter_final (prompt_embeddings within 1e-4,
// adapter_config.json byte for byte but for the model paths), and both adapters reloaded give PEFT's
// reloaded eval loss.
#include "methods/cpt/cpt.h"

#include "framework/io/safetensors.h"
#include "launchers/parity.h"
#include "tests/methods/methods_test_support.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <iostream>

namespace ptlab::methods {
namespace {

struct CptCase {
  std::string model, variant;
};

void PrintTo(const CptCase& c, std::ostream* os) { *os << c.model << "/" << c.variant; }

std::string golden_dir(const CptCase& c) { return testing::shared_path("golden/cpt/" + c.model + "/" + c.variant); }

class CptPeftParity : public ::testing::TestWithParam<CptCase> {};

TEST_P(CptPeftParity, FiveAdamWStepsMatchPeft) {
  const CptCase& c = GetParam();
  const std::string dir = golden_dir(c);
  if (!std::filesystem::exists(dir + "/result.json")) GTEST_SKIP() << "../shared not found: " << dir;
  const launchers::GoldenRun golden = launchers::GoldenRun::read(dir);
  EXPECT_EQ(golden.flavour, "cpt");
  const std::string model = testing::shared_path(golden.base_model);
  if (testing::shared_model(model) == nullptr) GTEST_SKIP() << "model " << model << " unavailable in this build";
  launchers::ParityOptions options;
  options.model_dir = model;
  const launchers::ParityReport report = launchers::replay_peft_golden(golden, options);
  EXPECT_EQ(report.method, "cpt");
  ASSERT_EQ(report.losses.size(), 5u);
  for (std::size_t i = 0; i < report.losses.size(); ++i) {
    const auto& l = report.losses[i];
    EXPECT_LE(l.relative_error, 1e-5) << "step " << i << ": ptlab " << l.ptlab << " PEFT " << l.peft;
  }
  ASSERT_EQ(report.step0_grads.size(), 1u);
  for (const auto& g : report.step0_grads) {
    EXPECT_LE(g.max_abs_diff, 1e-6 + 1e-4 * g.peft_max_abs) << g.name;
    EXPECT_GT(g.peft_max_abs, 0.0) << g.name;
  }
  ASSERT_TRUE(report.final_state_compared);
  ASSERT_EQ(report.final_state.size(), 3u);  // delta, the frozen embedding, the exported adapter
  for (const auto& s : report.final_state) {  // the frozen embedding exactly; delta and the adapter within 1e-4
    EXPECT_LE(s.max_abs_diff, s.name == "prompt_encoder.default.embedding.weight" ? 0.0 : 1e-4) << s.name;
  }
  double worst_loss = 0;
  for (const auto& l : report.losses) worst_loss = std::max(worst_loss, l.relative_error);
  std::cout << "[ cpt parity ] " << c.model << "/" << c.variant << ": max loss rel err " << worst_loss
            << ", step-0 grad max |diff| " << report.step0_grads[0].max_abs_diff << " (max |grad| "
            << report.step0_grads[0].peft_max_abs << "), final delta max |diff| " << report.final_state[0].max_abs_diff
            << ", adapter max |diff| " << report.final_state[2].max_abs_diff << "\n";
  int reloads = 0;
  for (const auto& check : report.checks) {
    EXPECT_TRUE(check.ok) << check.what;
    reloads += check.what.find("reloaded") != std::string::npos;
  }
  EXPECT_EQ(reloads, 2);
  EXPECT_TRUE(report.passed());
}

INSTANTIATE_TEST_SUITE_P(Golden, CptPeftParity,
                         ::testing::Values(CptCase{"gpt2", "none"}, CptCase{"gpt2", "decay"}, CptCase{"gpt_neox", "none"},
                                           CptCase{"gpt_neox", "decay"}, CptCase{"llama", "none"},
                                           CptCase{"llama", "decay"}, CptCase{"stories260K", "none"},
                                           CptCase{"stories260K", "decay"}),
                         [](const ::testing::TestParamInfo<CptCase>& info) {
                           return info.param.model + "_" + info.param.variant;
                         });

// The replay's comparisons are real: a golden whose step-0 gradient and final delta are off by 1e-3 fails on
// exactly those entries.
TEST(CptPeftParityReport, ADisagreeingGoldenFails) {
  const std::string source = golden_dir({"gpt2", "decay"});
  if (!std::filesystem::exists(source + "/result.json")) GTEST_SKIP() << "../shared not found";
  const auto dir = std::filesystem::temp_directory_path() / ("ptlab_cpt_parity_off_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::copy(source, dir, std::filesystem::copy_options::recursive);
  const char* key = "prompt_encoder.default.delta_embedding.weight";
  for (const std::string file : {"grads_step0.safetensors", "final_full_state.safetensors"}) {
    auto tensors = io::load_safetensors(source + "/" + file);
    tensors.at(key)[1][3] += 1e-3;
    std::vector<std::pair<std::string, at::Tensor>> ordered(tensors.begin(), tensors.end());
    io::save_safetensors((dir / file).string(), ordered);
  }
  const launchers::GoldenRun golden = launchers::GoldenRun::read(dir.string());
  launchers::ParityOptions options;
  options.model_dir = testing::shared_path(golden.base_model);
  const launchers::ParityReport report = launchers::replay_peft_golden(golden, options);
  std::filesystem::remove_all(dir);
  EXPECT_FALSE(report.passed());
  ASSERT_NE(report.grad(key), nullptr);
  EXPECT_FALSE(report.grad(key)->ok());
  ASSERT_NE(report.state(key), nullptr);
  EXPECT_FALSE(report.state(key)->ok());
  for (const auto& l : report.losses) EXPECT_TRUE(l.ok());
}

}  // namespace
}  // namespace ptlab::methods
