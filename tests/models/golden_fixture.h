// Test helpers for the golden references of ../shared/golden/models (transformers 4.38.2, fp32).
#pragma once

#include "framework/core/error.h"
#include "framework/io/safetensors.h"
#include "framework/models/backbone.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace ptlab::models::testing {

inline std::string shared_dir() { return PTLAB_SHARED_DIR; }
inline std::string golden_dir(const std::string& name) { return shared_dir() + "/golden/models/" + name; }
/// The HF model directory of a golden: the golden folder itself, except stories260K (../models/stories260K).
inline std::string model_dir(const std::string& name) {
  return name == "stories260K" ? shared_dir() + "/models/stories260K" : golden_dir(name);
}
inline bool have_golden(const std::string& name) {
  return std::filesystem::exists(golden_dir(name) + "/golden.safetensors") &&
         std::filesystem::exists(model_dir(name) + "/config.json");
}

/// max |a - b| (shapes must match).
inline double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  if (a.sizes() != b.sizes()) return 1e30;
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

/// The message of the ptlab::Error `f` throws (a test failure when it throws nothing).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const ::ptlab::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a ptlab::Error";
  return "";
}

}  // namespace ptlab::models::testing

#define PTLAB_SKIP_WITHOUT_GOLDEN(name) \
  if (!::ptlab::models::testing::have_golden(name)) GTEST_SKIP() << "../shared not found: " << ::ptlab::models::testing::golden_dir(name)
