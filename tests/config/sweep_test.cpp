#include "framework/config/sweep.h"

#include "framework/config/compose.h"
#include "tests/config/config_tree.h"

#include <gtest/gtest.h>

namespace ptlab::config {
namespace {
using testing::ConfigTree;
using testing::error_of;
using testing::fixture_dir;
using Trials = std::vector<std::vector<std::string>>;

Trials expand(const std::vector<std::string>& overrides) {
  return expand_multirun(ComposeOptions{fixture_dir()}, overrides);
}

TEST(ConfigSweep, CartesianProductInHydraOrder) {
  Trials t = expand({"seed=1,2", "trainer.steps=range(0,3)"});
  EXPECT_EQ(t, (Trials{{"seed=1", "trainer.steps=0"},
                       {"seed=1", "trainer.steps=1"},
                       {"seed=1", "trainer.steps=2"},
                       {"seed=2", "trainer.steps=0"},
                       {"seed=2", "trainer.steps=1"},
                       {"seed=2", "trainer.steps=2"}}));
  // Plain overrides ride along in every trial.
  EXPECT_EQ(expand({"trainer.lr=0.1", "seed=1,2"}),
            (Trials{{"trainer.lr=0.1", "seed=1"}, {"trainer.lr=0.1", "seed=2"}}));
  EXPECT_EQ(expand({"trainer.lr=0.1", "~trainer.schedule"}), (Trials{{"trainer.lr=0.1", "~trainer.schedule"}}));
  EXPECT_EQ(expand({}), (Trials{{}}));
}

TEST(ConfigSweep, RangesIncludingFloatsAndNegativeSteps) {
  EXPECT_EQ(expand({"x=range(0,1,0.25)"}), (Trials{{"x=0.0"}, {"x=0.25"}, {"x=0.5"}, {"x=0.75"}}));
  EXPECT_EQ(expand({"x=range(5,0,-2)"}), (Trials{{"x=5"}, {"x=3"}, {"x=1"}}));
  EXPECT_EQ(expand({"x=range(3)"}), (Trials{{"x=0"}, {"x=1"}, {"x=2"}}));
  EXPECT_EQ(expand({"x=range(0,0.35,0.1)"}), (Trials{{"x=0.0"}, {"x=0.1"}, {"x=0.2"}, {"x=0.3"}}));
  EXPECT_CONTAINS(error_of([] { expand({"x=range(3,0)"}); }), "range() gives no values");
  EXPECT_CONTAINS(error_of([] { expand({"x=range(0,1000000)"}); }), "more than 100000");
  EXPECT_CONTAINS(error_of([] { expand({"x=range(0,1000)", "y=range(0,1000)"}); }), "more than 100000 trials");
}

TEST(ConfigSweep, ChoicesRespectQuotesAndBrackets) {
  EXPECT_EQ(expand({"a=[1,2]"}), (Trials{{"a=[1,2]"}}));
  EXPECT_EQ(expand({"a='x,y',z"}), (Trials{{"a='x,y'"}, {"a=z"}}));
  EXPECT_EQ(expand({"+a=choice(1, [2,3])"}), (Trials{{"+a=1"}, {"+a=[2,3]"}}));
  EXPECT_EQ(expand({"method=prompt_tuning,prefix_tuning"}),
            (Trials{{"method=prompt_tuning"}, {"method=prefix_tuning"}}));
  // Expansion does not validate values; a trial with a bad option fails when it is composed.
  EXPECT_EQ(expand({"model=bogus,tiny"}), (Trials{{"model=bogus"}, {"model=tiny"}}));
  EXPECT_CONTAINS(error_of([] { compose(ComposeOptions{fixture_dir()}, {"model=bogus"}); }), "unknown option 'bogus'");
}

TEST(ConfigSweep, GlobOverGroupOptions) {
  EXPECT_EQ(expand({"model=glob(*)"}), (Trials{{"model=local"}, {"model=small"}, {"model=tiny"}}));
  EXPECT_EQ(expand({"model=glob(*, exclude=local)"}), (Trials{{"model=small"}, {"model=tiny"}}));
  EXPECT_EQ(expand({"method=glob([p*], exclude=[prompt*])"}),
            (Trials{{"method=p_tuning_v2"}, {"method=prefix_tuning"}}));
  EXPECT_CONTAINS(error_of([] { expand({"trainer.lr=glob(*)"}); }), "'trainer.lr' is no config group");
  EXPECT_CONTAINS(error_of([] { expand({"model=glob(x*)"}); }), "glob() matches no option of config group 'model'");
}

TEST(ConfigSweep, SweepFileParamsJoinTheProduct) {
  Trials t = expand({"sweep=grid"});
  EXPECT_EQ(t, (Trials{{"method.prompt_len=5", "seed=1", "sweep=grid"},
                       {"method.prompt_len=5", "seed=2", "sweep=grid"},
                       {"method.prompt_len=10", "seed=1", "sweep=grid"},
                       {"method.prompt_len=10", "seed=2", "sweep=grid"}}));
  // The command line wins for the same key; the key keeps the file's position.
  EXPECT_EQ(expand({"sweep=grid", "seed=7", "model=small,tiny"}),
            (Trials{{"method.prompt_len=5", "seed=7", "sweep=grid", "model=small"},
                    {"method.prompt_len=5", "seed=7", "sweep=grid", "model=tiny"},
                    {"method.prompt_len=10", "seed=7", "sweep=grid", "model=small"},
                    {"method.prompt_len=10", "seed=7", "sweep=grid", "model=tiny"}}));
  EXPECT_EQ(expand({"sweep=models"}), (Trials{{"model=small", "sweep=models"}, {"model=tiny", "sweep=models"}}));
  // Every trial is a plain override list that composes.
  for (const auto& trial : t) {
    Composed c = compose(ComposeOptions{fixture_dir()}, trial);
    EXPECT_TRUE(c.root["method"]["prompt_len"].IsDefined());
  }
}

TEST(ConfigSweep, SweepChosenInThePrimaryConfig) {
  ConfigTree tree;
  tree.write("config.yaml", "defaults:\n  - sweep: lr\n  - _self_\nlr: 0.1\nseed: 0\n");
  tree.write("sweep/lr.yaml", "params:\n  lr: 0.1,0.01\n  seed: [1, 2]\n");
  EXPECT_EQ(expand_multirun(ComposeOptions{tree.dir()}, {}),
            (Trials{{"lr=0.1", "seed=[1, 2]"}, {"lr=0.01", "seed=[1, 2]"}}));
  tree.write("sweep/bad.yaml", "params:\n  lr: interval(0, 1)\n");
  std::string m = error_of([&] { expand_multirun(ComposeOptions{tree.dir()}, {"sweep=bad"}); });
  EXPECT_CONTAINS(m, "only discrete sweeps are supported");
  EXPECT_CONTAINS(m, tree.dir() + "/sweep/bad.yaml");
}

TEST(ConfigSweep, NonDiscreteSweepsAreRejected) {
  EXPECT_CONTAINS(error_of([] { expand({"trainer.lr=interval(0.001, 0.1)"}); }),
                  "interval() is a continuous sweep for optimising sweepers; only discrete sweeps are supported");
  EXPECT_CONTAINS(error_of([] { expand({"trainer.lr=tag(log, interval(0.001, 0.1))"}); }),
                  "only discrete sweeps are supported");
}

}  // namespace
}  // namespace ptlab::config
