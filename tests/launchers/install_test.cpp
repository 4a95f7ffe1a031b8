// `cmake --install` and running ptlab from an unrelated directory: the installed binary finds its built-in
// configs next to itself, the working directory's own configs/ overlay them (a task that exists only there),
// and outputs go under the working directory.
#include "tests/launchers/train_support.h"

namespace ptlab::launchers::testing {
namespace {

// A two-class task over a small TSV in the experiment folder: nothing of it is in ptlab's configs/.
constexpr const char* kTaskYaml = R"(# my_reviews: a user's own task, defined only in their experiment folder
type: classification
max_length: 64
template: "{text_a} It was {mask}."
verbalizer:
  mode: auto
  label_words: {bad: [terrible], good: [great]}
metric: [accuracy]
data:
  splits:
    train: {path: "reviews.tsv"}
    dev: {path: "reviews.tsv"}
  fields: {text_a: sentence, label: label}
  label_map: {0: bad, 1: good}
  dev_split: dev
  on_bad_row: error
)";

class Installed : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    prefix_ = new TempDir_("prefix");
    const std::string command = std::string(PTLAB_CMAKE_COMMAND) + " --install " + PTLAB_BUILD_DIR + " --prefix " +
                                prefix_->path + " >" + prefix_->path + "/install.log 2>&1";
    install_code_ = std::system(command.c_str());
  }
  static void TearDownTestSuite() {
    fs::remove_all(prefix_->path);
    delete prefix_;
  }
  struct TempDir_ {
    explicit TempDir_(const std::string& name)
        : path((fs::temp_directory_path() / ("ptlab_install_" + std::to_string(::getpid()) + "_" + name)).string()) {
      fs::remove_all(path);
      fs::create_directories(path);
    }
    std::string path;
  };
  static std::string binary() { return prefix_->path + "/bin/ptlab"; }
  // Runs the installed ptlab in `cwd` with no config or shared-folder variables set.
  static Result run_in(const std::string& cwd, const std::string& args, const TempDir& dir) {
    Result r;
    run_shell("cd " + cwd + " && env -u PTLAB_CONFIG_DIR -u PTLAB_SHARED OMP_WAIT_POLICY=PASSIVE " + binary() + " " +
                  args,
              dir, r);
    return r;
  }
  static TempDir_* prefix_;
  static int install_code_;
};
Installed::TempDir_* Installed::prefix_ = nullptr;
int Installed::install_code_ = -1;

TEST_F(Installed, PutsTheBinaryAndItsConfigsUnderThePrefix) {
  ASSERT_EQ(install_code_, 0) << "cmake --install failed; see " << prefix_->path << "/install.log";
  EXPECT_TRUE(fs::is_regular_file(binary()));
  EXPECT_TRUE(fs::is_regular_file(prefix_->path + "/share/ptlab/configs/config.yaml"));
  EXPECT_TRUE(fs::is_regular_file(prefix_->path + "/share/ptlab/configs/task/sst2.yaml"));
}

TEST_F(Installed, VersionNamesLibTorchAndTheInstalledConfigs) {
  ASSERT_EQ(install_code_, 0);
  TempDir dir;
  Result r = run_in(dir.str(), "--version", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("ptlab 0."), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("LibTorch 2."), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CUDA:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("mpi: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("threads: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(prefix_->path + "/share/ptlab/configs (built in)"), std::string::npos) << r.out;
}

TEST_F(Installed, RunsFromAnUnrelatedDirectoryWithTheUsersOwnTask) {
  ASSERT_EQ(install_code_, 0);
  REQUIRE_SHARED();
  TempDir dir;
  const std::string work = dir.sub("experiment", true);
  fs::create_directories(work + "/configs/task");
  std::ofstream(work + "/configs/task/my_reviews.yaml") << kTaskYaml;
  {
    std::ofstream tsv(work + "/reviews.tsv");
    tsv << "sentence\tlabel\n";
    for (int i = 0; i < 8; ++i) tsv << (i % 2 ? "a lovely , moving film\t1\n" : "a dull , tiresome mess\t0\n");
  }
  // config show composes the built-in primary config with the user's task.
  Result show = run_in(work, "config show task=my_reviews", dir);
  ASSERT_EQ(show.code, 0) << show.err;
  EXPECT_NE(show.out.find("reviews.tsv"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("stories260K"), std::string::npos) << show.out;  // the built-in model default
  // Built-in groups stay visible next to the user's option.
  Result unknown = run_in(work, "config show task=my_reviewz", dir);
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.err.find("my_reviews"), std::string::npos) << unknown.err;
  EXPECT_NE(unknown.err.find("sst2"), std::string::npos) << unknown.err;

  // Two training steps; the run lands under the working directory's outputs/.
  Result train = run_in(work,
                        fmt_args({"train task=my_reviews method=prompt_tuning method.length=2 model=stories260K",
                                  "paths.shared=" + std::string(PTLAB_SHARED_DIR), "trainer.max_steps=2",
                                  "trainer.batch_size=2", "trainer.eval_every=0", "runtime.threads=1"}),
                        dir);
  ASSERT_EQ(train.code, 0) << train.err;
  const std::string run = work + "/outputs/my_reviews/prompt_tuning/stories260K/seed0";
  EXPECT_TRUE(fs::is_regular_file(run + "/summary.json")) << train.out;
  EXPECT_EQ(read_json(run + "/summary.json")["steps"], 2);
}

}  // namespace
}  // namespace ptlab::launchers::testing
