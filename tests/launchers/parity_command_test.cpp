// `ptlab parity GOLDEN_DIR`, run as a user does: PEFT golden runs of ../shared replayed with their base model
// found under paths.shared or given with --model; exit 0 within tolerance, 1 beyond it, 2 (one line) for
// bad input.
#include "tests/launchers/train_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

namespace ptlab::launchers {
namespace {

using testing::expect_one_line_error;
using testing::ptlab;
using testing::Result;
using testing::shared;
using testing::TempDir;
namespace fs = std::filesystem;

bool have_goldens() {
  return fs::exists(shared("golden/peft/gpt2/prompt_random/result.json")) &&
         fs::exists(shared("golden/peft/gpt2/prefix_proj/result.json")) && fs::exists(shared("golden/models/gpt2"));
}

#define REQUIRE_GOLDENS() \
  if (!have_goldens()) GTEST_SKIP() << "../shared not found (" << PTLAB_SHARED_DIR << "): needs golden/peft/gpt2"

std::string golden(const std::string& run_method) { return shared("golden/peft/" + run_method); }
std::string shared_override() { return "paths.shared=" + std::string(PTLAB_SHARED_DIR); }

// The rows of the loss table: "   0  6.542538166     6.542538166     0.000e+00   ok".
int loss_rows(const std::string& out) {
  static const std::regex row(R"(^ +\d+  \d+\.\d{9} +\d+\.\d{9} +\d\.\d{3}e[-+]\d+ +(ok|FAIL)$)");
  int n = 0;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) n += std::regex_match(line, row);
  return n;
}

TEST(ParityCommand, ListedAndAnswersHelp) {
  TempDir dir;
  Result r = ptlab("--help", dir);
  EXPECT_NE(r.out.find("  parity "), std::string::npos) << r.out;
  r = ptlab("parity --help", dir);
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("usage: ptlab parity GOLDEN_DIR [--model DIR]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("exit status: 0 within tolerance, 1 beyond it, 2 bad input"), std::string::npos) << r.out;
}

// The model comes from result.json's base_model under paths.shared.
TEST(ParityCommand, PromptTuningGoldenPasses) {
  REQUIRE_GOLDENS();
  TempDir dir;
  Result r = ptlab("parity " + golden("gpt2/prompt_random") + " " + shared_override(), dir);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("PEFT prompt_random (causal) replayed by prompt_tuning"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("model   " + shared("golden/models/gpt2")), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("step  ptlab loss      PEFT loss       rel error"), std::string::npos) << r.out;
  EXPECT_EQ(loss_rows(r.out), 5) << r.out;
  EXPECT_NE(r.out.find("   0  6.542538"), std::string::npos) << r.out;  // PEFT's step-0 loss, result.json
  EXPECT_NE(r.out.find("step-0 gradients"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("final parameters"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  prompt_encoder.default.embedding.weight  "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nPASS: "), std::string::npos) << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;
}

// CPT's goldens have their own layout (golden/cpt/<model>/<variant>); the replay adds the adapter round trip.
TEST(ParityCommand, CptGoldenPasses) {
  REQUIRE_GOLDENS();
  const std::string dir_path = shared("golden/cpt/gpt2/decay");
  if (!fs::exists(dir_path + "/result.json")) GTEST_SKIP() << "../shared lacks golden/cpt/gpt2/decay";
  TempDir dir;
  Result r = ptlab("parity " + dir_path + " " + shared_override(), dir);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("PEFT cpt (cpt) replayed by cpt"), std::string::npos) << r.out;
  EXPECT_EQ(loss_rows(r.out), 5) << r.out;
  EXPECT_NE(r.out.find("   0  5.450414"), std::string::npos) << r.out;  // PEFT's step-0 loss 5.450415134
  EXPECT_NE(r.out.find("ok    ptlab's exported adapter reloaded"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS"), std::string::npos) << r.out;
}

TEST(ParityCommand, PrefixGoldenPassesWithModel) {
  REQUIRE_GOLDENS();
  TempDir dir;
  Result r = ptlab("parity " + golden("gpt2/prefix_proj") + " --model " + shared("golden/models/gpt2"), dir);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("PEFT prefix_proj (causal) replayed by prefix_tuning"), std::string::npos) << r.out;
  EXPECT_EQ(loss_rows(r.out), 5) << r.out;
  for (const char* tensor : {"prompt_encoder.default.embedding.weight", "prompt_encoder.default.transform.2.bias",
                             "adapter_final/adapter_model.safetensors:prompt_embeddings"}) {
    EXPECT_NE(r.out.find(std::string("  ") + tensor + "  "), std::string::npos) << tensor << "\n" << r.out;
  }
  EXPECT_NE(r.out.find("ok    the key/value width 64 (4 heads) is PEFT's token_dim 64"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nPASS: "), std::string::npos) << r.out;
}

TEST(ParityCommand, FewerStepsSkipTheFinalState) {
  REQUIRE_GOLDENS();
  TempDir dir;
  Result r = ptlab("parity " + golden("gpt2/prompt_random") + " --steps 2 " + shared_override(), dir);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(loss_rows(r.out), 2) << r.out;
  EXPECT_NE(r.out.find("final parameters: not compared (2 of the golden's 5 steps run)"), std::string::npos) << r.out;
  expect_one_line_error(ptlab("parity " + golden("gpt2/prompt_random") + " --steps 6 " + shared_override(), dir),
                        "steps 6 asked, but the golden run " + golden("gpt2/prompt_random") + " has 5; give 1..5");
}

// A golden PEFT disagrees with (its step-3 loss changed): exit 1 and the FAIL line names the step.
TEST(ParityCommand, BeyondToleranceExitsOne) {
  REQUIRE_GOLDENS();
  TempDir dir;
  const std::string copy = dir.sub("gpt2_prompt_random");
  fs::copy(golden("gpt2/prompt_random"), copy, fs::copy_options::recursive);
  nlohmann::json result = testing::read_json(copy + "/result.json");
  result["losses"][3] = result["losses"][3].get<double>() * 1.0001;
  std::ofstream(copy + "/result.json") << result.dump(1);
  Result r = ptlab("parity " + copy + " --model " + shared("golden/models/gpt2"), dir);
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("\nFAIL: 1 beyond tolerance: step 3 loss\n"), std::string::npos) << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST(ParityCommand, ModelOfAnotherGoldenIsAnError) {
  REQUIRE_GOLDENS();
  if (!fs::exists(shared("golden/models/llama/config.json"))) GTEST_SKIP() << "../shared lacks golden/models/llama";
  TempDir dir;
  Result r = ptlab("parity " + golden("gpt2/prompt_random") + " --model " + shared("golden/models/llama"), dir);
  expect_one_line_error(r, shared("golden/models/llama") + " is not the base model of " + golden("gpt2/prompt_random") +
                               ": as PEFT's causal model it has 158016 parameters (llama, 2 layers, hidden 64), but "
                               "result.json's base model 'golden/models/gpt2' had 149248");
  EXPECT_TRUE(r.out.empty()) << r.out;
  expect_one_line_error(ptlab("parity " + golden("gpt2/prompt_random") + " --model " + shared("golden/models/gpt2") +
                                  " " + shared_override(),
                              dir),
                        "ptlab parity: the config (" + shared_override() +
                            ") only chooses the default model; with --model it would be ignored");
  r = ptlab("parity " + golden("gpt2/prompt_random") + " --model " + dir.str(), dir);
  expect_one_line_error(r, dir.str() +
                               " is not a model directory (no config.json); give the Hugging Face model "
                               "directory of the golden's base model (result.json base_model: "
                               "'golden/models/gpt2')");
}

TEST(ParityCommand, MissingDirectoryIsAnError) {
  TempDir dir;
  expect_one_line_error(ptlab("parity " + dir.sub("nowhere"), dir),
                        "golden run directory '" + dir.sub("nowhere") + "' not found");
  expect_one_line_error(ptlab("parity " + dir.str(), dir), dir.str() +
                                                               " has no result.json; a PEFT golden run "
                                                               "directory holds result.json, batch.safetensors");
  expect_one_line_error(ptlab("parity", dir), "ptlab parity: expected one GOLDEN_DIR");
}

TEST(ParityCommand, MalformedResultJsonIsAnError) {
  TempDir dir;
  dir.write("result.json", "{\"method\": \"prompt_random\",");
  expect_one_line_error(ptlab("parity " + dir.str(), dir), dir.str() + "/result.json: not valid JSON (parse error");
  dir.write("result.json", R"({"method": "prompt_random", "base_model": "golden/models/gpt2", "flavour": "causal",
                               "num_virtual_tokens": 8, "all_params": 10, "trainable_params": 2, "losses": "high"})");
  expect_one_line_error(ptlab("parity " + dir.str(), dir),
                        dir.str() + "/result.json: 'losses' is \"high\" but must be a non-empty list of numbers");
  dir.write("result.json", R"({"method": "prompt_random"})");
  expect_one_line_error(ptlab("parity " + dir.str(), dir), dir.str() + "/result.json: key 'base_model' is missing");
}

TEST(ParityCommand, MethodWithoutImplementationIsAnError) {
  REQUIRE_GOLDENS();
  // A golden whose result.json names a method no ptlab method replays (a copy of gpt2/prompt_random's).
  TempDir dir;
  std::ifstream in(golden("gpt2/prompt_random/result.json"));
  nlohmann::json result = nlohmann::json::parse(in);
  result["method"] = "no_such_method";
  dir.write("result.json", result.dump());
  Result r = ptlab("parity " + dir.str() + " " + shared_override(), dir);
  expect_one_line_error(r, "method 'no_such_method' of " + dir.str() +
                               " has no ptlab implementation yet (known: prompt_random, prompt_text -> prompt_tuning; "
                               "prefix, prefix_proj, prefix_kvfix, prefix_proj_kvfix -> prefix_tuning");
  EXPECT_NE(r.err.find("ptuning_mlp, ptuning_lstm -> p_tuning"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cpt -> cpt"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("multitask -> mpt"), std::string::npos) << r.err;
}

TEST(ParityCommand, PTuningGoldenPasses) {
  REQUIRE_GOLDENS();
  if (!fs::exists(golden("gpt2/ptuning_lstm/result.json")))
    GTEST_SKIP() << "../shared lacks golden/peft/gpt2/ptuning_lstm";
  TempDir dir;
  Result r = ptlab("parity " + golden("gpt2/ptuning_lstm") + " " + shared_override(), dir);
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("p_tuning"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace ptlab::launchers
