// Running `ptlab train` / `ptlab eval` from tests, as a user does: a small prompt-tuning trial on the real
// pretrained stories260K model and the real SST-2 data from ../shared, and readers for its run directory.
#pragma once
#include "framework/io/safetensors.h"
#include "tests/models/temp_dir.h"

#include <gtest/gtest.h>
#include <hdf5.h>
#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace ptlab::launchers::testing {

using models::testing::TempDir;
namespace fs = std::filesystem;

inline std::string fmt_args(std::initializer_list<std::string> parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : " ") + p;
  return out;
}

/// A value as `ptlab eval` prints it.
inline std::string fmt_fixed(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.4f", value);
  return buffer;
}

struct Result {
  int code = -1;
  std::string out, err;
};

inline std::string shared(const std::string& rel) { return std::string(PTLAB_SHARED_DIR) + "/" + rel; }

inline bool have_shared() {
  return fs::exists(shared("models/stories260K/config.json")) && fs::exists(shared("data/sst2/train.tsv"));
}

#define REQUIRE_SHARED() \
  if (!have_shared()) GTEST_SKIP() << "../shared not found (" << PTLAB_SHARED_DIR << "): needs models/stories260K and data/sst2"

// A small, fast prompt-tuning trial on stories260K + SST-2 (64 rows per split).
inline std::string base_args(const std::string& run_dir) {
  return fmt_args({"--config-dir", std::string(PTLAB_SOURCE_DIR) + "/configs", "paths.shared=" + std::string(PTLAB_SHARED_DIR),
                   "model=stories260K", "task=sst2", "task.data.limit=64", "method=prompt_tuning", "method.length=4",
                   "method.init=sampled_vocab", "trainer.batch_size=4", "trainer.eval_batch_size=16",
                   "runtime.threads=1", "run.dir=" + run_dir});
}

inline std::string run_shell(const std::string& command, const TempDir& dir, Result& r) {
  const std::string err_path = dir.sub("stderr.txt");
  FILE* pipe = popen((command + " 2>" + err_path).c_str(), "r");
  if (!pipe) return "";
  std::array<char, 4096> buffer{};
  std::size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) r.out.append(buffer.data(), n);
  int status = pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(err_path);
  std::stringstream text;
  text << err.rdbuf();
  r.err = text.str();
  return r.err;
}

inline Result ptlab(const std::string& args, const TempDir& dir) {
  Result r;
  run_shell("OMP_WAIT_POLICY=PASSIVE " + std::string(PTLAB_BINARY) + " " + args, dir, r);
  return r;
}

inline void expect_one_line_error(const Result& r, const std::string& needle) {
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

inline nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

inline at::Tensor prompt_of(const std::string& run_dir) {
  auto tensors = io::load_safetensors(run_dir + "/prompt.safetensors");
  return tensors.at("prompt");
}

inline int64_t series_length(const std::string& file, const std::string& path) {
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return -1;
  int64_t n = -1;
  if (H5Lexists(f, "/metrics", H5P_DEFAULT) > 0) {
    hid_t d = H5Dopen2(f, path.c_str(), H5P_DEFAULT);
    if (d >= 0) {
      hid_t s = H5Dget_space(d);
      hsize_t dims[1] = {0};
      H5Sget_simple_extent_dims(s, dims, nullptr);
      n = static_cast<int64_t>(dims[0]);
      H5Sclose(s);
      H5Dclose(d);
    }
  }
  H5Fclose(f);
  return n;
}

}  // namespace ptlab::launchers::testing
