// Test support for tests/config: a throwaway config directory and an error-message matcher.
#pragma once

#include "framework/core/error.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace ptlab::config::testing {

/// The fixture config tree of the repository (tests/fixtures/configs).
inline std::string fixture_dir() { return std::string(PTLAB_SOURCE_DIR) + "/tests/fixtures/configs"; }

/// A temporary config directory, removed when the object goes away.
class ConfigTree {
 public:
  ConfigTree() {
    std::string pattern = (std::filesystem::temp_directory_path() / "ptlab_config_XXXXXX").string();
    char* made = mkdtemp(pattern.data());
    if (!made) throw std::runtime_error("mkdtemp failed");
    dir_ = made;
  }
  ~ConfigTree() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  ConfigTree(const ConfigTree&) = delete;
  ConfigTree& operator=(const ConfigTree&) = delete;

  /// Writes `text` to <dir>/<relative_path>, creating folders.
  void write(const std::string& relative_path, const std::string& text) const {
    auto path = std::filesystem::path(dir_) / relative_path;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

/// The message of the ptlab::Error that `f` throws ("" plus a test failure when it throws none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const ptlab::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a ptlab::Error";
  return "";
}

}  // namespace ptlab::config::testing

/// EXPECT_CONTAINS(text, part): `part` occurs in `text`.
#define EXPECT_CONTAINS(text, part) \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << "missing \"" << (part) << "\" in: " << (text)
