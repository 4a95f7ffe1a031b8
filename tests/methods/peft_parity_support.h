// Test support for the methods' PEFT parity tests: replays a golden run with launchers::replay_peft_golden()
// and asserts on its report with the tests' own tolerances (golden/README.md), so a looser tolerance in the
// library cannot make them pass: every step's loss within 1e-5 relative, every step-0 gradient within
// 1e-6 + 1e-4 * max |PEFT's|, every final parameter within 1e-4, every check of the replay true, and every
// tensor of PEFT's gradient and final-state files compared.
#pragma once

#include "framework/io/safetensors.h"
#include "framework/text/sentencepiece_library.h"
#include "launchers/parity.h"
#include "tests/methods/methods_test_support.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

namespace ptlab::methods::testing {

struct PeftCase {
  std::string run, method;
};

inline void PrintTo(const PeftCase& c, std::ostream* os) { *os << c.run << "/" << c.method; }

inline std::string case_name(const ::testing::TestParamInfo<PeftCase>& info) {
  return info.param.run + "_" + info.param.method;
}

/// The golden run directory of `c`.
inline std::string golden_dir(const PeftCase& c) { return shared_path("golden/peft/" + c.run + "/" + c.method); }

/// Why the golden run of `c` cannot be replayed here ("" when it can): ../shared absent, or a base model that
/// needs SentencePiece this build lacks.
inline std::string unavailable(const PeftCase& c) {
  const std::string dir = golden_dir(c);
  if (!std::filesystem::exists(dir + "/result.json")) return "../shared not found (or PEFT could not run it): " + dir;
  const std::string model = shared_path(launchers::GoldenRun::read(dir).base_model);
  const bool sentencepiece =
      std::filesystem::exists(model + "/tokenizer.model") || std::filesystem::exists(model + "/spiece.model");
  if (sentencepiece && !text::sentencepiece_supported()) return "model of " + dir + " needs SentencePiece";
  return "";
}

/// Every entry of `diffs` whose name is `key` or a row range of it ("key[0:8]").
inline int entries_for(const std::vector<launchers::TensorDiff>& diffs, const std::string& key) {
  int n = 0;
  for (const auto& d : diffs) n += d.name == key || d.name.rfind(key + "[", 0) == 0;
  return n;
}

/// Replays `c` on its base model and asserts full parity; returns the report for method-specific checks.
inline launchers::ParityReport expect_peft_parity(const PeftCase& c) {
  const launchers::GoldenRun golden = launchers::GoldenRun::read(golden_dir(c));
  launchers::ParityOptions options;
  options.model_dir = shared_path(golden.base_model);
  const launchers::ParityReport report = launchers::replay_peft_golden(golden, options);

  EXPECT_EQ(report.losses.size(), golden.losses.size());
  double worst = 0;
  for (std::size_t step = 0; step < report.losses.size(); ++step) {
    const launchers::StepLoss& l = report.losses[step];
    EXPECT_LE(std::abs(l.ptlab - l.peft) / std::abs(l.peft), 1e-5)
        << "step " << step << ": ptlab " << l.ptlab << " vs PEFT " << l.peft;
    worst = std::max(worst, l.relative_error);
  }
  for (const auto& [key, tensor] : io::load_safetensors(golden.dir + "/grads_step0.safetensors")) {
    EXPECT_GE(entries_for(report.step0_grads, key), 1) << "PEFT's gradient " << key << " not compared";
  }
  for (const launchers::TensorDiff& d : report.step0_grads) {
    EXPECT_LE(d.max_abs_diff, 1e-6 + 1e-4 * d.peft_max_abs) << "step-0 gradient " << d.name;
    EXPECT_LE(d.max_abs_diff, d.tolerance) << "step-0 gradient " << d.name;
  }
  EXPECT_TRUE(report.final_state_compared);
  for (const auto& [key, tensor] : io::load_safetensors(golden.dir + "/final_full_state.safetensors")) {
    EXPECT_GE(entries_for(report.final_state, key), 1) << "PEFT's final " << key << " not compared";
  }
  double state_error = 0;
  for (const launchers::TensorDiff& d : report.final_state) {
    EXPECT_LE(d.max_abs_diff, 1e-4) << "final " << d.name;
    EXPECT_LE(d.max_abs_diff, d.tolerance) << "final " << d.name;
    state_error = std::max(state_error, d.max_abs_diff);
  }
  EXPECT_GE(report.checks.size(), 2u);  // seeded init, batch layout (+ the pooler, the method's own)
  for (const launchers::ParityCheck& check : report.checks) EXPECT_TRUE(check.ok) << check.what;
  EXPECT_TRUE(report.passed());
  std::cout << "[ parity ] " << c.run << "/" << c.method << ": max relative loss error " << worst
            << ", final state max |diff| " << state_error << "\n";
  ::testing::Test::RecordProperty("max_relative_loss_error", std::to_string(worst));
  return report;
}

}  // namespace ptlab::methods::testing
