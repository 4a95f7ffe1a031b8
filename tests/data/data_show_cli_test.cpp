// `ptlab data show`, run as a user runs it: the built binary, the repository's configs/ and ../shared.
#include "tests/data/data_test_support.h"

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

namespace ptlab::data {
namespace {

struct Result {
  int code = -1;
  std::string output;  // stdout and stderr
};

Result ptlab(const std::string& args) {
  const std::string command = "PTLAB_CONFIG_DIR='" + std::string(PTLAB_SOURCE_DIR) + "/configs' PTLAB_SHARED='" +
                              PTLAB_SHARED_DIR + "' '" + PTLAB_BINARY + "' " + args + " 2>&1";
  Result r;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe)) r.output += buffer.data();
  const int status = pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class DataShowCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(PTLAB_BINARY)) GTEST_SKIP() << "ptlab binary not built: " << PTLAB_BINARY;
  }
};

TEST_F(DataShowCli, PrintsExamplesAndStatistics) {
  PTLAB_REQUIRE_SHARED_DATA("data/sst2");
  const Result r = ptlab("data show task=sst2 n=2");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "task sst2 (classification): GLUE SST-2 binary sentiment");
  EXPECT_CONTAINS(r.output, "first 2 of 67349 examples of split train:");
  EXPECT_CONTAINS(r.output, "/data/sst2/train.tsv:3\n  label:  0 -> negative (id 0)\n  text_a: contains no wit , only labored gags");
  EXPECT_EQ(r.output.find("train.tsv:4"), std::string::npos);  // n=2
  EXPECT_CONTAINS(r.output, "train: 67349 rows\n  labels:\n    negative     29780   44.2%\n    positive     37569   55.8%\n");
  EXPECT_CONTAINS(r.output, "input length (words): mean 9.4  min 1  p50 7");
  EXPECT_CONTAINS(r.output, "test_unlabeled: 1821 rows (1821 unlabeled)");
  EXPECT_CONTAINS(r.output, "dev split: dev; test split: test");
}

TEST_F(DataShowCli, RendersWithSoftSlotsAndIds) {
  PTLAB_REQUIRE_SHARED_DATA("models/stories260K");
  PTLAB_REQUIRE_SHARED_DATA("data/sst2");
  const Result r = ptlab("data show task=sst2 n=1 model=stories260K '++task.template=\"{soft:4} {text_a} It was {mask}.\"'");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "rendered for training with model");
  EXPECT_CONTAINS(r.output, "  rendered (");
  EXPECT_CONTAINS(r.output, "<soft:4>hide new secretions from the parental units");
  EXPECT_CONTAINS(r.output, "<mask>");
  EXPECT_CONTAINS(r.output, "  ids: 1 0 0 0 0 ");  // <s>, then the 4 soft placeholders
  const Result raw = ptlab("data show task=sst2 n=1 --no-render");
  ASSERT_EQ(raw.code, 0) << raw.output;
  EXPECT_EQ(raw.output.find("rendered"), std::string::npos);
}

TEST_F(DataShowCli, SplitOverridesAndTokenizer) {
  PTLAB_REQUIRE_SHARED_DATA("data/trec");
  const Result r = ptlab("data show task=trec split=dev n=1 --no-render task.data.split_from.dev_fraction=0.5");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "first 1 of 2726 examples of split dev:");
  EXPECT_CONTAINS(r.output, "note: 2726 of 5452 rows held out from split train (split_from, seed 0)");
  const Result f = ptlab("data show +task=sst5 n=0 task.data.few_shot.k=3 task.data.limit=200");
  ASSERT_EQ(f.code, 0) << f.output;
  EXPECT_CONTAINS(f.output, "train: 15 rows");
  EXPECT_CONTAINS(f.output, "dev: 200 rows");
  EXPECT_EQ(f.output.find("examples of split"), std::string::npos);
  PTLAB_REQUIRE_SHARED_DATA("models/tokenizers/gpt2");
  const Result t = ptlab("data show task=cb n=0 --tokenizer " + testing::shared_path("models/tokenizers/gpt2"));
  ASSERT_EQ(t.code, 0) << t.output;
  EXPECT_CONTAINS(t.output, "input length (tokens)");
}

TEST_F(DataShowCli, ErrorsAreOneLineAndExitTwo) {
  Result r = ptlab("data show task=sst22");
  EXPECT_EQ(r.code, 2);
  EXPECT_CONTAINS(r.output, "no task 'sst22' (did you mean sst2?)");
  r = ptlab("data show");
  EXPECT_EQ(r.code, 2);
  EXPECT_CONTAINS(r.output, "task=NAME is required; tasks in");
  EXPECT_CONTAINS(r.output, "brown_pos");
  r = ptlab("data show task=trec split=devv");
  EXPECT_EQ(r.code, 2);
  EXPECT_CONTAINS(r.output, "task trec has no split 'devv' (did you mean dev?)");
  r = ptlab("data show task=sst2 +task.data.splits.train.encodng=latin-1");
  EXPECT_EQ(r.code, 2);
  EXPECT_CONTAINS(r.output, "unknown key 'task.data.splits.train.encodng'");
  r = ptlab("data show task=sst2 task.data.splits.train.path=/no/such.tsv");
  EXPECT_EQ(r.code, 2);
  EXPECT_CONTAINS(r.output, "data file '/no/such.tsv' not found for task.data.splits.train");
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;  // one line
  r = ptlab("data show --help");
  EXPECT_EQ(r.code, 0);
  EXPECT_CONTAINS(r.output, "usage: ptlab data show task=NAME");
}

}  // namespace
}  // namespace ptlab::data
