// The model-facing CLI commands, run as a user would: ptlab model info|forward, ptlab generate,
// ptlab bench model. Each answers --help; each error is one line on stderr with exit code 2.
#include "framework/io/safetensors.h"
#include "tests/models/golden_fixture.h"
#include "tests/models/temp_dir.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>

namespace ptlab::launchers {
namespace {

using models::testing::have_golden;
using models::testing::max_abs_diff;
using models::testing::model_dir;
using models::testing::TempDir;

struct Result {
  int code = -1;
  std::string out, err;
};

// Runs `ptlab ARGS` through the shell; stderr goes to a file so both streams can be checked.
Result ptlab(const std::string& args, const TempDir& dir) {
  const std::string err_path = dir.sub("stderr.txt");
  const std::string command = std::string(PTLAB_BINARY) + " " + args + " 2>" + err_path;
  Result r;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buffer{};
  std::size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) r.out.append(buffer.data(), n);
  int status = pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(err_path);
  std::stringstream text;
  text << err.rdbuf();
  r.err = text.str();
  return r;
}

// An error is exactly one line starting with "error:".
void expect_one_line_error(const Result& r, const std::string& needle) {
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

TEST(ModelCommands, EveryCommandAnswersHelp) {
  TempDir dir;
  for (const char* args : {"model --help", "model info --help", "model forward -h", "generate --help",
                           "bench --help", "bench model --help"}) {
    Result r = ptlab(args, dir);
    EXPECT_EQ(r.code, 0) << args;
    EXPECT_NE(r.out.find("usage: ptlab"), std::string::npos) << args << ": " << r.out;
  }
}

TEST(ModelCommands, InfoPrintsTheShapeAndParameterCounts) {
  if (!have_golden("stories260K")) GTEST_SKIP() << "../shared not found";
  TempDir dir;
  Result r = ptlab("model info " + model_dir("stories260K"), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("family           llama (model_type llama)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("layers           5"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("kv heads         4"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("parameters       260,032 with embeddings, 227,264 without"), std::string::npos) << r.out;
  r = ptlab("model info --json " + model_dir("gpt2"), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["family"], "gpt2");
  EXPECT_EQ(j["parameters"], 149248);
  EXPECT_EQ(j["vocab_size"], 512);
  expect_one_line_error(ptlab("model info " + dir.sub("nowhere"), dir), "does not exist");
  expect_one_line_error(ptlab("model info " + model_dir("gpt2") + " --device tpu", dir),
                        "unknown device 'tpu'; expected cpu, cuda or cuda:N");
  expect_one_line_error(ptlab("model infp x", dir), "unknown subcommand 'infp' (did you mean info?)");
}

TEST(ModelCommands, ForwardWritesTheGoldenLogitsAndHiddenStates) {
  if (!have_golden("llama")) GTEST_SKIP() << "../shared not found";
  TempDir dir;
  auto golden = io::load_safetensors(models::testing::golden_dir("llama") + "/golden.safetensors");
  io::save_safetensors(dir.sub("in.safetensors"),
                       {{"input_ids", golden.at("input_ids")}, {"attention_mask", golden.at("attention_mask")}});
  Result r = ptlab("model forward " + model_dir("llama") + " --input " + dir.sub("in.safetensors") + " --output " +
                    dir.sub("out.safetensors") + " --hidden-states",
                dir);
  ASSERT_EQ(r.code, 0) << r.err;
  auto out = io::load_safetensors(dir.sub("out.safetensors"));
  EXPECT_LE(max_abs_diff(out.at("logits"), golden.at("logits")), 1e-4);
  for (const char* name : {"hidden_states.0", "hidden_states.1", "hidden_states.2"})
    EXPECT_LE(max_abs_diff(out.at(name), golden.at(name)), 1e-4) << name;

  io::save_safetensors(dir.sub("bad.safetensors"), {{"input_ids", golden.at("input_ids")}, {"labels", golden.at("input_ids")}});
  expect_one_line_error(ptlab("model forward " + model_dir("llama") + " --input " + dir.sub("bad.safetensors") +
                                  " --output " + dir.sub("o.safetensors"),
                              dir),
                        "unexpected tensor 'labels'");
  expect_one_line_error(ptlab("model forward " + model_dir("llama") + " --output x.safetensors", dir),
                        "--input in.safetensors and --output out.safetensors are required");
}

TEST(ModelCommands, GenerateReproducesTheGoldenGreedyText) {
  if (!have_golden("stories260K")) GTEST_SKIP() << "../shared not found";
  TempDir dir;
  std::ifstream meta_file(models::testing::golden_dir("stories260K") + "/golden_meta.json");
  auto meta = nlohmann::json::parse(meta_file);
  Result r = ptlab("generate " + model_dir("stories260K") + " --prompt 'Once upon a time' --max-new-tokens 64 --greedy",
                dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, meta["greedy_text"].get<std::string>() + "\n");

  r = ptlab("generate " + model_dir("stories260K") + " --prompt-ids 1,403,407,261,378 --max-new-tokens 3 --json", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["ids"], (std::vector<int64_t>{1, 403, 407, 261, 378, 432, 383, 286}));  // golden continuation
  EXPECT_EQ(j["new_ids"].size(), 3u);

  // Sampling is reproducible for a seed.
  const std::string sample = "generate " + model_dir("stories260K") +
                             " --prompt 'Once upon a time' --max-new-tokens 12 --temperature 0.9 --top-k 20 --seed 5";
  Result a = ptlab(sample, dir), b = ptlab(sample, dir);
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  expect_one_line_error(ptlab("generate " + model_dir("stories260K") + " --prompt x --top-p 2", dir),
                        "top_p must be in (0, 1]");
  expect_one_line_error(ptlab("generate " + model_dir("stories260K") + " --prompt x --max-new-tokns 3", dir),
                        "unknown option '--max-new-tokns' (did you mean --max-new-tokens?)");
  expect_one_line_error(ptlab("generate " + model_dir("stories260K"), dir), "give exactly one of --prompt");
}

TEST(ModelCommands, BenchMeasuresARandomModelFromAConfigFile) {
  TempDir dir;
  dir.write("tiny.json", R"({"model_type": "gpt2", "n_embd": 32, "n_layer": 2, "n_head": 2, "n_positions": 64,
                              "vocab_size": 100})");
  Result r = ptlab("bench model --config " + dir.sub("tiny.json") + " --batch 2 --seq 16 --steps 2 --warmup 1 "
                "--threads 1 --json",
                dir);
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["family"], "gpt2");
  EXPECT_EQ(j["threads"], 1);
  EXPECT_GT(j["forward_tokens_per_s"].get<double>(), 0);
  EXPECT_GT(j["forward_backward_tokens_per_s"].get<double>(), 0);
  EXPECT_GT(j["matmul_gflops"].get<double>(), 0);
  EXPECT_GT(j["peak_rss_mib"].get<double>(), 0);
  r = ptlab("bench model --config " + dir.sub("tiny.json") + " --batch 1 --seq 8 --steps 1 --warmup 0", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("matmul     "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("fwd+bwd    "), std::string::npos) << r.out;
  expect_one_line_error(ptlab("bench model --config " + dir.sub("tiny.json") + " --seq 65 --steps 1 --warmup 0", dir),
                        "exceed the learned position table (n_positions = 64)");
  expect_one_line_error(ptlab("bench model --config " + dir.sub("missing.json"), dir), "cannot read config file");
  expect_one_line_error(ptlab("bench modle x", dir), "unknown subcommand 'modle'");
}

}  // namespace
}  // namespace ptlab::launchers
