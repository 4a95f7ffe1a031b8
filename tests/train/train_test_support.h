// Test support for tests/train: a temporary directory, configs decoded from YAML text, parameters with
// chosen gradients, and error-message checks.
#pragma once

#include "framework/config/origins.h"
#include "framework/config/reader.h"
#include "framework/core/error.h"
#include "framework/train/optimizer.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace ptlab::train::testing {

/// A fresh directory under the system temp dir, removed with its contents at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "ptlab_train_XXXXXX").string();
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
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  /// The names of the entries of the directory, sorted.
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(path_)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  std::string path_;
};

/// Decodes a config struct (OptimizerConfig, ScheduleConfig) from the YAML text of its mapping at `path`
/// (origin "test.yaml").
template <class Config>
Config decode_yaml(const std::string& yaml, const std::string& path) {
  static config::Origins origins;  // the Reader keeps a pointer; origins must outlive it
  origins = config::Origins();
  YAML::Node node = YAML::Load(yaml);
  origins.set_subtree(path, node, "test.yaml");
  return Config::decode(config::Reader(node, path, origins), &origins);
}

/// A leaf parameter (requires_grad) holding `values` with `shape`, of `dtype`.
inline at::Tensor param(const std::vector<double>& values, std::vector<int64_t> shape,
                        at::ScalarType dtype = at::kDouble) {
  return at::tensor(values, at::kDouble).reshape(shape).to(dtype).set_requires_grad(true);
}

/// Sets p.grad() to `values` (p's shape and dtype).
inline void set_grad(const at::Tensor& p, const std::vector<double>& values) {
  p.mutable_grad() = at::tensor(values, at::kDouble).reshape(p.sizes()).to(p.scalar_type());
}

/// Fresh copies of named parameters (same names, values, dtypes; new leaves without grads).
inline NamedParameters clone_params(const NamedParameters& params) {
  NamedParameters out;
  for (const auto& [name, p] : params) out.emplace_back(name, p.detach().clone().set_requires_grad(true));
  return out;
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

}  // namespace ptlab::train::testing

#ifndef EXPECT_CONTAINS
/// EXPECT_CONTAINS(text, part): `part` occurs in `text`.
#define EXPECT_CONTAINS(text, part)                                                    \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << "missing \"" << (part) \
                                                             << "\" in: " << (text)
#endif
