// Test support for tests/data: a temporary directory, data configs decoded from YAML text, reading every
// example of a source, and error-message checks.
#pragma once

#include "framework/config/origins.h"
#include "framework/config/reader.h"
#include "framework/core/error.h"
#include "framework/data/dataset.h"
#include "framework/data/dataset_config.h"
#include "framework/data/row_reader.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace ptlab::data::testing {

inline std::string shared_path(const std::string& relative) { return std::string(PTLAB_SHARED_DIR) + "/" + relative; }

#define PTLAB_REQUIRE_SHARED_DATA(relative)                                                 \
  if (!std::filesystem::exists(::ptlab::data::testing::shared_path(relative)))              \
  GTEST_SKIP() << "../shared not found: " << ::ptlab::data::testing::shared_path(relative)

/// A fresh directory under the system temp dir, removed with its contents at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "ptlab_data_XXXXXX").string();
    char* made = mkdtemp(pattern.data());
    if (!made) throw std::runtime_error("mkdtemp failed");
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  /// Writes `content` (bytes as given) to `name` inside the directory, creating folders; returns the path.
  std::string write(const std::string& name, const std::string& content) const {
    const auto p = std::filesystem::path(path_) / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }

 private:
  std::string path_;
};

/// A DatasetConfig from the YAML text of a `data:` mapping (origin "test.yaml").
inline DatasetConfig config_from_yaml(const std::string& yaml, config::Origins* keep_origins = nullptr) {
  static config::Origins origins;  // the Reader keeps a pointer; origins must outlive it
  origins = config::Origins();
  YAML::Node root = YAML::Load(yaml);
  origins.set_subtree("data", root, "test.yaml");
  if (keep_origins) *keep_origins = origins;
  return DatasetConfig::decode(config::Reader(root, "data", origins), origins);
}

/// Every raw row of `source` (RowErrors propagate).
inline std::vector<RawRow> read_all(const SourceConfig& source) {
  auto reader = open_row_reader(source);
  std::vector<RawRow> rows;
  RawRow row;
  while (reader->next(row)) rows.push_back(row);
  return rows;
}

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

/// Like error_of, but the error must be a RowError (a skippable, one-row problem).
template <class F>
std::string row_error_of(F&& f) {
  try {
    f();
  } catch (const RowError& e) {
    return e.what();
  } catch (const ptlab::Error& e) {
    ADD_FAILURE() << "expected a RowError, got a plain Error: " << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected a RowError";
  return "";
}

}  // namespace ptlab::data::testing

#ifndef EXPECT_CONTAINS
/// EXPECT_CONTAINS(text, part): `part` occurs in `text`.
#define EXPECT_CONTAINS(text, part)                                                    \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << "missing \"" << (part) \
                                                             << "\" in: " << (text)
#endif
