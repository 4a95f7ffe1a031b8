// Throughput of the tokenizers on the Brown corpus (57,340 sentences). Disabled by default (it takes a few
// seconds); run with: test_text --gtest_also_run_disabled_tests --gtest_filter='TokenizerSpeed.*'
#include "framework/text/tokenizer.h"

#include "tests/text/text_test_support.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

namespace ptlab::text {
namespace {

void measure(const std::string& model) {
  const std::string corpus = testing::shared_path("corpus/brown/brown.txt");
  if (!testing::shared_available("corpus/brown/brown.txt") || !testing::shared_available(model))
    GTEST_SKIP() << "../shared not found: " << corpus;
  std::vector<std::string> lines;
  std::size_t bytes = 0;
  {
    std::ifstream in(corpus);
    for (std::string line; std::getline(in, line);) {
      bytes += line.size();
      lines.push_back(std::move(line));
    }
  }
  auto tok = load_tokenizer(testing::shared_path(model));
  for (int pass = 0; pass < 2; ++pass) {  // pass 0: cold BPE cache; pass 1: warm
    const auto t0 = std::chrono::steady_clock::now();
    std::size_t tokens = 0;
    for (const auto& line : lines) tokens += tok->encode(line, false).ids.size();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%-40s pass %d: %zu lines, %.1f MB, %zu tokens in %.3f s = %.0f tokens/s (%.1f MB/s)\n", model.c_str(),
                pass, lines.size(), bytes / 1e6, tokens, s, tokens / s, bytes / 1e6 / s);
    EXPECT_GT(tokens, lines.size());
  }
}

TEST(TokenizerSpeed, DISABLED_Gpt2Brown) { measure("models/tokenizers/gpt2"); }
TEST(TokenizerSpeed, DISABLED_BertBrown) { measure("models/tokenizers/bert-base-uncased"); }
TEST(TokenizerSpeed, DISABLED_PythiaBrown) { measure("models/tokenizers/gpt-neox-pythia"); }
TEST(TokenizerSpeed, DISABLED_Llama2Brown) {
  PTLAB_REQUIRE_SENTENCEPIECE();
  measure("models/tokenizers/llama2-32k");
}

}  // namespace
}  // namespace ptlab::text
