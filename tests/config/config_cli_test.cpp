// The `ptlab config show` and `ptlab sweep --dry-run` commands, run as a user runs them (the built
// binary, against the fixture config tree).
#include "tests/config/config_tree.h"

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <string>

namespace ptlab::config {
namespace {
using testing::fixture_dir;

struct Result {
  int code = -1;
  std::string output;  // stdout and stderr
};

// Runs `ptlab <args>` (args already shell-quoted) with the fixture configs as $PTLAB_CONFIG_DIR.
Result ptlab(const std::string& args) {
  std::string command = "PTLAB_CONFIG_DIR='" + fixture_dir() + "' '" + PTLAB_BINARY + "' " + args + " 2>&1";
  Result r;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe)) r.output += buffer.data();
  int status = pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class ConfigCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(PTLAB_BINARY)) GTEST_SKIP() << "ptlab binary not built: " << PTLAB_BINARY;
  }
};

TEST_F(ConfigCli, ShowPrintsTheResolvedConfig) {
  Result r = ptlab("config show method=prefix_tuning trainer.lr=0.5");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "method:\n  name: prefix_tuning\n");
  EXPECT_CONTAINS(r.output, "  lr: 0.5\n");
  EXPECT_CONTAINS(r.output, "run_name: prefix_tuning-tiny\n");
  EXPECT_CONTAINS(r.output, "steps: 1000\n");  // ints are written canonically
}

TEST_F(ConfigCli, ShowUnresolvedAndConfigDirFlag) {
  Result r = ptlab("config show --unresolved model=local");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "run_name: ${method.name}-${model.name}\n");
  EXPECT_CONTAINS(r.output, "path: ???\n");
  Result d = ptlab("config show --config-dir /nonexistent/dir");
  EXPECT_EQ(d.code, 2);
  EXPECT_CONTAINS(d.output, "config directory '/nonexistent/dir' does not exist");
}

TEST_F(ConfigCli, ErrorsAreOneLineAndExitTwo) {
  Result r = ptlab("config show method=prefix_tunin");
  EXPECT_EQ(r.code, 2);
  EXPECT_CONTAINS(r.output, "did you mean method=prefix_tuning?");
  Result m = ptlab("config show model=local");
  EXPECT_EQ(m.code, 2);
  EXPECT_CONTAINS(m.output, "missing mandatory value 'model.path'");
  Result u = ptlab("config shw");
  EXPECT_EQ(u.code, 2);
  EXPECT_CONTAINS(u.output, "unknown subcommand 'shw' (did you mean show?)");
  Result f = ptlab("config show --unresolve");
  EXPECT_EQ(f.code, 2);
  EXPECT_CONTAINS(f.output, "unknown option '--unresolve' (did you mean --unresolved?)");
}

TEST_F(ConfigCli, HelpForEveryCommand) {
  for (const char* command : {"config --help", "sweep --help", "config -h"}) {
    Result r = ptlab(command);
    EXPECT_EQ(r.code, 0) << command;
    EXPECT_CONTAINS(r.output, "usage: ptlab");
  }
}

TEST_F(ConfigCli, SweepDryRunListsAndValidatesTrials) {
  Result r = ptlab("sweep --dry-run -m seed=1,2 'trainer.steps=range(0,3)'");
  ASSERT_EQ(r.code, 0) << r.output;
  // Each trial: its number, its overrides and its stable id (a hash of the overrides, 12 hex digits).
  EXPECT_TRUE(std::regex_search(r.output, std::regex("0: seed=1 trainer.steps=0  # [0-9a-f]{12}\n1: seed=1 "
                                                     "trainer.steps=1  # [0-9a-f]{12}\n2: seed=1 trainer.steps=2  # "
                                                     "[0-9a-f]{12}\n3: seed=2 trainer.steps=0  #")))
      << r.output;
  EXPECT_CONTAINS(r.output, "6 trials, all valid");
  Result g = ptlab("sweep --dry-run -m 'model=glob(*)'");
  EXPECT_EQ(g.code, 2) << g.output;
  EXPECT_CONTAINS(g.output, "0: model=local  # ");
  EXPECT_CONTAINS(g.output, "1: model=small  # ");
  EXPECT_CONTAINS(g.output, "trial 0 is invalid: missing mandatory value 'model.path'");
  EXPECT_CONTAINS(g.output, "1 of 3 trials are invalid");
}

TEST_F(ConfigCli, RunningASweepWithAnInvalidTrialIsAnErrorNamingIt) {
  Result r = ptlab("sweep -m 'model=glob(*)' --dir " + (std::filesystem::temp_directory_path() / "ptlab_cli_invalid_sweep").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_CONTAINS(r.output, "1 of 3 trials are invalid");
  EXPECT_CONTAINS(r.output, "missing mandatory value 'model.path'");
}

}  // namespace
}  // namespace ptlab::config
