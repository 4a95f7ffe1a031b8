// Tests `ptlab tokenize` (launchers/tokenize_command.cpp) by running the built ptlab binary.
#include "tests/text/text_test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ptlab::text {
namespace {

using testing::read_golden;
using testing::shared_path;
using testing::TempDir;

struct CommandResult {
  int code;
  std::string out;
  std::string err;
};

CommandResult run_ptlab(const TempDir& dir, const std::string& args, const std::string& input) {
  const std::string in = dir.write("input.txt", input), out = dir.path() + "/out.txt", err = dir.path() + "/err.txt";
  const std::string command = std::string(PTLAB_BINARY) + " " + args + " < " + in + " > " + out + " 2> " + err;
  const int status = std::system(command.c_str());
  auto slurp = [](const std::string& p) {
    std::ifstream f(p);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  };
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
}

#define REQUIRE_BINARY() \
  if (!std::filesystem::exists(PTLAB_BINARY)) GTEST_SKIP() << "ptlab is not built: " << PTLAB_BINARY

TEST(TokenizeCommand, EncodesAGoldenLine) {
  REQUIRE_BINARY();
  PTLAB_REQUIRE_SHARED("golden/tokenizers/bert-base-uncased.jsonl");
  const auto line = read_golden("bert-base-uncased").at(0);
  const std::string text = line["text"], text_b = line["pair_text_b"];
  TempDir dir;
  const std::string model = shared_path("models/tokenizers/bert-base-uncased");

  // Each run of ptlab costs ~1 s (LibTorch loads), so this test runs it twice.
  CommandResult r = run_ptlab(dir, "tokenize --no-special-tokens " + model, text + "\n" + text + "\n");
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream lines(r.out);
  int count = 0;
  for (std::string l; std::getline(lines, l); ++count) {
    auto j = nlohmann::json::parse(l);
    EXPECT_EQ(j["ids"], line["ids"]);
    EXPECT_EQ(j["tokens"], line["tokens"]);
    EXPECT_FALSE(j.contains("token_type_ids"));
  }
  EXPECT_EQ(count, 2);

  r = run_ptlab(dir, "tokenize " + model + " --pair", text + "\t" + text_b + "\n");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["tokens"].front(), "[CLS]");
  EXPECT_EQ(j["ids"], line["pair_ids"]);
  EXPECT_EQ(j["token_type_ids"], line["pair_token_type_ids"]);
}

TEST(TokenizeCommand, SentencePieceNextToLibTorch) {
  // ptlab links LibTorch (and so libprotobuf); libsentencepiece must still load (sentencepiece_library.h).
  REQUIRE_BINARY();
  PTLAB_REQUIRE_SHARED("models/stories260K/tokenizer.model");
  TempDir dir;
  CommandResult r = run_ptlab(dir, "tokenize " + shared_path("models/stories260K"), "Once upon a time\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["ids"], nlohmann::json::parse("[1, 403, 407, 261, 378]"));
}

TEST(TokenizeCommand, HelpAndErrors) {
  REQUIRE_BINARY();
  TempDir dir;
  CommandResult r = run_ptlab(dir, "tokenize --help", "");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("usage: ptlab tokenize DIR|FILE"), std::string::npos) << r.out;

  r = run_ptlab(dir, "tokenize a --pari", "");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("did you mean --pair"), std::string::npos) << r.err;

  if (!testing::shared_available("models/tokenizers/gpt2")) return;
  r = run_ptlab(dir, "tokenize " + shared_path("models/tokenizers/gpt2"), "fine\nbad \xFF byte\n");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("line 2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("byte offset 4"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ptlab::text
